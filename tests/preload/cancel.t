#!/usr/bin/perl
# cancel.t — DESIGN §6: a thread cancelled inside pthread_cond_wait keeps lockprof's
# bookkeeping consistent.
#
# prog_cancel's victim enters pthread_cond_wait while two threads wait for its mutex (that
# release is charged at the victim's pthread_cond_wait stack even though the call never
# returns: cond.c records it in a cleanup that runs during the cancellation's unwinding). It is
# cancelled while main holds the mutex: glibc's re-acquire inside the cancelled call waits for
# main (charged to no one), two more threads queue behind it, and the victim's cleanup handler
# (pthread_cleanup_push) unlocks the mutex, which charges them at the cleanup function. A
# convoy on the same mutex afterwards is charged exactly: nothing was left behind.
#
# prog_cancel pending: cancels requested while cancellation is disabled. pthread_mutex_lock is
# not a cancellation point, and must not become one under the preload (libunwind's read in
# lockprof's unwinding did that: interpose/unwind.c disables cancellation around it);
# pthread_cond_wait releases its mutex before it acts on the cancel (glibc 2.36, strace:
# the waiter's futex wake comes first), so that release is charged too.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $plain = run_under(prog => 'prog_cancel', preload => 0);
is($plain->{exit}, 0, 'without the preload: exit 0');
for my $run (1 .. 2) {
    my $r = run_under(prog => 'prog_cancel');
    same_as_plain($r, $plain, "run $run");
    like($r->{out}, qr/^victim cancelled 1$/m, "run $run: the victim was cancelled");
    my $m = $r->{measure};
    my $b = read_profile($r->{block});
    my $x = read_profile($r->{mutex});

    # The cancelled wait itself.
    my ($c, $d) = total($x, leaf => 'pthread_cond_wait', top => 'victim_wait');
    is($c, 1, "run $run: mutex: the cancelled pthread_cond_wait's release is charged");
    within($d, $m->{condwait_owed}, 2, "run $run: mutex: with what the early waiters waited");
    ($c, $d) = total($b, leaf => 'pthread_cond_wait', top => 'victim_wait');
    is($c, 1, "run $run: block: the cancelled pthread_cond_wait is a wait");
    within($d, $m->{condwait_waited}, 1, "run $run: block: as long as the program measured");

    # Main's release: the late waiters only; the victim's re-acquire inside glibc is no one's.
    ($c, $d) = total($x, leaf => 'pthread_mutex_unlock', top => 'main_release_after_cancel');
    is($c, 1, "run $run: mutex: main's release is charged once");
    within($d, $m->{main_owed}, 2, "run $run: mutex: for the two late waiters only");

    # The cleanup handler's unlock.
    ($c, $d) = total($x, leaf => 'pthread_mutex_unlock', top => 'victim_cleanup');
    is($c, 1, "run $run: mutex: the cleanup handler's unlock is charged");
    within($d, $m->{cleanup_owed}, 2, "run $run: mutex: with the late waiters' wait since main's release");
    ok(grep({ $_ eq 'victim_wait' } map { @{ $_->{frames} } }
            grep { ($_->{frames}[1] // '') eq 'victim_cleanup' } @{ $x->{samples} }),
       "run $run: mutex: the cleanup's stack goes on through the cancelled function");

    # The convoy afterwards.
    ($c, $d) = total($x, leaf => 'pthread_mutex_unlock', top => 'convoy_release');
    is($c, 1, "run $run: mutex: the later convoy's release is charged once");
    within($d, $m->{convoy_owed}, 3, "run $run: mutex: exactly what the convoy's waiters waited");

    for my $g (qw(early late convoy)) {
        ($c, $d) = total($b, leaf => 'pthread_mutex_lock', frame => "${g}_waiter");
        is($c, $m->{"${g}_wait_count"}, "run $run: block: the $g waiters' waits are counted");
        within($d, $m->{"${g}_wait_total"}, $c, "run $run: block: the $g waiters' measured delay");
    }
}
my $pp = run_under(prog => 'prog_cancel', args => ['pending'], preload => 0);
my $p = run_under(prog => 'prog_cancel', args => ['pending']);
is($pp->{exit}, 0, 'pending, without the preload: exit 0');
same_as_plain($p, $pp, 'pending');
like($p->{out}, qr/^pending_lock returned 1$/m,
     'pending: pthread_mutex_lock with a cancel pending returns (not a cancellation point)');
like($p->{out}, qr/^pending_cond cancelled 1$/m, 'pending: pthread_cond_wait acts on it');
my $pm = $p->{measure};
my ($c, $d) = total(read_profile($p->{block}), leaf => 'pthread_mutex_lock', top => 'pending_lock_fn');
is($c, 1, 'pending: block: the lock\'s wait is recorded once');
within($d, $pm->{pending_lock_waited}, 1, 'pending: block: as long as it waited');
($c, $d) = total(read_profile($p->{mutex}), leaf => 'pthread_cond_wait', top => 'pending_cond_fn');
is($c, 1, 'pending: mutex: the release of a pthread_cond_wait cancelled at once is charged');
within($d, $pm->{pending_cond_owed}, 1, 'pending: mutex: with the waiter\'s wait up to the call');
done_testing();
