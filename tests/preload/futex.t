#!/usr/bin/perl
# Futex waits and wakes made through libc's syscall() (prog_futex): a futex mutex's convoy, a
# condition-style hand-off, a priority-inheritance lock and a wake from a signal handler are
# in the block profile at the waiting function (leaves futex_wait, futex_lock_pi) with the waits
# the program measured, and in the mutex profile at the waking function (futex_wake,
# futex_unlock_pi) with what it caused; waits that found the word changed (EAGAIN) are not
# waits, timeouts are (relative, absolute on either clock, and with garbage in the upper
# halves of the operation's and value's registers). Results and errno are those without
# lockprof. LOCKPROF_FUTEX=0 passes futex calls through; a bad value is one line on stderr.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

sub dump_samples {
    my ($p) = @_;
    return join("\n", map { "  $_->{count} $_->{delay} @{$_->{frames}}" } @{ $p->{samples} });
}

# ---- a futex mutex's convoy ---------------------------------------------------------------
my $plain = run_under(prog => 'prog_futex', args => ['convoy', 4, 50], preload => 0);
my $r = run_under(prog => 'prog_futex', args => ['convoy', 4, 50]);
is($plain->{exit}, 0, 'convoy without the preload: exit 0');
same_as_plain($r, $plain, 'convoy');
my $m = $r->{measure};
is($m->{wait_count}, 12, 'convoy: the program measured 12 sleeps');
my $b = read_profile($r->{block});
my ($bc, $bd) = total($b, leaf => 'futex_wait', top => 'fm_sleep');
is($bc, $m->{wait_count}, 'block: every sleep at fm_sleep, leaf futex_wait');
within($bd, $m->{wait_total}, $m->{wait_count}, 'block: Σ delay = the measured sleeps');
my ($ac) = total($b, skip_leaf => 'pthread_join');
is($ac, $bc, 'block: nothing else (but the main thread\'s joins)') or diag(dump_samples($b));
ok(grep({ $_ eq 'fm_lock' } map { @{ $_->{frames} } } @{ $b->{samples} }),
   'block: the caller\'s caller fm_lock is in the stack');
my $x = read_profile($r->{mutex});
my ($hc, $hd) = total($x, leaf => 'futex_wake', top => 'convoy_release');
is($hc, 4, 'mutex: 4 charges at convoy_release, leaf futex_wake');
within($hd, $m->{holder_owed}, 12, 'mutex: the holder is charged what its release caused');
my (undef, $all) = total($x);
cmp_ok($all, '<=', $bd, 'mutex: Σ charges <= Σ waits');

# The default rates: 50 ms waits are above the 100 us rate, recorded exactly.
my $d = run_under(prog => 'prog_futex', args => ['convoy', 4, 50],
                  env => { LOCKPROF_BLOCK_RATE => undef, LOCKPROF_MUTEX_FRACTION => undef });
is($d->{exit}, 0, 'default settings: exit 0');
my (undef, $dd) = total(read_profile($d->{block}), leaf => 'futex_wait', top => 'fm_sleep');
within($dd, $d->{measure}{wait_total}, 12, 'default settings: the sleeps recorded exactly');

# ---- a condition-style hand-off --------------------------------------------------------------
$plain = run_under(prog => 'prog_futex', args => ['handoff', 4, 40], preload => 0);
$r = run_under(prog => 'prog_futex', args => ['handoff', 4, 40]);
same_as_plain($r, $plain, 'hand-off');
$m = $r->{measure};
$b = read_profile($r->{block});
($bc, $bd) = total($b, leaf => 'futex_wait', top => 'cond_sleep');
is($bc, $m->{cond_wait_count}, 'hand-off: every sleep at cond_sleep (FUTEX_WAIT_BITSET)');
within($bd, $m->{cond_wait_total}, $m->{cond_wait_count}, 'hand-off: the measured sleeps');
$x = read_profile($r->{mutex});
($hc, $hd) = total($x, leaf => 'futex_wake', top => 'cond_notify');
is($hc, 4, 'hand-off: the notifier is charged at each of its 4 wakes');
within($hd, $m->{cond_owed}, 4, 'hand-off: with the time it ended');

# ---- calls that do not wait ------------------------------------------------------------------
$plain = run_under(prog => 'prog_futex', args => ['eagain', 200], preload => 0);
$r = run_under(prog => 'prog_futex', args => ['eagain', 200]);
same_as_plain($r, $plain, 'EAGAIN');
like($r->{out}, qr/^eagain: 200 of 200 calls returned -1 with EAGAIN, 0 otherwise$/m,
     'EAGAIN: -1 and errno EAGAIN, every time');
like($r->{out}, qr/^wake of nobody: 0, errno 1234$/m, 'a wake of nobody: 0, errno kept');
like($r->{out}, qr/^trylock_pi of a free word: 0, errno 1234, owner is me: 1$/m,
     'FUTEX_TRYLOCK_PI: taken, errno kept');
like($r->{out}, qr/^wait on NULL: -1, errno EFAULT$/m, 'a wait on NULL: EFAULT');
like($r->{out}, qr/^unknown operation: -1, errno ENOSYS$/m, 'an unknown operation: ENOSYS');
($bc) = total(read_profile($r->{block}));
is($bc, 0, 'EAGAIN: no wait recorded');
($hc) = total(read_profile($r->{mutex}));
is($hc, 0, 'EAGAIN: no charge recorded');

# ---- timeouts --------------------------------------------------------------------------------
$plain = run_under(prog => 'prog_futex', args => ['timeout', 30], preload => 0);
$r = run_under(prog => 'prog_futex', args => ['timeout', 30]);
same_as_plain($r, $plain, 'timeouts');
is(scalar(() = $r->{out} =~ /: -1, ETIMEDOUT$/mg), 4, 'timeouts: the four waits timed out');
$m = $r->{measure};
$b = read_profile($r->{block});
for my $fn (qw(timeout_relative timeout_bitset timeout_realtime timeout_garbage)) {
    my ($c) = total($b, leaf => 'futex_wait', top => $fn);
    is($c, 1, "timeouts: one wait at $fn");
}
(undef, $bd) = total($b, leaf => 'futex_wait');
within($bd, $m->{timeout_total}, 4, 'timeouts: Σ delay = the measured waits');

# ---- a priority-inheritance lock ----------------------------------------------------------
$plain = run_under(prog => 'prog_futex', args => ['pi', 50], preload => 0);
$r = run_under(prog => 'prog_futex', args => ['pi', 50]);
same_as_plain($r, $plain, 'PI');
like($r->{out}, qr/^lock_pi: 0, owner is the waiter: 1$/m, 'PI: FUTEX_LOCK_PI took the lock');
$m = $r->{measure};
($bc, $bd) = total(read_profile($r->{block}), leaf => 'futex_lock_pi', top => 'pi_lock');
is($bc, 1, 'PI: the wait at pi_lock, leaf futex_lock_pi');
within($bd, $m->{pi_wait}, 1, 'PI: the measured wait');
$x = read_profile($r->{mutex});
($hc, $hd) = total($x, leaf => 'futex_unlock_pi', top => 'pi_release');
is($hc, 1, 'PI: the owner\'s FUTEX_UNLOCK_PI is charged, at pi_release');
within($hd, $m->{pi_owed}, 1, 'PI: with the time it made the waiter wait');

# ---- a wake from a signal handler -------------------------------------------------------------
$plain = run_under(prog => 'prog_futex', args => ['signal', 50], preload => 0);
$r = run_under(prog => 'prog_futex', args => ['signal', 50]);
same_as_plain($r, $plain, 'signal');
$m = $r->{measure};
($bc, $bd) = total(read_profile($r->{block}), leaf => 'futex_wait', top => 'sig_wait');
is($bc, $m->{sig_count}, 'signal: the sleep at sig_wait');
within($bd, $m->{sig_wait}, 1, 'signal: the measured sleep');
$x = read_profile($r->{mutex});
($hc, $hd) = total($x, leaf => 'futex_wake', top => 'sig_wake');
is($hc, 1, 'signal: the wake made in the handler is charged, at sig_wake');
within($hd, $m->{sig_owed}, 1, 'signal: with the time it ended');
($hc) = total($x, leaf => 'futex_wake', frame => 'sig_helper');
is($hc, 1, 'signal: its stack goes on through the handler into the interrupted thread');

# ---- comments: counts by family, and "nothing contended" only when nothing was seen ---------
sub comment_like {
    my ($p, $re) = @_;
    return scalar grep { $_ =~ $re } @{ $p->{comments} };
}
$r = run_under(prog => 'prog_futex', args => ['eagain', 10]);
$b = read_profile($r->{block});
ok(comment_like($b, qr/^events recorded: 0 \(lockprof was active; nothing contended\)$/),
   'comments: no wait anywhere, "nothing contended"') or diag(join("\n", @{ $b->{comments} }));
# Waits of 1 ms at a block rate of 1000 s: recorded with probability 1e-6 each.
$r = run_under(prog => 'prog_futex', args => ['handoff', 20, 1],
               env => { LOCKPROF_BLOCK_RATE => 1000000000000, LOCKPROF_MUTEX_FRACTION => 0 });
for my $kind (qw(block mutex)) {
    my $p = read_profile($r->{$kind});
    ok(comment_like($p, qr/^events recorded: 0 \(waits were seen: see the counts by family\)$/),
       "comments: $kind: nothing recorded, but waits were seen")
        or diag(join("\n", @{ $p->{comments} }));
    ok(comment_like($p, qr/^waits seen by family since start, recorded or not: .*\bfutex 20\b/),
       "comments: $kind: the 20 futex waits seen are counted");
}
$r = run_under(prog => 'prog_futex', args => ['convoy', 2, 20]);
$b = read_profile($r->{block});
ok(comment_like($b, qr/^contentions by family: (thread \d+, )?futex $r->{measure}{wait_count}$/),
   'comments: the contentions recorded, by family') or diag(join("\n", @{ $b->{comments} }));

# ---- the threads view ---------------------------------------------------------------------
my $view = tmpdir() . '/futex.threads.txt';
$r = run_under(prog => 'prog_futex', args => ['threads', $view]);
is($r->{exit}, 0, 'threads view: exit 0');
my ($main) = $r->{out} =~ /^main (\d+)$/m;
my @w = $r->{out} =~ /^waiter (\d+) on (0x[0-9a-f]+)$/mg;
my $v = slurp($view) // '';
my ($so_far) = $v =~ /^thread $w[0] "prog_futex" blocked in futex_wait on $w[1] for (\d+\.\d+) s$/m;
ok(defined $so_far && $so_far >= 0.03,
   'threads view: a futex wait, with its word and the wait so far (>= the 30 ms it waited)')
    or diag($v);
like($v, qr/^thread $w[2] "prog_futex" blocked in futex_lock_pi on $w[3] for \d+\.\d+ s held by $main "prog_futex"$/m,
     'threads view: a PI futex wait, held by the owner its word names');

# ---- LOCKPROF_FUTEX ------------------------------------------------------------------------
$r = run_under(prog => 'prog_futex', args => ['convoy', 2, 20], env => { LOCKPROF_FUTEX => 0 });
is($r->{exit}, 0, 'LOCKPROF_FUTEX=0: exit 0');
is($r->{err}, '', 'LOCKPROF_FUTEX=0: nothing on stderr');
($bc) = total(read_profile($r->{block}), leaf => 'futex_wait');
($hc) = total(read_profile($r->{mutex}), leaf => 'futex_wake');
is($bc + $hc, 0, 'LOCKPROF_FUTEX=0: no futex wait or wake recorded');

$r = run_under(prog => 'prog_futex', args => ['convoy', 2, 20], env => { LOCKPROF_FUTEX => 2 });
is($r->{exit}, 0, 'LOCKPROF_FUTEX=2: exit 0');
is($r->{err}, "lockprof: LOCKPROF_FUTEX='2': expected 0 or 1; using 1\n",
   'LOCKPROF_FUTEX=2: one line on stderr');
($bc) = total(read_profile($r->{block}), leaf => 'futex_wait', top => 'fm_sleep');
is($bc, $r->{measure}{wait_count}, 'LOCKPROF_FUTEX=2: the default (on) is kept');
done_testing();
