#!/usr/bin/perl
# snapexit (DESIGN §5): a snapshot asked for (LOCKPROF_SIGNAL) just before main returns races
# the exit. The exit waits for a snapshot being written (a bounded while) and lets none start
# after its final profile, so each run leaves the snapshot set complete or absent, no
# temporary file, and its final profiles.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $runs = 15;
my ($whole, $partial, $tmp, $final) = (0, 0, 0, 0);
for my $i (1 .. $runs) {
    my $prefix = tmpdir() . "/race$i";
    my $r = run_under(prog => 'prog_snapexit', env => { LOCKPROF_OUT => $prefix,
                                                        LOCKPROF_SIGNAL => 'SIGUSR2' });
    is($r->{exit}, 0, "run $i: exit 0") or diag($r->{err});
    my @set = glob("$prefix.snapshot-*");
    if (@set == 3) { $whole++ } elsif (@set) { $partial++; diag("run $i: @set") }
    $tmp += scalar(my @t = glob("$prefix*.tmp.*"));
    $final++ if -s "$prefix.block.pb.gz" && -s "$prefix.mutex.pb.gz";
}
is($partial, 0, "no run left a snapshot set incomplete ($whole of $runs left one whole)");
is($tmp, 0, 'no run left a temporary file');
is($final, $runs, 'every run wrote its final profiles');
done_testing();
