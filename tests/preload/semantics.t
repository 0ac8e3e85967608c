#!/usr/bin/perl
# semantics.t — DESIGN §2 ("which calls are waits", "trying first changes glibc's behaviour")
# and §6 ("the host program is sacred"): under the preload, glibc's mutex and condition-variable
# semantics are unchanged — same return codes, same errno, same lock states — and the profiles
# count only what the contract says: an EDEADLK relock or an EINVAL call is not a wait, an EPERM
# or inner recursive unlock is not a release, an owner's death is charged to
# lockprof::owner_died.
#
# prog_semantics prints one "check NAME RESULT" line per case; the lines must be identical
# without the preload, under it at the default rates, at rate 1 / fraction 1, and with both off.
# "measure" lines are the program's own timings and are compared with the profiles instead.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $prog = 'prog_semantics';

sub checks_of {
    my ($r) = @_;
    return join '', grep { /^check / } split /^/m, $r->{out};
}

sub as_hash {
    my ($text) = @_;
    my %h;
    for (split /\n/, $text) {
        $h{$1} = $2 if /^check (\S+) ?(.*)$/;
    }
    return \%h;
}

# ---- what glibc 2.36 (Debian 12) does: the values the program must see ---------------------
# errno values: EPERM 1, EINVAL 22, EBUSY 16, EDEADLK 35, ETIMEDOUT 110, EOWNERDEAD 130,
# ENOTRECOVERABLE 131; C11: thrd_success 0, thrd_busy 1, thrd_error 2, thrd_timedout 4.
my %want = (
    normal_contended                 => 'trylock=16 lock=0 unlock=0 holder=0,0',
    recursive_owner_lock_twice       => 'rc=0,0',
    recursive_other_trylock          => 'rc=16',
    recursive_relock_contended       => 'rc=0,0',
    recursive_foreign_unlock         => 'rc=1 then_trylock=16',
    recursive_unlock_twice           => 'rc=0,0 waiter_acquired_before_last=0',
    recursive_waiter                 => 'lock=0 unlock=0',
    recursive_free_after             => 'trylock=0 unlock=0',
    errorcheck_lock                  => 'rc=0',
    errorcheck_relock                => 'rc=35',
    errorcheck_timedlock_relock      => 'rc=35',
    errorcheck_owner_trylock         => 'rc=16',
    errorcheck_other_trylock         => 'rc=16',
    errorcheck_foreign_unlock        => 'rc=1',
    errorcheck_owner_unlock          => 'rc=0',
    errorcheck_waiter                => 'lock=0 unlock=0',
    errorcheck_unlock_unlocked       => 'rc=1',
    robust_owner_died_while_waiting  => 'owner=0 trylock=16 lock=130 consistent=0 unlock=0 then_trylock=0,0',
    robust_dead_before_lock          => 'lock=130 consistent=0 unlock=0 then=0,0',
    robust_dead_before_trylock       => 'trylock=130 consistent=0 unlock=0',
    robust_dead_before_timedlock     => 'timedlock=130 consistent=0 unlock=0',
    robust_errorcheck_dead_before    => 'lock=130 relock_inconsistent=35,35 consistent=0 relock=35 unlock=0',
    # glibc 2.36: an inner unlock of a recursive robust mutex not yet made consistent fails.
    robust_recursive_dead_before     => 'lock=130 relock_inconsistent=0,131 consistent=0 relock=0 unlock=0,0',
    # glibc 2.36 quirk: a timedlock on a not-recoverable robust mutex waits for its deadline.
    robust_notrecoverable            => 'lock=130 unlock=0 relock=131 trylock=131 timedlock=110',
    robust_contended                 => 'trylock=16 lock=0 unlock=0 holder=0,0',
    timedlock_held                   => 'rc=110 waited_30ms=1',
    clocklock_held                   => 'rc=110 waited_30ms=1',
    timedlock_acquired               => 'rc=0 unlock=0',
    clocklock_acquired               => 'rc=0 unlock=0',
    cond_bad_args                    => 'lock=0 timedwait_nsec_neg=22 timedwait_nsec_1e9=22 clockwait_cputime=22 '
                                      . 'clockwait_12345=22 clockwait_nsec_neg=22 timedwait_GLIBC_2.2.5_nsec_neg=22 '
                                      . 'still_held=1 unlock=0',
    cnd_bad_args                     => 'init=0,0 lock=0 cnd_timedwait_nsec_neg=2 cnd_timedwait_nsec_1e9=2 still_held=1 unlock=0',
    cond_timedwait_timeout           => 'lock=0 rc=110 waited_30ms=1 trylock=16 unlock=0',
    cnd_timedwait_timeout            => 'lock=0 rc=4 trylock=1 unlock=0',
    mtx_contended                    => 'init=0 holder=0,0 trylock=1 timedlock=4 waited_30ms=1 lock=0 unlock=0',
    mtx_timedlock_acquired           => 'rc=0 unlock=0',
    mtx_recursive                    => 'init=0 lock=0,0 other_trylock=1 unlock=0,0 other_trylock_after=0',
    pi_contended                     => 'init=0,0,0 holder=0,0 trylock=16 timedlock=110 lock=0 unlock=0',
    pi_errorcheck                    => 'lock=0 relock=35 foreign_unlock=1 unlock=0 waiter=0,0',
    adaptive_contended               => 'trylock=16 lock=0 unlock=0 holder=0,0 timedlock=110',
    fork_child                       => 'contended=0,0 errorcheck=0,35,0,1 recursive=0,0,0,0 errno_changes=0',
    fork_child_status                => 'exited=1 code=0',
    bad_clock_race                   => 'all_einval=1 other=0',
    cond_foreign_mutex               => 'unlocked=1,1,1 lock=0 foreign=1,1,1 unlock=0 waiter=0,0',
    errno_unchanged                  => 'yes',
);
# Bad arguments. A bad clock id is refused (EINVAL) whether the lock is free or held, and a
# free lock stays free. A bad tv_nsec is refused on a held lock; on a free one glibc 2.36 takes
# the lock without looking at the timespec (rc 0, the lock now held: trylock EBUSY, or 0 for a
# recursive mutex's owner) — which is why a wrapper must not "try" first, and why the run
# without the preload is the reference.
for my $kind (qw(normal recursive errorcheck adaptive robust pi)) {
    my @cases = qw(clocklock_cputime clocklock_clock12345 clocklock_nsec_neg clocklock_nsec_1e9
                   clocklock_realtime_nsec_neg timedlock_nsec_neg timedlock_nsec_1e9);
    push @cases, qw(mtx_timedlock_nsec_neg mtx_timedlock_nsec_1e9) if $kind eq 'normal';
    for my $c (@cases) {
        my $einval = $c =~ /^mtx_/ ? 2 : 22;
        if ($c =~ /cputime|12345/) {
            $want{"bad_${c}_${kind}_free"} = "rc=$einval then_trylock=0 quick=1";
        } else {
            $want{"bad_${c}_${kind}_free"} = 'rc=0 then_trylock=' . ($kind eq 'recursive' ? 0 : 16) . ' quick=1';
        }
        $want{"bad_${c}_${kind}_held"} = "rc=$einval then_trylock=16 quick=1";
    }
}

# ---- the reference: no preload ---------------------------------------------------------------
my $ref = run_under(prog => $prog, preload => 0, timeout => 60);
is($ref->{exit}, 0, 'without the preload: exits 0') or diag("status $ref->{status}\n$ref->{err}");
my $ref_checks = checks_of($ref);
my $got = as_hash($ref_checks);
for my $name (sort keys %want) {
    is($got->{$name}, $want{$name}, "glibc: $name $want{$name}");
}
is_deeply([ sort grep { !exists $want{$_} } keys %$got ], [], 'glibc: no unexpected checks');

# ---- under the preload: identical ----------------------------------------------------------
my %runs = (
    'rate 1 / fraction 1' => {},
    'default rates'       => { LOCKPROF_BLOCK_RATE => undef, LOCKPROF_MUTEX_FRACTION => undef },
    'profiling off'       => { LOCKPROF_BLOCK_RATE => 0, LOCKPROF_MUTEX_FRACTION => 0 },
);
my %res;
for my $what (sort keys %runs) {
    my $r = $res{$what} = run_under(prog => $prog, env => $runs{$what}, timeout => 60);
    is($r->{exit}, 0, "$what: exits 0") or diag("status $r->{status}");
    is($r->{err}, '', "$what: nothing on stderr");
    my $c = checks_of($r);
    is($c, $ref_checks, "$what: every check line is identical to the run without the preload")
        or do {
            my $h = as_hash($c);
            for (sort keys %$got) {
                diag("  $_: without '$got->{$_}', with '" . ($h->{$_} // '(missing)') . "'")
                    if ($h->{$_} // '') ne $got->{$_};
            }
        };
}

# ---- the profiles, at rate 1 / fraction 1 ----------------------------------------------------
my $r = $res{'rate 1 / fraction 1'};
my $m = $r->{measure};
my $block = read_profile($r->{block});
my $mutex = read_profile($r->{mutex});
is($block->{status}, 0, 'block profile decodes') or diag($block->{raw});
is($mutex->{status}, 0, 'mutex profile decodes') or diag($mutex->{raw});

# A profile value against what the program measured: K (around the call: an upper bound) and
# K_min (minus the time the thread was running or runnable meanwhile: a lower bound), each with
# DESIGN §8's tolerance (5 % + 1 ms per event). On an idle machine the two nearly coincide and
# this is DESIGN §8's comparison; on a loaded one the program's own measurement of the spread
# widens it, where a fixed tolerance would fail at random.
sub bracketed {
    my ($got, $m, $key, $events, $name) = @_;
    my ($hi, $lo) = ($m->{$key}, $m->{"${key}_min"});
    return fail("$name: no measure $key") unless defined $hi && defined $lo;
    my $ok = ok($got >= $lo - (0.05 * $lo + 1e6 * $events) && $got <= $hi + (0.05 * $hi + 1e6 * $events), $name);
    diag(sprintf("  got %.3f ms, measured %.3f ms (at least %.3f ms asleep), %d events",
                 $got / 1e6, $hi / 1e6, $lo / 1e6, $events)) unless $ok;
    return $ok;
}

sub nothing_at {
    my ($p, $frame, $name, %f) = @_;
    # The program's pthread_join of its helper threads is a wait of its own: not counted here.
    my ($c, $d, $n) = total($p, frame => $frame, skip_leaf => 'pthread_join', %f);
    ok($n == 0, $name) or diag("  $n samples, count $c, delay $d ns at $frame");
}

# Recursive: the inner unlocks are not releases; the last unlock is charged the waiter's wait.
{
    my ($c, $d, $n) = total($mutex, leaf => 'pthread_mutex_unlock', frame => 'semantics_outer_unlock');
    is($c, 1, 'recursive: one charge at semantics_outer_unlock');
    bracketed($d, $m, 'recursive_owed', 1, 'recursive: the last unlock is charged the waiter\'s wait until it');
    nothing_at($mutex, 'semantics_inner_unlock', 'recursive: nothing charged at semantics_inner_unlock');
    nothing_at($mutex, 'semantics_recursive_foreign_unlock', 'recursive: an EPERM unlock is charged nothing');
    my ($bc, $bd) = total($block, leaf => 'pthread_mutex_lock', frame => 'semantics_recursive_waiter');
    is($bc, 1, 'recursive: the waiter\'s one wait is in the block profile');
    bracketed($bd, $m, 'recursive_wait', 1, 'recursive: ... with the delay it measured');
}

# Error-checking: EDEADLK relocks are not waits, EPERM unlocks are not releases.
{
    nothing_at($block, 'semantics_errorcheck_relock', 'errorcheck: EDEADLK relocks are not waits');
    nothing_at($mutex, 'semantics_errorcheck_relock', 'errorcheck: ... nor releases');
    nothing_at($mutex, 'semantics_errorcheck_foreign_unlock', 'errorcheck: EPERM unlocks (by a non-owner, of an unlocked mutex) are not releases');
    my ($c, $d) = total($mutex, leaf => 'pthread_mutex_unlock', frame => 'semantics_errorcheck_owner_unlock');
    is($c, 1, 'errorcheck: the owner\'s real unlock is one charge');
    bracketed($d, $m, 'errorcheck_owed', 1, 'errorcheck: ... of the waiter\'s wait');
    nothing_at($mutex, 'semantics_pi_foreign_unlock', 'pi errorcheck: an EPERM unlock is not a release');
    ($c, $d) = total($mutex, leaf => 'pthread_mutex_unlock', frame => 'semantics_pi_owner_unlock');
    is($c, 1, 'pi errorcheck: the owner\'s unlock is one charge');
    bracketed($d, $m, 'pi_owed', 1, 'pi errorcheck: ... of the whole wait, the EPERM unlock in its middle notwithstanding');
}

# Robust: the owner's death is charged to lockprof::owner_died; EOWNERDEAD at once and
# ENOTRECOVERABLE are not waits.
{
    my ($c, $d, $n) = total($mutex, leaf => 'lockprof::owner_died');
    ok($n >= 1, 'robust: the mutex profile has a lockprof::owner_died sample');
    is($c, 1, 'robust: ... one event');
    bracketed($d, $m, 'robust_wait', 1, 'robust: ... charged the wait the owner\'s death caused');
    my ($bc, $bd) = total($block, leaf => 'pthread_mutex_lock', frame => 'semantics_robust_waiter');
    is($bc, 1, 'robust: the EOWNERDEAD wait is a wait');
    bracketed($bd, $m, 'robust_wait', 1, 'robust: ... of the measured length');
    nothing_at($block, 'semantics_robust_dead_before', 'robust: EOWNERDEAD at once (owner dead before the call) is not a wait');
    nothing_at($block, 'semantics_robust_notrecoverable', 'robust: ENOTRECOVERABLE is not a wait',
               leaf => 'pthread_mutex_lock');
    nothing_at($block, 'semantics_robust_notrecoverable', 'robust: ... nor is a trylock',
               leaf => 'pthread_mutex_trylock');
}

# Timed waits that time out are waits, at their own leaf.
for ([ 'pthread_mutex_timedlock', 'semantics_timedlock_wait', 'timedlock_wait' ],
     [ 'pthread_mutex_clocklock', 'semantics_clocklock_wait', 'clocklock_wait' ],
     [ 'mtx_timedlock', 'semantics_mtx_timedlock_wait', 'mtx_timedlock_wait' ],
     [ 'pthread_cond_timedwait', 'semantics_cond_timeout', 'cond_timeout_wait' ]) {
    my ($leaf, $frame, $key) = @$_;
    my ($c, $d) = total($block, leaf => $leaf, frame => $frame);
    is($c, 1, "ETIMEDOUT: one $leaf wait at $frame");
    bracketed($d, $m, $key, 1, "ETIMEDOUT: ... of the measured length");
}

# Refused calls are neither waits nor releases.
nothing_at($block, 'semantics_bad_args', 'EINVAL lock calls (bad clock, bad tv_nsec) are not waits');
nothing_at($block, 'semantics_bad_clock_race', 'EINVAL lock calls on a busy lock are not waits',
           leaf => 'pthread_mutex_clocklock');
nothing_at($mutex, 'semantics_bad_args', 'EINVAL lock calls are not releases');
nothing_at($block, 'semantics_cond_bad_args', 'EINVAL condition waits are not waits');
for my $leaf (qw(pthread_cond_timedwait pthread_cond_clockwait cnd_timedwait)) {
    nothing_at($mutex, 'semantics_cond_bad_args', "EINVAL $leaf does not release its mutex", leaf => $leaf);
}

# EPERM condition waits (an error-checking mutex the caller does not own) release nothing: the
# owner's unlock is charged the whole of its waiter's wait.
nothing_at($block, 'semantics_cond_foreign_wait', 'EPERM condition waits are not waits');
nothing_at($mutex, 'semantics_cond_foreign_wait', 'EPERM condition waits are not releases');
{
    my ($c, $d) = total($mutex, leaf => 'pthread_mutex_unlock', frame => 'semantics_cond_owner_unlock');
    is($c, 1, 'cond EPERM: the owner\'s unlock is one charge');
    bracketed($d, $m, 'cond_owed', 1, 'cond EPERM: ... of the whole wait, the EPERM cond waits in its middle notwithstanding');
}

# At the default rate (10 µs) a 30 ms wait is always recorded, exactly; the refused calls
# still are not.
{
    my $d = $res{'default rates'};
    my $p = read_profile($d->{block});
    my ($c, $dl) = total($p, leaf => 'pthread_mutex_timedlock', frame => 'semantics_timedlock_wait');
    is($c, 1, 'default rates: the 30 ms timedlock wait is recorded');
    bracketed($dl, $d->{measure}, 'timedlock_wait', 1, 'default rates: ... exactly');
    nothing_at($p, 'semantics_errorcheck_relock', 'default rates: EDEADLK is not a wait');
    nothing_at($p, 'semantics_bad_args', 'default rates: EINVAL is not a wait');
}

done_testing();
