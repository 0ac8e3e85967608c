#!/usr/bin/perl
# signals.t — DESIGN §5 "when profiles are written", for the signals that end a program.
#
# A program that dies of a SIGTERM or SIGINT it did not handle still leaves both profiles,
# and dies by that same signal. A program that handles the signal itself (sigaction or
# signal) keeps its own handling; one that asks sees SIG_DFL where lockprof stands in; a
# daemon that takes SIGTERM with sigwait keeps receiving it there (lockprof's thread blocks
# every signal). And `lockprof run` on a terminal passes a real Ctrl-C through.
#
# The programs print "ready" once their contention is over; the signal is sent only then,
# read from their stdout through a pipe (no sleeps), and every wait is bounded.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;
use IO::Select;
use POSIX qw(WIFEXITED WEXITSTATUS WIFSIGNALED WTERMSIG WNOHANG);
use Time::HiRes qw(time sleep);

my $build = build_dir();
my $TIMEOUT = 60; # per program: generous for a loaded machine, and a hang still ends

for my $p (qw(prog_sigterm prog_sigwait helper_pty helper_pbdump)) {
    -x "$build/tests/$p" or BAIL_OUT("$build/tests/$p is missing: make $build/tests/$p");
}
-e lib_path() or BAIL_OUT(lib_path() . " is missing: make $build/liblockprof.so");

my $seq = 0;

# Starts a program (by default under the preload, rate 1 / fraction 1) with its stdout on a
# pipe, sends it signal `send` once it has printed a line "ready", and collects everything.
# Keys: prog, args, env, preload (default 1), send (a signal name, or [names] sent back to
# back), ignore ([signal names]
# the program inherits as SIG_IGN). Returns what run_under returns, plus timed_out.
sub spawn {
    my %o = @_;
    my $prefix = tmpdir() . '/sig' . (++$seq);
    my $errf = "$prefix.stderr";
    my @cmd = (prog_path($o{prog}), @{ $o{args} || [] });
    pipe(my $rd, my $wr) or die "pipe: $!";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        close $rd;
        my %env = (LOCKPROF_BLOCK_RATE => 1, LOCKPROF_MUTEX_FRACTION => 1,
                   LOCKPROF_OUT => $prefix, %{ $o{env} || {} });
        for my $k (keys %env) {
            if (defined $env{$k}) { $ENV{$k} = $env{$k} } else { delete $ENV{$k} }
        }
        if ($o{preload} // 1) { $ENV{LD_PRELOAD} = lib_path() } else { delete $ENV{LD_PRELOAD} }
        # The signals under test reach the program with their default action and unblocked,
        # whatever the harness left us (a shell's '&' ignores SIGINT, for one).
        $SIG{$_} = 'DEFAULT' for qw(TERM INT);
        $SIG{$_} = 'IGNORE' for @{ $o{ignore} || [] };
        POSIX::sigprocmask(POSIX::SIG_SETMASK(), POSIX::SigSet->new());
        open STDOUT, '>&', $wr or die;
        open STDERR, '>', $errf or die;
        open STDIN, '<', '/dev/null' or die;
        exec { $cmd[0] } @cmd or do { print STDERR "exec $cmd[0]: $!\n"; POSIX::_exit(127) };
    }
    close $wr;
    my ($out, $sent, $timed_out) = ('', 0, 0);
    my $deadline = time + $TIMEOUT;
    my $sel = IO::Select->new($rd);
    for (;;) {
        my $left = $deadline - time;
        if ($left <= 0) { kill 'KILL', $pid; $timed_out = 1; last }
        next unless $sel->can_read($left);
        my $n = sysread($rd, my $buf, 4096);
        if (!defined $n) { next if $!{EINTR}; last }
        last if $n == 0; # EOF: the program (every thread of it) is gone
        $out .= $buf;
        if (!$sent && defined $o{send} && $out =~ /^ready$/m) {
            kill $_, $pid for ref $o{send} ? @{ $o{send} } : $o{send};
            $sent = 1;
        }
    }
    close $rd;
    # Bounded reap: polls, it does not guess how long anything takes.
    my $st;
    for (;;) {
        my $w = waitpid($pid, WNOHANG);
        if ($w == $pid) { $st = $?; last }
        if (time > $deadline && !$timed_out) { kill 'KILL', $pid; $timed_out = 1 }
        sleep 0.005;
    }
    my %r = (status => $st, out => $out, err => slurp($errf) // '', prefix => $prefix, pid => $pid,
             block => "$prefix.block.pb.gz", mutex => "$prefix.mutex.pb.gz",
             sent => $sent, timed_out => $timed_out);
    $r{exit} = WIFEXITED($st) ? WEXITSTATUS($st) : undef;
    $r{signal} = WIFSIGNALED($st) ? WTERMSIG($st) : undef;
    return \%r;
}

sub show {
    my ($r) = @_;
    diag("status $r->{status}" . ($r->{timed_out} ? " (timed out, killed)" : ''));
    diag("stdout:\n$r->{out}");
    diag("stderr:\n$r->{err}");
}

# Both files exist, decode as pprof, and hold the program's contention: waits with leaf
# pthread_mutex_lock in the contending function (block), releases with leaf
# pthread_mutex_unlock in the holding function (mutex).
sub check_profiles {
    my ($block, $mutex, %w) = @_;
    for my $f ([block => $block], [mutex => $mutex]) {
        my ($kind, $path) = @$f;
        ok(-s $path, "$kind profile written: $path") or next;
        my $p = read_profile($path);
        is($p->{status}, 0, "$kind profile decodes") or diag($p->{raw});
        is($p->{sample_type}, 'contentions/count delay/nanoseconds', "$kind profile sample types");
        my ($leaf, $fn) = $kind eq 'block' ? ('pthread_mutex_lock', $w{contend})
                                           : ('pthread_mutex_unlock', $w{hold});
        my ($c, $d, $n) = total($p, leaf => $leaf, frame => $fn);
        my $ok = $w{exact} ? is($c, $w{count}, "$kind: $w{count} events with leaf $leaf in $fn")
                           : cmp_ok($c, '>=', $w{count}, "$kind: at least $w{count} events with leaf $leaf in $fn");
        cmp_ok($d, '>', 0, "$kind: with a delay");
        diag($p->{raw}) unless $ok;
    }
}

my %sigterm_profile = (contend => 'sigterm_contend', hold => 'sigterm_hold', count => 4, exact => 1);

for my $sig (qw(TERM INT)) {
    subtest "an unhandled SIG$sig: profiles written, death by SIG$sig" => sub {
        my $r = spawn(prog => 'prog_sigterm', send => $sig);
        ok($r->{sent}, 'the program got ready and was sent the signal') or show($r);
        ok(!$r->{timed_out}, 'it ended');
        is($r->{signal}, POSIX->can("SIG$sig")->(), "it died by SIG$sig (WTERMSIG)") or show($r);
        ok(!defined $r->{exit}, 'it did not exit normally');
        is($r->{err}, '', 'nothing on stderr');
        check_profiles($r->{block}, $r->{mutex}, %sigterm_profile);
    };
}

# A process the run's first started (LOCKPROF_ORIGIN in its environment) gets lockprof's handler
# at its first entry (here its first thread), not at start: until it records something it has
# nothing to write. Killed after its contention, it still leaves its profiles (named with its
# pid), and dies by the signal.
subtest "not the run's first: an unhandled SIGTERM after its waits, profiles written" => sub {
    my $r = spawn(prog => 'prog_sigterm', send => 'TERM', env => { LOCKPROF_ORIGIN => 1 });
    ok($r->{sent}, 'the program got ready and was sent SIGTERM') or show($r);
    is($r->{signal}, POSIX::SIGTERM(), 'it died by SIGTERM (WTERMSIG)') or show($r);
    is($r->{err}, '', 'nothing on stderr');
    check_profiles("$r->{prefix}.$r->{pid}.block.pb.gz", "$r->{prefix}.$r->{pid}.mutex.pb.gz",
                   %sigterm_profile);
};

for my $mode (qw(handler signal-handler)) {
    subtest "the program's own SIGTERM handler ($mode) runs, lockprof stands aside" => sub {
        my $r = spawn(prog => 'prog_sigterm', args => [$mode], send => 'TERM');
        ok($r->{sent}, 'the program got ready and was sent SIGTERM') or show($r);
        like($r->{out}, qr/^own handler installed$/m, 'sigaction/signal report its own handler back');
        like($r->{out}, qr/^handled$/m, 'its handler ran') or show($r);
        is($r->{exit}, 5, 'it exited 5, as its handler has it') or show($r);
        ok(!defined $r->{signal}, 'it was not killed by the signal');
        is($r->{err}, '', 'nothing on stderr');
        # It left through exit(): the exit-time write.
        check_profiles($r->{block}, $r->{mutex}, %sigterm_profile);
    };
}

subtest 'the program sees SIG_DFL where lockprof stands in, and signal(SIG_DFL) keeps it' => sub {
    my $plain = spawn(prog => 'prog_sigterm', args => ['query'], send => 'TERM', preload => 0);
    my $r = spawn(prog => 'prog_sigterm', args => ['query'], send => 'TERM');
    my $want = "sigaction SIGTERM handler SIG_DFL\n" .
               "sigaction SIGINT handler SIG_DFL\n" .
               "signal SIGTERM returned SIG_DFL\n" .
               "sigaction SIGTERM after signal SIG_DFL\n" .
               "ready\n";
    is($plain->{out}, $want, 'without the preload: what the program sees');
    is($r->{out}, $want, 'under the preload: the same (SIG_DFL, and signal() returns SIG_DFL)');
    is($plain->{signal}, 15, 'without the preload: death by SIGTERM');
    is($r->{signal}, 15, 'under the preload: death by SIGTERM') or show($r);
    ok(!-e $plain->{block}, 'without the preload: no profile (sanity)');
    # signal(SIGTERM, SIG_DFL) must not have removed lockprof's handler.
    check_profiles($r->{block}, $r->{mutex}, %sigterm_profile);
};

subtest 'an inherited SIG_IGN is the program\'s: lockprof leaves it alone' => sub {
    my $r = spawn(prog => 'prog_sigterm', args => ['query'], send => 'TERM', ignore => ['INT']);
    like($r->{out}, qr/^sigaction SIGINT handler SIG_IGN$/m, 'SIGINT still reads SIG_IGN')
        or show($r);
    like($r->{out}, qr/^sigaction SIGTERM handler SIG_DFL$/m, 'SIGTERM reads SIG_DFL');
    is($r->{signal}, 15, 'death by SIGTERM') or show($r);
    check_profiles($r->{block}, $r->{mutex}, %sigterm_profile);
};

subtest 'a second fatal signal while the profile is being written' => sub {
    # Supervisors often signal twice (kill of the pid and of its group, SIGINT then SIGTERM).
    # The second one reaches another thread while the first handler waits for the write.
    my $r = spawn(prog => 'prog_sigterm', send => ['TERM', 'TERM']);
    ok($r->{sent}, 'the program got ready and was sent SIGTERM twice') or show($r);
    is($r->{signal}, 15, 'it died by SIGTERM') or show($r);
    ok(-s $r->{block} && -s $r->{mutex}, 'both profiles were written all the same');
};

subtest 'a daemon that takes SIGTERM with sigwait keeps it' => sub {
    my $r = spawn(prog => 'prog_sigwait', send => 'TERM');
    ok($r->{sent}, 'the daemon got ready and was sent SIGTERM') or show($r);
    like($r->{out}, qr/^got SIGTERM$/m, 'sigwait returned SIGTERM') or show($r);
    is($r->{exit}, 3, 'it exited 3 (not killed by the signal)') or show($r);
    ok(!defined $r->{signal}, 'no death by signal');
    is($r->{err}, '', 'nothing on stderr');
    check_profiles($r->{block}, $r->{mutex},
                   contend => 'sigwait_contend', hold => 'sigwait_hold', count => 3);
};

subtest 'lockprof run on a terminal: Ctrl-C reaches the program, the profiles are written' => sub {
    my $tool = "$build/lockprof";
    # Written by another engineer's rule; give a concurrent build a chance to finish it.
    my $until = time + 30;
    sleep 0.2 while !-x $tool && time < $until;
    ok(-x $tool, "$tool exists") or return;
    my $prefix = tmpdir() . '/ctrlc';
    local $ENV{LOCKPROF_BLOCK_RATE} = 1;
    local $ENV{LOCKPROF_MUTEX_FRACTION} = 1;
    local $ENV{HELPER_PTY_TIMEOUT} = $TIMEOUT;
    delete local $ENV{LD_PRELOAD};
    delete local $ENV{LOCKPROF_OUT};
    my @cmd = ("$build/tests/helper_pty", 'ready', '--', $tool, 'run', '-o', $prefix, '--',
               "$build/tests/prog_sigterm");
    open my $fh, '-|', @cmd or die "helper_pty: $!";
    my $out = do { local $/; <$fh> } // '';
    close $fh;
    my $st = $?;
    my $shown = $out =~ s/\r//gr;
    like($shown, qr/^ready$/m, 'the program got ready on the terminal') or diag($shown);
    is($st >> 8, 128 + 2, 'lockprof run (and the program) died of SIGINT: helper status 130')
        or diag("status $st\n$shown");
    like($shown, qr/block profile: \Q$prefix.block.pb.gz\E/,
         'lockprof run names the block profile') or diag($shown);
    like($shown, qr/mutex profile: \Q$prefix.mutex.pb.gz\E/,
         'lockprof run names the mutex profile') or diag($shown);
    unlike($shown, qr/no (new )?(block|mutex) profile/, 'no profile reported missing');
    check_profiles("$prefix.block.pb.gz", "$prefix.mutex.pb.gz", %sigterm_profile);
};

done_testing();
