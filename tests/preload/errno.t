#!/usr/bin/perl
# The errno rule (interpose/wait.h), for every family of interposed calls: a call returns what
# it returns without lockprof and leaves errno exactly as it would — the caller's errno after a
# success, the call's own after a failure — on the paths where lockprof does its work: waits
# that succeed, waits that time out, calls glibc refuses at once, calls that do not wait, and
# the wrappers that are not waits (close, dup2, close_range, pipe2, exec, sigaction, signal,
# dlclose). prog_errno sets errno to 4242 before each call and prints what it got; every call
# meant to wait is let go only once its thread sleeps in it, so each of those waits is in the
# block profile (and each release the waiters saw, in the mutex profile).
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $plain = run_under(prog => 'prog_errno', preload => 0);
is($plain->{exit}, 0, 'without the preload: exit 0') or diag($plain->{err});
my @checks = grep { /^check / } split /\n/, $plain->{out};
cmp_ok(scalar(@checks), '>=', 50, 'the program made its calls (' . scalar(@checks) . ' checks)');
like($plain->{out}, qr/^check mutex_lock_waited rc=0 errno=4242$/m, 'glibc: a success keeps errno');
like($plain->{out}, qr/^check sem_timedwait_timeout rc=-1 errno=110$/m,
     'glibc: a failure sets it (sem_timedwait: ETIMEDOUT)');

my %runs = (
    'rate 1, fraction 1' => {},
    'the default rates' => { LOCKPROF_BLOCK_RATE => undef, LOCKPROF_MUTEX_FRACTION => undef },
    'both off' => { LOCKPROF_BLOCK_RATE => 0, LOCKPROF_MUTEX_FRACTION => 0 },
);
for my $what (sort keys %runs) {
    my $r = run_under(prog => 'prog_errno', env => $runs{$what});
    same_as_plain($r, $plain, $what);
    next unless $what eq 'rate 1, fraction 1';
    # Each family's waits went through lockprof's wait path.
    my $b = read_profile($r->{block});
    for my $leaf (qw(pthread_mutex_lock pthread_mutex_timedlock mtx_lock mtx_timedlock
                     pthread_rwlock_rdlock pthread_rwlock_timedwrlock sem_wait sem_timedwait
                     pthread_cond_wait pthread_cond_timedwait cnd_timedwait pthread_join
                     pthread_timedjoin_np pthread_barrier_wait read readv write mq_receive
                     mq_timedreceive msgrcv)) {
        my ($c) = total($b, leaf => $leaf);
        cmp_ok($c, '>=', 1, "$what: the block profile has the wait in $leaf");
    }
    my $m = read_profile($r->{mutex});
    for my $leaf (qw(pthread_mutex_unlock mtx_unlock pthread_rwlock_unlock)) {
        my ($c) = total($m, leaf => $leaf);
        cmp_ok($c, '>=', 1, "$what: the mutex profile has the release in $leaf");
    }
}

done_testing();
