#!/usr/bin/perl
# Conservation (DESIGN §3.3): one mutex, no condition variables, rate 1 / fraction 1:
# Σ mutex delay <= Σ block delay, and >= 90 % of it (the rest is hand-off latency).
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $r = run_under(prog => 'prog_conservation');
is($r->{exit}, 0, 'exit 0');
# The main thread's joins of its workers are waits too, on no mutex: left out.
my (undef, $block, $nb) = total(read_profile($r->{block}), leaf => 'pthread_mutex_lock');
my (undef, $mutex) = total(read_profile($r->{mutex}));
cmp_ok($block, '>', 100e6, 'the program really contended (Σ block > 100 ms)');
cmp_ok($block, '<=', $r->{measure}{wait_total} * 1.05 + 1e6,
       'Σ block <= what the threads measured inside pthread_mutex_lock');
cmp_ok($mutex, '<=', $block, 'Σ mutex <= Σ block');
cmp_ok($mutex, '>=', 0.9 * $block, 'Σ mutex >= 90 % of Σ block')
    or diag(sprintf('mutex %.1f ms, block %.1f ms', $mutex / 1e6, $block / 1e6));

# At a mutex fraction of 10 one release in ten is recorded, weighted 10 (DESIGN §3.2: the draw
# is made one release early, charge.h). The same program at fraction 1 and at 10, block profile
# at rate 1 in both: Σ mutex / Σ block must agree. Each run has ~10,000 releases with waiters
# (4 threads x 2,500, holds up to 200 us), so ~1,000 are picked at 10: the weighted sum's relative
# sd is about sqrt(9 / 10,000 x (1 + CV^2)), under 4 % for charges' CV up to 1; 20 % is > 5 sd.
my %ratio;
for my $f (1, 10) {
    my $s = run_under(prog => 'prog_conservation', args => [2500, 200, 100], timeout => 120,
                      env => { LOCKPROF_MUTEX_FRACTION => $f });
    is($s->{exit}, 0, "fraction $f: exit 0");
    my (undef, $sb) = total(read_profile($s->{block}), leaf => 'pthread_mutex_lock');
    my ($sc, $sm) = total(read_profile($s->{mutex}));
    cmp_ok($sb, '>', 100e6, "fraction $f: the program really contended (Σ block > 100 ms)");
    $ratio{$f} = $sm / $sb;
    diag(sprintf('fraction %d: %d charges recorded, Σ mutex / Σ block %.3f', $f, $sc, $ratio{$f}));
}
my $rr = $ratio{10} / $ratio{1};
ok($rr > 0.8 && $rr < 1.2,
   sprintf('fraction 10 is unbiased: its Σ mutex / Σ block is %.3f x that at fraction 1', $rr));

done_testing();
