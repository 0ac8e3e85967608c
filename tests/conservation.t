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
done_testing();
