#!/usr/bin/perl
# Joins and barriers: a join that waits for a thread to finish is in the block
# profile at its caller with the wait the program measured (pthread_join, pthread_timedjoin_np
# timing out, pthread_clockjoin_np, thrd_join); a join of a thread that has already exited, a
# self-join (EDEADLK, thrd_error) and the last arrival at a barrier are not waits; the barrier's
# earlier arrivals are. Results are unchanged; nobody is charged.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $plain = run_under(prog => 'prog_join', preload => 0, timeout => 60);
my $r = run_under(prog => 'prog_join', timeout => 60);
is($plain->{exit}, 0, 'without the preload: exit 0');
same_as_plain($r, $plain, 'under the preload');
(my $ro = $r->{out}) =~ s/^measure .*\n//mg;
like($ro, qr/^pthread_join: 0, returned 50, errno kept$/m,
     'pthread_join: 0 and the thread\'s result; errno as it was');
like($ro, qr/^pthread_timedjoin_np: ETIMEDOUT$/m, 'pthread_timedjoin_np timed out');
like($ro, qr/^pthread_clockjoin_np: 0, returned 50$/m, 'pthread_clockjoin_np: 0');
like($ro, qr/^thrd_join: thrd_success, result 7$/m, 'thrd_join: thrd_success and the result');
like($ro, qr/^joined 3 finished threads: 0$/m, 'finished threads joined');
like($ro, qr/^barrier: 1 serial thread, arrival 3 of 3$/m, 'the barrier\'s serial thread is its last arrival');
like($ro, qr/^self pthread_join: EDEADLK$/m, 'self-join: EDEADLK');
like($ro, qr/^self thrd_join: thrd_error$/m, 'C11 self-join: thrd_error');

my $m = $r->{measure};
my $b = read_profile($r->{block});
for (['pthread_join', 'join_wait', 'join_total'],
     ['pthread_timedjoin_np', 'join_timeout', 'timedjoin_total'],
     ['pthread_clockjoin_np', 'join_clock', 'clockjoin_total'],
     ['thrd_join', 'join_c11', 'thrd_join_total']) {
    my ($leaf, $fn, $key) = @$_;
    my ($c, $d) = total($b, leaf => $leaf, top => $fn);
    is($c, 1, "$leaf at $fn: one wait");
    within($d, $m->{$key}, 1, "$leaf at $fn: the measured wait");
}
my ($c, $d) = total($b, leaf => 'pthread_barrier_wait', top => 'barrier_early');
is($c, 2, 'pthread_barrier_wait: the two earlier arrivals waited');
within($d, $m->{barrier_early_total}, 2, 'pthread_barrier_wait: their measured waits');
for my $fn (qw(barrier_last join_finished join_self)) {
    my ($n) = total($b, frame => $fn);
    is($n, 0, "nothing recorded at $fn");
}
my ($x) = total(read_profile($r->{mutex}));
is($x, 0, 'mutex profile: nobody is charged');
done_testing();
