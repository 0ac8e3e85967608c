#!/usr/bin/perl
# skew.t — DESIGN §3.4: lockprof never lengthens a critical section. Under a
# library whose unwinder takes 2 ms (make variants: build/variants/slowunwind), convoys of 6
# waiters, 20 ms holds, 2 rounds (prog_skew): every release and every wait is unwound (rate 1,
# fraction 1), and yet
#   - the hand-offs (holder calls unlock -> waiter's lock returns) stay well under 2 ms: the
#     releaser unwinds after its real unlock, the waiter before it blocks, never inside the
#     critical section — otherwise each hand-off would take >= 2 ms and the k-th waiter's wait
#     would grow by 2 ms x k;
#   - the block profile holds the waits the program measured, and the mutex profile charges the
#     holders what they caused (no 2 ms x waiters on top).
# The slow unwinder is shown to run on both sides: releases take >= 2 ms (after the unlock), and
# a waiter whose holder lets go 0.5 ms after it arrived still spends >= 2 ms in its lock call
# (unwinding before it blocks; the holder is charged only until its release).
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $lib = build_dir() . '/variants/slowunwind/liblockprof.so';
$lib = Cwd::abs_path($lib) if -e $lib;
-e $lib or BAIL_OUT("$lib is missing: make variants");

my ($ROUNDS, $N, $HOLD) = (2, 6, 20);
my $r = run_under(prog => 'prog_skew', args => [$ROUNDS, $N, $HOLD], preload => $lib,
                  timeout => 60);
is($r->{exit}, 0, 'prog_skew exits 0 under the slow-unwinder library');
is($r->{err}, '', 'and says nothing on stderr');
my $m = $r->{measure};
my $n = $ROUNDS * $N;
is($m->{wait_count}, $n, "the program measured $n waits in the convoys");

cmp_ok($m->{unlock_median_us}, '>=', 2000,
       'release side: the 2 ms unwinder ran in every release (median release call, us)');
cmp_ok($m->{short_wait}, '>=', 2e6,
       'acquire side: the 2 ms unwinder ran before blocking (lock call of a 0.5 ms hold, ns)');
cmp_ok($m->{excess_median_us}, '<', 1000,
       "hand-offs do not carry the unwinder's 2 ms: median over $n, in us (max: "
       . "$m->{excess_max_us})");

my $b = read_profile($r->{block});
my ($bc, $bd) = total($b, leaf => 'pthread_mutex_lock', top => 'skew_waiter_lock');
is($bc, $n + 1, 'block: every wait at skew_waiter_lock (the convoys and the short hold)');
within($bd, $m->{wait_total} + $m->{short_wait}, $n + 1,
       'block: their delay = the waits the program measured');

my $x = read_profile($r->{mutex});
my ($hc, $hd) = total($x, leaf => 'pthread_mutex_unlock', top => 'skew_holder_unlock');
is($hc, $ROUNDS * ($N + 1) - $ROUNDS + 1,
   'mutex: one charge per release that had waiters (the last of each round had none)')
    or diag(join("\n", map { "  $_->{count} $_->{delay} @{$_->{frames}}" } @{ $x->{samples} }));
within($hd, $m->{owed} + $m->{short_owed}, $n + 1,
       'mutex: the holders are charged what they caused, no 2 ms x waiters on top');

# Condition variables: pthread_cond_wait is entered holding its mutex and returns holding it,
# so it unwinds only a wait (or a charge) that is recorded. A ping-pong of short waits (two
# threads on one CPU, bench_io condpp) at a block rate of 1 s picks about none of them and
# must not pay the 2 ms unwinder per wait (nearly 4 ms per round trip); at rate 1, every wait
# is recorded and unwound, which shows the slow unwinder is in effect.
my %cpp;
for my $rate (1000000000, 1) {
    my $c = run_under(prog => 'bench_io', args => ['condpp', 50], preload => $lib, timeout => 60,
                      env => { LOCKPROF_BLOCK_RATE => $rate, LOCKPROF_MUTEX_FRACTION => 0 });
    is($c->{exit}, 0, "cond ping-pong at rate $rate: exit 0");
    ($cpp{$rate}) = $c->{out} =~ /^ns_per_op (\S+)/m;
    ok(defined $cpp{$rate}, "cond ping-pong at rate $rate: timed") or diag($c->{out});
    $cpp{"b$rate"} = read_profile($c->{block});
}
cmp_ok($cpp{1000000000}, '<', 1e6,
       'cond waits that are not recorded are not unwound (ns per round trip, rate 1 s)');
# At rate 1 each wait is recorded and unwound after it returns, holding the mutex the other
# thread needs next: the unwinds run one after another, >= 2 ms each. (Not every iteration
# waits — a thread that finds its turn already there does not — so the waits are counted from
# the profile.)
my ($cc) = total($cpp{b1}, leaf => 'pthread_cond_wait');
cmp_ok($cc, '>=', 50, 'at rate 1 the block profile holds the waits (pthread_cond_wait)');
cmp_ok($cpp{1} * 50, '>=', $cc * 2e6,
       "and each of the $cc was unwound by the 2 ms unwinder (ns in all, rate 1)");

done_testing();
