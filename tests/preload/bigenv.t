#!/usr/bin/perl
# bigenv (DESIGN §5): a fork child that execs with an environment too large for the wrappers'
# stack copy (400 variables) and without LOCKPROF_ORIGIN still passes the tree's origin on, so
# the new image does not take itself for the first process and write over its profile.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $script = <<'PERL';
my %env = map { ("LP_FILLER_$_" => "x" x 20) } 1 .. 400;
$env{LD_PRELOAD} = $ENV{LD_PRELOAD};
$env{LOCKPROF_OUT} = $ENV{LOCKPROF_OUT};
my $pid = fork();
if ($pid == 0) { %ENV = %env; exec('/usr/bin/printenv', 'LOCKPROF_ORIGIN') or exit 127 }
waitpid($pid, 0);
print "origin $$\n";
exit($? >> 8);
PERL
my $r = run_under(prog => '/usr/bin/perl', args => ['-e', $script]);
is($r->{exit}, 0, 'exit 0 (printenv found LOCKPROF_ORIGIN)') or diag($r->{err});
my ($origin) = $r->{out} =~ /^origin (\d+)$/m;
my @printed = $r->{out} =~ /^(\d+)$/mg;
is_deeply(\@printed, [$origin], 'the exec\'ed child was told the tree\'s origin, the parent')
    or diag($r->{out});
done_testing();
