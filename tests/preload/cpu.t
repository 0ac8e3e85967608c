#!/usr/bin/perl
# The CPU profile (DESIGN §3.6): LOCKPROF_CPU_HZ, per-thread CPU-time timers, PREFIX.cpu.pb.gz in
# Go's CPU format, beside the block and mutex profiles of the same run.
#
# The tolerance of the CPU times: a thread's timer fires after every period of that thread's own
# CPU time — not at random — with its first expiry uniform in (0, period]: a thread that ran T
# gets T / period samples to within one, plus at most a tick's worth of periods (CONFIG_HZ: 4
# ms at 250 Hz) still waiting for the next signal when it ends. At 100 Hz a function that burns
# 0.5 s on a thread of its own is 50 samples ± 2, 4 %; 10 % holds with room. (A Poisson sampler
# would be off by 1/sqrt(n), 14 % at n = 50: the timers are exact where that would not be.)
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;
use IO::Compress::Gzip ();
use IO::Uncompress::Gunzip ();
use Time::HiRes ();

my $period = 10_000_000; # at 100 Hz
my $aside = 'lockprof: the program handles SIGPROF itself; the CPU profile \(LOCKPROF_CPU_HZ\)';

sub cpu_profile { my ($r) = @_; return read_profile("$r->{prefix}.cpu.pb.gz") }

sub comment {
    my ($p, $re) = @_;
    my ($c) = grep { /$re/ } @{ $p->{comments} };
    return $c // '';
}

# Within 10 % of what the program measured.
sub within10 {
    my ($got, $want, $name) = @_;
    my $ok = ok($want > 0 && abs($got - $want) <= 0.10 * $want, $name);
    diag(sprintf('  got %.1f ms, measured %.1f ms', $got / 1e6, $want / 1e6)) unless $ok;
    return $ok;
}

# ---- two functions burning CPU 3:1 on two threads, at 100 Hz --------------------------------
{
    my $t0 = Time::HiRes::time();
    my $r = run_under(prog => 'prog_cpu', args => ['burn', 500], env => { LOCKPROF_CPU_HZ => 100 });
    my $t1 = Time::HiRes::time();
    my $m = $r->{measure};
    is($r->{exit}, 0, 'burn: exit 0');
    is($r->{err}, '', 'burn: nothing on stderr');
    ok(-s "$r->{prefix}.cpu.pb.gz", 'burn: PREFIX.cpu.pb.gz written');
    ok(-s $r->{block} && -s $r->{mutex}, 'burn: the block and mutex profiles too');
    my $p = cpu_profile($r);
    is($p->{status}, 0, 'burn: the CPU profile decodes');
    is($p->{sample_type}, 'samples/count cpu/nanoseconds',
       'sample types samples/count, cpu/nanoseconds');
    is($p->{period_type}, 'cpu/nanoseconds', 'period type cpu/nanoseconds');
    is($p->{period}, $period, 'period 1e9 / 100');
    my $span = ($t1 - $t0) * 1e9;
    ok($p->{duration_nanos} >= 0.99 * $m->{a} && $p->{duration_nanos} <= $span,
       'duration_nanos: the profiled span (at least the longest thread\'s CPU time, at most '
       . 'the run)') or diag("duration $p->{duration_nanos}, a $m->{a}, run $span");
    ok($p->{time_nanos} >= $t0 * 1e9 - 1e9 && $p->{time_nanos} <= $t1 * 1e9 + 1e9,
       'time_nanos: when it was written');
    my @bad = grep { $_->{delay} != $_->{count} * $period } @{ $p->{samples} };
    is(scalar(@bad), 0, 'every sample: cpu = samples x period');
    my (undef, $a_ns) = total($p, frame => 'cpu_burn_a');
    my (undef, $b_ns) = total($p, frame => 'cpu_burn_b');
    my (undef, $all) = total($p);
    within10($a_ns, $m->{a}, 'cpu_burn_a: its CPU time within 10 % of what its thread measured');
    within10($b_ns, $m->{b}, 'cpu_burn_b: its CPU time within 10 % of what its thread measured');
    within10($all, $m->{process}, 'the total within 10 % of the process\'s CPU time');
    like(comment($p, qr/^cpu sampling:/), qr/^cpu sampling: 100 Hz .*SIGPROF/,
         'a comment says the rate and the signal');
    like(comment($p, qr/^samples not recorded/), qr/^samples not recorded: 0 /,
         'a comment counts the samples not recorded (none)');

    # The same mapping, with the same build id, in the CPU and the block profile of the run.
    my $b = read_profile($r->{block});
    my ($cm) = grep { m{/prog_cpu$} } @{ $p->{mappings} };
    my ($bm) = grep { m{/prog_cpu$} } @{ $b->{mappings} };
    ok(defined $cm && defined $bm && (split / /, $cm, 2)[1] eq (split / /, $bm, 2)[1],
       'the program\'s mapping (addresses, offset, build id, path) as in the block profile')
        or diag("cpu: " . ($cm // 'none') . "\nblock: " . ($bm // 'none'));

    SKIP: {
        my $go = `command -v go 2>/dev/null`;
        skip('go is not installed (golang-go)', 2) unless $go;
        my $top = `go tool pprof -top '$r->{prefix}.cpu.pb.gz' 2>&1`;
        like($top, qr/\bcpu_burn_a\b/, 'go tool pprof -top names cpu_burn_a');
        like($top, qr/\bcpu_burn_b\b/, 'go tool pprof -top names cpu_burn_b');
    }

    # lockprof top reads it as it reads the contention profiles: samples and CPU time.
    my $lp = build_dir() . '/lockprof';
    my $ltop = `'$lp' top '$r->{prefix}.cpu.pb.gz' 2>&1`;
    like($ltop, qr/^Total: \d+ samples, ([\d.]+)(?:s| ?ms) CPU time, in \d+ stacks$/m,
         'lockprof top: the total in samples and CPU time') or diag($ltop);
    my ($cum_a) = $ltop =~ /^\s+\S+\s+\S+\s+\S+\s+(\S+)\s+\S+\s+\d+\s+\d+\s+cpu_burn_a$/m;
    ok(defined $cum_a, 'lockprof top lists cpu_burn_a with its CPU time') or diag($ltop);

    my $off = run_under(prog => 'prog_cpu', args => ['burn', 20]);
    is($off->{exit}, 0, 'LOCKPROF_CPU_HZ unset: exit 0');
    ok(!-e "$off->{prefix}.cpu.pb.gz" && -s $off->{block},
       'LOCKPROF_CPU_HZ unset (0, the default): no CPU profile, the others as before');
}

# ---- a thread that was there before profiling started -------------------------------------
{
    my $r = run_under(prog => 'prog_cpu', args => ['early', 500, lib_path()], preload => 0,
                      env => { LOCKPROF_CPU_HZ => 100 });
    my $m = $r->{measure};
    is($r->{exit}, 0, 'early: exit 0');
    my $p = cpu_profile($r);
    my (undef, $e) = total($p, frame => 'cpu_burn_early');
    my (undef, $a) = total($p, frame => 'cpu_burn_a');
    within10($e, $m->{early}, 'a thread started before lockprof was loaded: armed by lockprof\'s '
             . 'thread (/proc/self/task), its CPU time within 10 %');
    within10($a, $m->{a}, 'and the thread that loaded it');
}

# ---- threads that end with their timer armed ------------------------------------------------
{
    my $r = run_under(prog => 'prog_cpu', args => ['churn', 300, 2],
                      env => { LOCKPROF_CPU_HZ => 100 });
    my $m = $r->{measure};
    is($r->{exit}, 0, 'churn: 300 threads that end with their timer armed: exit 0');
    is($r->{err}, '', 'churn: nothing on stderr');
    # An arming that doubles the table since the last sweep (at least 64 entries) has
    # lockprof's thread sweep at once: a few threads live at a time, so at most 64 timers and
    # the few live ones remain.
    cmp_ok($m->{timers}, '<=', 64 + 4, 'churn: the timers of ended threads are deleted (at most '
           . '64 + the live threads\' remain)');
    my $p = cpu_profile($r);
    my ($deleted) = comment($p, qr/^threads armed/) =~ /timers of ended threads deleted: (\d+)/;
    cmp_ok($deleted // 0, '>=', 300 - 64, 'churn: the profile counts the timers deleted');
    my ($c) = total($p, frame => 'cpu_burn_b');
    cmp_ok($c, '>', 0, 'churn: the short threads were sampled');
}

# ---- system calls in threads that are sampled -----------------------------------------------
{
    my $plain = run_under(prog => 'prog_cpu', args => ['syscalls', 300], preload => 0);
    my $r = run_under(prog => 'prog_cpu', args => ['syscalls', 300],
                      env => { LOCKPROF_CPU_HZ => 1000 });
    same_as_plain($r, $plain, 'read, epoll_wait and nanosleep at 1000 Hz');
    is($r->{measure}{eintr_read}, 0, 'a read is never interrupted (SA_RESTART)');
    diag("EINTR, retried: epoll_wait $r->{measure}{eintr_epoll}, nanosleep "
         . "$r->{measure}{eintr_nanosleep} (signal(7): these fail with EINTR under any handler)");

    my $s = run_under(prog => 'prog_cpu', args => ['restart', 20],
                      env => { LOCKPROF_CPU_HZ => 100 });
    is($s->{exit}, 0, 'SIGPROF sent to a thread blocked in read: exit 0');
    like($s->{out}, qr/^read returned 1$/m, 'the read went on and returned its byte (SA_RESTART)');
    like($s->{out}, qr/^errno after a SIGPROF: unchanged$/m, 'the handler left errno as it was');
    like(comment(cpu_profile($s), qr/^signals that were not/), qr/: 0$/,
         'they were taken for lockprof\'s timers\' (none counted as somebody else\'s)');

    # Somebody else's SIGPROF (kill -PROF) to a program that left it at its default: it ends
    # the process, as without lockprof, which writes its profiles first.
    my $plain = run_under(prog => 'prog_cpu', args => ['foreign', 200], preload => 0);
    is($plain->{signal}, 27, 'a plain SIGPROF without lockprof: the process dies of it');
    my $f = run_under(prog => 'prog_cpu', args => ['foreign', 200],
                      env => { LOCKPROF_CPU_HZ => 100 });
    same_as_plain($f, $plain, 'a plain SIGPROF under the CPU profile');
    my (undef, $fa) = total(cpu_profile($f), frame => 'cpu_burn_a');
    ok($fa > 0 && -s $f->{block}, 'and its profiles are written first (cpu_burn_a: '
       . sprintf('%.0f ms', $fa / 1e6) . ')');
}

# ---- a daemon that takes its signals with sigwait --------------------------------------------
{
    my $plain = run_under(prog => 'prog_cpu', args => ['sigwait', 200], preload => 0);
    my $want = join("\n", 'sigtimedwait: Resource temporarily unavailable', 'sigwait: USR1',
                    'sigwaitinfo: USR2', 'sigtimedwait(NULL): WINCH');
    like($plain->{out}, qr/^\Q$want\E$/m,
         'sigwait: without lockprof, the timeout, then SIGUSR1, SIGUSR2, SIGWINCH');
    my $r = run_under(prog => 'prog_cpu', args => ['sigwait', 200],
                      env => { LOCKPROF_CPU_HZ => 100 });
    same_as_plain($r, $plain, 'every signal blocked and taken with sigwait, sigwaitinfo, '
                  . 'sigtimedwait: the CPU profile\'s signals, pending, are never among them');
}

# ---- a daemon that takes its signals from a signalfd -------------------------------------------
# The signalfd reads SIGPROF as the program's: lockprof stands aside as for a handler of the
# program's (before, the samples pending on the blocked thread were read as SIGPROFs).
{
    my $plain = run_under(prog => 'prog_cpu', args => ['signalfd', 200], preload => 0);
    my $want = join("\n", 'signalfd: made', 'signalfd: USR1', 'signalfd: USR2',
                    'signalfd: then Resource temporarily unavailable');
    like($plain->{out}, qr/^\Q$want\E$/m, 'signalfd: without lockprof, SIGUSR1 and SIGUSR2');
    my $r = run_under(prog => 'prog_cpu', args => ['signalfd', 200],
                      env => { LOCKPROF_CPU_HZ => 100 });
    same_as_plain($r, $plain, 'every signal blocked and read from a signalfd: no SIGPROF among '
                  . 'them', stderr => 1);
    like($r->{err}, qr/^lockprof: the program reads SIGPROF from a signalfd; the CPU profile \(LOCKPROF_CPU_HZ\) takes no more samples$/m,
         'signalfd: lockprof says once that the CPU profile stops');
    is(() = $r->{err} =~ /^lockprof:/mg, 1, 'signalfd: and says nothing else');
    my $p = cpu_profile($r);
    like(comment($p, qr/^cpu sampling stopped/), qr/the program reads the signal from a signalfd/,
         'signalfd: the CPU profile says why it stopped');
}

# The same with the endpoint's windows only: a window asked for once the signalfd is made is
# refused, with the reason, and the program reads no SIGPROF.
{
    my $h = start_under(prog => 'prog_cpu', args => ['signalfd', 1000],
                        env => { LOCKPROF_HTTP => '127.0.0.1:0' });
    ok(wait_output($h, qr/^signalfd: made$/m, 20), 'signalfd, windows only: the signalfd is made');
    my ($st, undef, $body) = http_get($h, '/debug/pprof/profile?seconds=1', timeout => 20);
    is($st, 500, 'signalfd, windows only: a window afterwards is refused (500)');
    like($body // '', qr/the program reads the signal from a signalfd/, 'and says why');
    my $r = finish($h);
    is($r->{exit}, 0, 'signalfd, windows only: exit 0');
    unlike($r->{out}, qr/PROF/, 'signalfd, windows only: the program read no SIGPROF');
}

# ---- threads that free the memory holding their pthread_t as they start ----------------------
# The wrapper reads nothing through the caller's pthread_t after the call: the new thread may
# have freed it (a wrapper that armed the thread from *t after the call died of SIGSEGV here).
{
    my $plain = run_under(prog => 'prog_cpu', args => ['freed', 3000], preload => 0);
    my $r = run_under(prog => 'prog_cpu', args => ['freed', 3000],
                      env => { LOCKPROF_CPU_HZ => 100 }, timeout => 120);
    same_as_plain($r, $plain, 'detached threads that free their pthread_t\'s memory at once');
}

# ---- a program that owns SIGPROF ------------------------------------------------------------
{
    my $plain = run_under(prog => 'prog_cpu', args => ['own', 300], preload => 0);
    my $r = run_under(prog => 'prog_cpu', args => ['own', 300], env => { LOCKPROF_CPU_HZ => 100 });
    is($r->{exit}, 0, 'own SIGPROF handler: exit 0');
    like($r->{out}, qr/^handler kept: yes$/m, 'the program\'s handler is still installed');
    cmp_ok($r->{measure}{own}, '>', 0, 'its ITIMER_PROF signals reach it');
    is($r->{measure}{foreign}, $plain->{measure}{foreign},
       'no signal of lockprof\'s timers reaches it');
    my @lines = split /\n/, $r->{err};
    is(scalar(@lines), 1, 'lockprof says so, once');
    like($lines[0] // '', qr/^$aside takes no more samples$/,
         '... that it stands aside');
    like(comment(cpu_profile($r), qr/^cpu sampling stopped/), qr/installed a handler/,
         'the CPU profile says sampling stopped, and why');

    # SIGPROF ignored from the start (inherited): lockprof leaves it so.
    my $pid = fork() // die;
    if ($pid == 0) {
        $SIG{PROF} = 'IGNORE';
        my $i = run_under(prog => 'prog_cpu', args => ['plain', 50],
                          env => { LOCKPROF_CPU_HZ => 100 });
        POSIX::_exit($i->{exit} == 0 && $i->{err} =~ /\A$aside is off\n\z/ ? 0 : 1);
    }
    waitpid($pid, 0);
    is($?, 0, 'SIGPROF ignored at start: exit 0, and one line says the CPU profile is off');

    my $w = run_under(prog => 'prog_cpu', args => ['plain', 10],
                      env => { LOCKPROF_CPU_HZ => 100, LOCKPROF_SIGNAL => 'SIGPROF' });
    is($w->{exit}, 0, 'LOCKPROF_SIGNAL=SIGPROF with the CPU profile: exit 0');
    my $said = qr/LOCKPROF_SIGNAL=SIGPROF is the CPU profile's signal \(\S+\): no snapshots on it/;
    like($w->{err}, qr/\Alockprof: $said\n\z/,
         '... and one line says the signal is the CPU profile\'s');
}

# ---- fork: the child profiles itself, the parent's profile is its own -----------------------
{
    my $r = run_under(prog => 'prog_cpu', args => ['fork', 300], env => { LOCKPROF_CPU_HZ => 100 });
    my $m = $r->{measure};
    is($r->{exit}, 0, 'fork: exit 0');
    my $p = cpu_profile($r);
    my (undef, $a) = total($p, frame => 'cpu_burn_a');
    within10($a, $m->{a}, 'fork: the parent\'s CPU profile: its own burn within 10 %');
    is(scalar(total($p, frame => 'cpu_burn_child')), 0, 'fork: none of the child\'s samples');
    my $cf = "$r->{prefix}.$m->{child_pid}.cpu.pb.gz";
    ok(-s $cf, 'fork: the child wrote its own CPU profile');
    my $c = read_profile($cf);
    my (undef, $cc) = total($c, frame => 'cpu_burn_child');
    within10($cc, $m->{child}, 'fork: the child\'s: its burn within 10 %');
    is(scalar(total($c, frame => 'cpu_burn_a')), 0, 'fork: none of the parent\'s samples');
}

# ---- a single-threaded fork child that burns longer than its ring holds ---------------------
# Pinned to one CPU, at 250 Hz (at most 250 signals a second, whatever the kernel's tick), the
# ring holds 1024 samples (its floor): 4.1 s of CPU. The child burns 5 s; lockprof's thread,
# which the child starts for its CPU profile, drains the ring as it fills.
SKIP: {
    my $taskset = (grep { -x "$_/taskset" } split /:/, $ENV{PATH} // '')[0];
    skip('taskset is not installed (util-linux)', 3) unless $taskset;
    my $mask = `'$taskset/taskset' -p $$`;
    my ($was) = $mask =~ /:\s*([0-9a-f,]+)\s*$/;
    system("$taskset/taskset", '-p', '1', $$) == 0 or skip('taskset -p failed', 3);
    my $r = run_under(prog => 'prog_cpu', args => ['forkonly', 5000],
                      env => { LOCKPROF_CPU_HZ => 250 });
    system("$taskset/taskset", '-p', $was, $$) if defined $was;
    my $m = $r->{measure};
    is($r->{exit}, 0, 'long fork child: exit 0');
    my $c = read_profile("$r->{prefix}.$m->{child_pid}.cpu.pb.gz");
    my (undef, $cc) = total($c, frame => 'cpu_burn_child');
    within10($cc, $m->{child}, 'long fork child: its 5 s burn within 10 %, though its ring '
             . 'holds 4 s');
    like(comment($c, qr/^samples not recorded/), qr/^samples not recorded: 0 /,
         'long fork child: no sample lost');
}

# ---- exec: the new image is never killed by the profile's signal ----------------------------
{
    my $r = run_under(prog => 'prog_cpu', args => ['exec', 20, 30],
                      env => { LOCKPROF_CPU_HZ => 1000 });
    is($r->{exit}, 0, 'exec: exit 0');
    is($r->{measure}{killed}, 0, 'exec: 20 children sampled at 1000 Hz exec a program without '
       . 'lockprof that burns CPU: none dies of a signal') or diag($r->{err});
}

# ---- snapshots carry the CPU profile too ----------------------------------------------------
{
    my $r = run_under(prog => 'prog_cpu', args => ['burn', 600],
                      env => { LOCKPROF_CPU_HZ => 100, LOCKPROF_INTERVAL => 1 });
    is($r->{exit}, 0, 'snapshots: exit 0');
    my $s = read_profile("$r->{prefix}.snapshot-1.cpu.pb.gz");
    is($s->{sample_type}, 'samples/count cpu/nanoseconds', 'snapshot 1 has its CPU profile');
    ok(-s "$r->{prefix}.snapshot-1.block.pb.gz" && -s "$r->{prefix}.snapshot-1.threads.txt",
       'beside its block profile and threads view');
}

# ---- the endpoint's window with LOCKPROF_CPU_HZ set: the run's profile, N seconds of it --------
{
    my $h = start_under(prog => 'prog_cpu', args => ['burn', 1500],
                        env => { LOCKPROF_CPU_HZ => 100, LOCKPROF_HTTP => '127.0.0.1:0' });
    my ($st, $head, $body) = http_get($h, '/debug/pprof/profile?seconds=1', timeout => 20);
    is($st, 200, 'window: /debug/pprof/profile?seconds=1 answers 200') or diag($head // '');
    my $f = "$h->{prefix}.window.pb.gz";
    LP::spew($f, $body // '');
    my $w = read_profile($f);
    is($w->{sample_type}, 'samples/count cpu/nanoseconds', 'window: a CPU profile');
    ok(abs(($w->{duration_nanos} // 0) - 1e9) < 0.25e9, 'window: duration_nanos 1 s')
        or diag("duration_nanos $w->{duration_nanos}");
    my $in = total($w, frame => 'cpu_burn_a') + total($w, frame => 'cpu_burn_b');
    ok($in > 0, "window: the burning threads' samples ($in ns)");
    my $r = finish($h);
    is($r->{exit}, 0, 'window: exit 0');
    my $p = cpu_profile($r);
    my $all = total($p, frame => 'cpu_burn_a') + total($p, frame => 'cpu_burn_b');
    ok($all >= $in, "window: the run's profile, written at exit, holds at least the window's "
       . "($all ns)");
}

# ---- windows only, one after another: each window's stacks are given back --------------------
# With LOCKPROF_CPU_HZ unset, the endpoint's windows keep their samples in a table of their own
# for as long as each is open. A program whose stacks change every half second (another path
# down a descent), at LOCKPROF_MAX_STACKS=64: each 1 s window holds fewer stacks than that,
# all of them together far more (before, the windows' stacks stayed in the stack table, and
# once it was full the later windows counted their samples under lockprof::stack_table_full).
{
    my $h = start_under(prog => 'prog_cpu', args => ['phases', 12],
                        env => { LOCKPROF_HTTP => '127.0.0.1:0', LOCKPROF_MAX_STACKS => 64 });
    my ($stacks, $full, $windows) = (0, 0, 0);
    for my $i (1 .. 8) {
        my ($st, $head, $body) = http_get($h, '/debug/pprof/profile?seconds=1', timeout => 20);
        last unless ($st // 0) == 200;
        $windows++;
        my $f = "$h->{prefix}.phases$i.pb.gz";
        LP::spew($f, $body // '');
        my $w = read_profile($f);
        my (undef, $ns) = total($w, frame => 'cpu_burn_a');
        my (undef, $lost) = total($w, frame => 'lockprof::stack_table_full');
        $full += $lost;
        $stacks += scalar @{ $w->{samples} };
        diag(sprintf("window %d: %d stacks, cpu_burn_a %.0f ms, under stack_table_full %.0f ms",
                     $i, scalar @{ $w->{samples} }, $ns / 1e6, $lost / 1e6));
        like(comment($w, qr/^the window's stack table/), qr/^the window's stack table: \d+ of 64 entries/,
             "phases: window $i says its own table's size");
    }
    is($windows, 8, 'phases: eight windows, one after another, each answered');
    cmp_ok($stacks, '>', 64, "phases: $stacks stacks in all, more than the table would hold");
    is($full, 0, 'phases: no window counted a sample under lockprof::stack_table_full');
    my $r = finish($h);
    is($r->{exit}, 0, 'phases: exit 0');
    ok(!-e "$r->{prefix}.cpu.pb.gz", 'phases: windows only: no CPU profile at exit');
}

# ---- lockprof's mutex profile with its comments taken out, beside the CPU profile -------------
# Tools that keep only the samples drop the comment that says which profile it is: its stacks,
# which begin at a release (pthread_mutex_unlock), still say it, and it is not taken for a
# block profile.
{
    my $r = run_under(prog => 'prog_convoy', args => [4, 30], env => { LOCKPROF_CPU_HZ => 100 });
    is($r->{exit}, 0, 'stripped: exit 0');
    my $lp = build_dir() . '/lockprof';
    my $cpuf = "$r->{prefix}.cpu.pb.gz";
    my $stripped = "$r->{prefix}.stripped.pb.gz";
    strip_comments($r->{mutex}, $stripped);
    my $side = `'$lp' top '$cpuf' '$stripped' 2>&1`;
    unlike($side, qr/^Block profile:/m, 'stripped: a mutex profile without its comments is not '
           . 'taken for a block profile') or diag($side);
    like($side, qr/^File: \Q$stripped\E$/m, 'stripped: it is reported on its own');
    my $comb = `'$lp' combine '$cpuf' '$stripped' -o '$r->{prefix}.bad.pb.gz' 2>&1`;
    like($comb, qr/the other is a mutex profile/, 'stripped: lockprof combine refuses it');
}

# Rewrites a gzip'd profile without its comments (Profile field 13, packed or not).
sub strip_comments {
    my ($in, $out) = @_;
    my $raw;
    IO::Uncompress::Gunzip::gunzip($in => \$raw) or die "gunzip $in";
    my ($pos, $kept) = (0, '');
    my $varint = sub {
        my ($v, $shift) = (0, 0);
        while (1) {
            my $b = ord(substr($raw, $pos++, 1));
            $v |= ($b & 0x7f) << $shift;
            $shift += 7;
            return $v if $b < 0x80;
        }
    };
    while ($pos < length $raw) {
        my $start = $pos;
        my $key = $varint->();
        my ($field, $wire) = ($key >> 3, $key & 7);
        if    ($wire == 0) { $varint->() }
        elsif ($wire == 1) { $pos += 8 }
        elsif ($wire == 2) { my $n = $varint->(); $pos += $n }
        elsif ($wire == 5) { $pos += 4 }
        else               { die "wire type $wire" }
        $kept .= substr($raw, $start, $pos - $start) unless $field == 13;
    }
    IO::Compress::Gzip::gzip(\$kept => $out) or die "gzip $out";
}

# ---- one picture: CPU time and waits of one run, side by side and in one profile ------------
{
    my $r = run_under(prog => 'prog_cpu', args => ['burn', 300],
                      env => { LOCKPROF_CPU_HZ => 100 });
    is($r->{exit}, 0, 'one picture: exit 0');
    my $lp = build_dir() . '/lockprof';
    my $cpuf = "$r->{prefix}.cpu.pb.gz";
    my $c = read_profile($cpuf);
    my $b = read_profile($r->{block});
    my (undef, $cpu_all) = total($c);
    my (undef, $wait_all) = total($b);
    my (undef, $join) = total($b, leaf => 'pthread_join');
    ok($join > 0, 'one picture: main waited in pthread_join for the burners');

    my $side = `'$lp' top '$r->{block}' '$cpuf' 2>&1`;
    like($side, qr/^\s+\S+\s+\S+\s+\S+\s+\S+\s+cpu_burn_a$/m,
         'lockprof top CPU BLOCK: one table, cpu_burn_a in it') or diag($side);
    # (At most a sample or two of CPU time: the main thread is on CPU for a few instructions
    # inside pthread_join, and a tick may find it there.)
    my ($cf, $wf) = $side =~ /^\s+(\S+)\s+\S+\s+(\S+)\s+\S+\s+pthread_join$/m;
    my %unit = (ns => 1, us => 1e3, ms => 1e6, s => 1e9);
    my $ns = sub { $_[0] =~ /^([\d.]+)(ns|us|ms|s)?$/ ? $1 * $unit{ $2 // 'ns' } : undef };
    ok(defined $wf && ($ns->($wf) // 0) > 0 && defined $ns->($cf) && $ns->($cf) <= 20e6,
       "pthread_join: its wait ($wf), and hardly any CPU time ($cf)") or diag($side);
    like($side, qr/^Left out: waits lockprof does not interpose, and time runnable but not running\.$/m,
         'it says what it leaves out');

    my $out = "$r->{prefix}.time.pb.gz";
    my ($st, undef, $err) = LP::run_cmd($lp, 'combine', $cpuf, $r->{block});
    is($st, 0, 'lockprof combine CPU BLOCK: exit 0') or diag($err);
    like($err, qr/^lockprof combine: wrote \Q$out\E /, 'it says where it wrote');
    my $t = read_profile($out);
    is($t->{sample_type}, 'time/nanoseconds', 'combined: one value, time/nanoseconds');
    my (undef, $on) = total($t, frame => '[on CPU]');
    my (undef, $waiting) = total($t, frame => '[waiting]');
    my (undef, $kind) = total($t, frame => '[waiting: thread]');
    is($on, $cpu_all, 'combined: [on CPU] holds the CPU profile\'s time');
    is($waiting, $wait_all, 'combined: [waiting] holds the block profile\'s waits');
    is($kind, $join, 'combined: [waiting: thread] holds the join\'s');
    my (undef, $a_ns) = total($c, frame => 'cpu_burn_a');
    is(scalar((total($t, frame => 'cpu_burn_a'))[1]), $a_ns, 'combined: cpu_burn_a\'s time kept');
    SKIP: {
        skip('go is not installed (golang-go)', 1) unless `command -v go 2>/dev/null`;
        my $top = `go tool pprof -top '$out' 2>&1`;
        like($top, qr/\[on CPU\].*\n(?:.*\n)*.*\[waiting\]|\[waiting\].*\n(?:.*\n)*.*\[on CPU\]/,
             'go tool pprof reads it: [on CPU] and [waiting]') or diag($top);
    }
}

done_testing();
