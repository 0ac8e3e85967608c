#!/usr/bin/perl
# Cancellation points: a thread cancelled while blocked in sem_wait, sem_timedwait
# or pthread_join runs its cleanup handler with lockprof out of the way: the handler's unlock
# of a mutex two threads wait for is charged to it, with what they waited; the cancelled call
# itself leaves nothing behind and is not recorded (it never returns); a later convoy on the
# mutex is charged exactly. pthread_barrier_wait is no cancellation point, under the preload
# too: the victim returns from it and is cancelled at its next pthread_testcancel. Nothing
# hangs (run_under's timeout), and the output is the same as without the preload.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $plain = run_under(prog => 'prog_cancel_points', preload => 0, timeout => 60);
is($plain->{exit}, 0, 'without the preload: exit 0');
for my $run (1 .. 2) {
    my $r = run_under(prog => 'prog_cancel_points', timeout => 60);
    same_as_plain($r, $plain, "run $run (nothing hung)");
    like($r->{out}, qr/^$_: victim cancelled$/m, "run $run: $_: the victim was cancelled")
        for qw(sem_wait sem_timedwait pthread_join barrier);
    like($r->{out}, qr/^pthread_join: the target joined after the cancelled join: 0 42$/m,
         "run $run: the cancelled join's target can be joined again");
    like($r->{out}, qr/^barrier: still blocked after the cancel 1$/m,
         "run $run: barrier: still blocked after the cancel");
    like($r->{out}, qr/^barrier: returned from the barrier 1$/m,
         "run $run: barrier: returned from it, cancelled later");
    my $m = $r->{measure};
    my $b = read_profile($r->{block});
    my $x = read_profile($r->{mutex});

    for (['sem_wait', 'victim_sem_wait'], ['sem_timedwait', 'victim_sem_timedwait'],
         ['pthread_join', 'victim_join'], ['barrier', 'victim_barrier']) {
        my ($k, $fn) = @$_;
        my ($c, $d) = total($x, leaf => 'pthread_mutex_unlock', top => 'cancel_cleanup_unlock',
                            frame => $fn);
        is($c, 1, "run $run: $k: the cleanup handler's unlock is charged once");
        within($d, $m->{"${k}_owed"}, 2, "run $run: $k: with what the two waiters waited");
    }
    for (['sem_wait', 'victim_sem_wait'], ['sem_timedwait', 'victim_sem_timedwait'],
         ['pthread_join', 'victim_join']) {
        my ($leaf, $fn) = @$_;
        my ($c) = total($b, leaf => $leaf, frame => $fn);
        is($c, 0, "run $run: block: the cancelled $leaf is not recorded");
    }
    my ($c, $d) = total($b, leaf => 'pthread_barrier_wait', frame => 'victim_barrier');
    is($c, 1, "run $run: block: the barrier victim's wait (the call returned)");
    within($d, $m->{barrier_victim_wait}, 1, "run $run: block: as long as it measured");

    ($c, $d) = total($b, leaf => 'pthread_mutex_lock', top => 'cancel_waiter_fn');
    is($c, 10, "run $run: block: the ten waits for the mutex");
    my $want = 0;
    $want += $m->{"${_}_wait_total"} for qw(sem_wait sem_timedwait pthread_join barrier convoy);
    within($d, $want, 10, "run $run: block: the waiters' measured delay");

    ($c, $d) = total($x, leaf => 'pthread_mutex_unlock', top => 'convoy_release_fn');
    is($c, 1, "run $run: mutex: the later convoy's release is charged once");
    within($d, $m->{convoy_owed}, 2, "run $run: mutex: exactly what its waiters waited");
    my (undef, $all) = total($x);
    cmp_ok($all, '<=', $d + $want, "run $run: mutex: Σ charges <= Σ waits");
}
done_testing();
