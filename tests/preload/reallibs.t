#!/usr/bin/perl
# Real libraries from Debian that block through libc's syscall() rather than pthread: Rust's
# std (Mutex, Condvar, mpsc; Debian's rustc), GLib (GMutex, GCond), libstdc++'s C++20 waits
# (atomic<int>::wait/notify_all, latch, counting_semaphore) and absl::Mutex. Each program
# measures its own waits around the blocking calls (real_*.rs/.c/.cc); the block profile holds
# them at the caller's function (names mangled as the binaries have them: matched by pattern),
# within 5 % + 1 ms per event, and the mutex profile charges the function whose wake ended
# them: the holder's unlock for locks, the notifier for condition-style waits. absl parks each
# waiter on a word of its own: its charges still add up to the waits. A program whose
# toolchain or library is missing is skipped, with the package to install (.ci/run installs
# them all).
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my ($ROUNDS, $HOLD) = (4, 40);

# The block and mutex totals at a frame matching $fn (leaves futex_wait / futex_wake).
sub waits_at { my ($r, $fn) = @_; return total(read_profile($r->{block}), leaf => 'futex_wait', frame_like => $fn) }
sub charges_at { my ($r, $fn) = @_; return total(read_profile($r->{mutex}), leaf => 'futex_wake', frame_like => $fn) }

# Runs one program with and without the preload; undef (and a skip) when it was not built.
sub run_real {
    my ($prog, $package) = @_;
    unless (-x prog_path($prog)) {
        SKIP: { skip("$prog was not built (install $package)", 1) }
        return undef;
    }
    my $plain = run_under(prog => $prog, args => [$ROUNDS, $HOLD], preload => 0);
    is($plain->{exit}, 0, "$prog without the preload: exit 0") or diag($plain->{err});
    my $r = run_under(prog => $prog, args => [$ROUNDS, $HOLD]);
    same_as_plain($r, $plain, $prog);
    return $r;
}

# ---- Rust -----------------------------------------------------------------------------------
if (my $r = run_real('real_rust', 'rustc')) {
    my $m = $r->{measure};
    my ($c, $d) = waits_at($r, qr/real_rust\d+convoy_waiter_wait/);
    cmp_ok($c, '>=', 3 * $ROUNDS, 'Rust Mutex: every waiter\'s wait at convoy_waiter_wait');
    within($d, $m->{mutex_wait_total}, $m->{mutex_wait_count}, 'Rust Mutex: the measured waits');
    ok(scalar(total(read_profile($r->{block}), frame_like => qr/Mutex14lock_contended/)),
       'Rust Mutex: the stack names std\'s lock_contended');
    (undef, $d) = charges_at($r, qr/real_rust\d+convoy_release/);
    within($d, $m->{mutex_owed}, 3 * $ROUNDS, 'Rust Mutex: the holder\'s unlock is charged what it caused');

    (undef, $d) = waits_at($r, qr/real_rust\d+cond_waiter_wait/);
    within($d, $m->{cond_wait_total}, $ROUNDS, 'Rust Condvar: the measured waits at cond_waiter_wait');
    (undef, $d) = charges_at($r, qr/real_rust\d+cond_notify/);
    within($d, $m->{cond_owed}, $ROUNDS, 'Rust Condvar: notify_one is charged the wait it ended');

    (undef, $d) = waits_at($r, qr/real_rust\d+chan_recv/);
    within($d, $m->{chan_wait_total}, $ROUNDS, 'Rust mpsc: the measured waits at chan_recv');
    (undef, $d) = charges_at($r, qr/real_rust\d+chan_send/);
    within($d, $m->{chan_owed}, $ROUNDS, 'Rust mpsc: send is charged the wait it ended');
}

# ---- GLib -----------------------------------------------------------------------------------
if (my $r = run_real('real_glib', 'libglib2.0-dev')) {
    my $m = $r->{measure};
    my ($c, $d) = waits_at($r, qr/^gmutex_waiter_wait$/);
    cmp_ok($c, '>=', 3 * $ROUNDS, 'GMutex: every waiter\'s wait at gmutex_waiter_wait');
    within($d, $m->{gmutex_wait_total}, $m->{gmutex_wait_count}, 'GMutex: the measured waits');
    (undef, $d) = charges_at($r, qr/^gmutex_release$/);
    within($d, $m->{gmutex_owed}, 3 * $ROUNDS, 'GMutex: g_mutex_unlock is charged what it caused');
    (undef, $d) = waits_at($r, qr/^gcond_waiter_wait$/);
    within($d, $m->{gcond_wait_total}, $ROUNDS, 'GCond: the measured waits at gcond_waiter_wait');
    ok(scalar(total(read_profile($r->{block}), frame => 'g_cond_wait')),
       'GCond: the stack names g_cond_wait');
    (undef, $d) = charges_at($r, qr/^gcond_notify$/);
    within($d, $m->{gcond_owed}, $ROUNDS, 'GCond: g_cond_signal is charged the wait it ended');
}

# ---- C++20 ----------------------------------------------------------------------------------
if (my $r = run_real('real_cxx20', 'g++')) {
    my $m = $r->{measure};
    my (undef, $d) = waits_at($r, qr/atomic_waiter_wait/);
    within($d, $m->{atomic_wait_total}, $ROUNDS, 'atomic<int>::wait: the measured waits');
    (undef, $d) = charges_at($r, qr/_GLOBAL__N_\d+atomic_notifyEi/);
    within($d, $m->{atomic_owed}, $ROUNDS, 'atomic<int>::notify_all is charged the wait it ended');
    ok(scalar(total(read_profile($r->{block}), frame_like => qr/__platform_wait/)),
       'atomic<int>::wait: the stack names libstdc++\'s __platform_wait');
    (undef, $d) = waits_at($r, qr/latch_arrive/);
    within($d, $m->{latch_wait_total}, 2, 'latch: the two arrivals\' measured waits');
    (undef, $d) = charges_at($r, qr/latch_count_down/);
    within($d, $m->{latch_wait_total}, 2,
           'latch: the last count_down is charged both waits (on libstdc++\'s proxy word)');
    (undef, $d) = waits_at($r, qr/sem_acquire/);
    within($d, $m->{sem_wait_total}, $ROUNDS, 'counting_semaphore: the measured waits');
    (undef, $d) = charges_at($r, qr/sem_release/);
    within($d, $m->{sem_owed}, $ROUNDS, 'counting_semaphore: release is charged the wait it ended');
}

# ---- absl -----------------------------------------------------------------------------------
if (my $r = run_real('real_absl', 'libabsl-dev')) {
    my $m = $r->{measure};
    my ($c, $d) = waits_at($r, qr/absl_waiter_wait/);
    cmp_ok($c, '>=', 3 * $ROUNDS, 'absl::Mutex: every waiter\'s wait at absl_waiter_wait');
    within($d, $m->{absl_wait_total}, $m->{absl_wait_count}, 'absl::Mutex: the measured waits');
    # Each waiter sleeps on a word of its own: a wake is charged the whole wait of the waiter it
    # woke, the holder's for the first, each woken waiter's unlock for the next.
    my (undef, $all) = total(read_profile($r->{mutex}), leaf => 'futex_wake');
    within($all, $m->{absl_owed} + ($m->{absl_wait_total} - $m->{absl_owed}), 3 * $ROUNDS,
           'absl::Mutex: Σ charges = Σ waits');
    ($c) = charges_at($r, qr/absl_release/);
    is($c, $ROUNDS, 'absl::Mutex: the holder\'s Unlock is charged once a round');
}
done_testing();
