#!/usr/bin/perl
# Interop (DESIGN §8): go tool pprof (Debian's golang-go) reads both profiles with -raw, -top,
# -contentions, -total_delay, -mean_delay; -top names the program's static functions, libc's
# start_thread and the leaf; -lines shows the source line of the waiting call (-g program).
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $go = `sh -c "command -v go"`;
chomp $go;
ok($go ne '', 'go is installed (golang-go; .ci/run installs it)') or BAIL_OUT('no go');
$ENV{HOME} = tmpdir();                 # pprof may write ~/pprof; keep it in the test's dir
$ENV{PPROF_BINARY_PATH} = build_dir() . '/tests';

sub pprof {
    my @args = @_;
    my $out = `go tool pprof @args 2>&1`;
    return ($? >> 8, $out);
}

my $r = run_under(prog => 'prog_convoy', args => [3, 40]);
is($r->{exit}, 0, 'convoy ran');
my $m = $r->{measure};

for my $kind (qw(block mutex)) {
    my ($st, $out) = pprof('-raw', $r->{$kind});
    is($st, 0, "$kind: -raw exits 0");
    like($out, qr{contentions/count delay/nanoseconds}, "$kind: -raw shows the Go sample types");
    like($out, qr{PeriodType: contentions count}, "$kind: period type contentions/count");
}

my ($st, $top) = pprof('-top', $r->{block});
is($st, 0, 'block -top exits 0');
like($top, qr/Type: delay/, 'block -top shows delay by default (no default_sample_type)');
like($top, qr/\bpthread_mutex_lock$/m, 'block -top names the leaf');
like($top, qr/\bconvoy_waiter_wait$/m, 'block -top names the static waiting function');
like($top, qr/\bstart_thread$/m, 'block -top names libc\'s start_thread');
like($top, qr/lockprof .* block profile/, 'block -top shows lockprof\'s comments');

($st, $top) = pprof('-top', $r->{mutex});
like($top, qr/\bpthread_mutex_unlock$/m, 'mutex -top names the leaf');
like($top, qr/\bconvoy_holder_release$/m, 'mutex -top names the holder\'s function');

# The main thread's joins of its threads are waits too: -ignore leaves them out.
($st, my $cont) = pprof('-top', '-contentions', '-ignore=pthread_join', $r->{block});
is($st, 0, '-contentions exits 0');
# (The total still counts the joins: "of N total".)
like($cont, qr/Showing nodes accounting for 9, [\d.]+% of \d+ total/, '-contentions: 9 waits in all');

($st, my $tot) = pprof('-top', '-total_delay', '-ignore=pthread_join', $r->{block});
my ($ms) = $tot =~ /accounting for ([\d.]+)(?:ms|s),/;
my $unit = $tot =~ /accounting for [\d.]+s,/ ? 1e9 : 1e6;
ok(defined $ms, '-total_delay prints a total');
within(($ms // 0) * $unit, $m->{wait_total}, 9, '-total_delay: the measured waits');

($st, my $mean) = pprof('-top', '-mean_delay', $r->{block});
is($st, 0, '-mean_delay exits 0');
like($mean, qr/Type: mean_delay/, '-mean_delay: mean delay per contention');

# -lines: the source line of the waiting call, from the -g program's DWARF.
open my $src, '<', 'tests/preload/prog_convoy.c' or die;
my ($line, $n) = (0, 0);
while (<$src>) { $n++; $line = $n if /pthread_mutex_lock\(&lock\);/ && $line == 0 && $n > 40 }
close $src;
($st, my $lines) = pprof('-top', '-lines', $r->{block});
like($lines, qr/convoy_waiter_wait \S*prog_convoy\.c:$line\b/,
     "-lines: convoy_waiter_wait at prog_convoy.c:$line, the pthread_mutex_lock call");
done_testing();
