#!/usr/bin/perl
# The host program's life is untouched (DESIGN §6): nothing lockprof does changes how a program
# ends or what it may do.
#
# Warnings never raise a signal: with standard error a pipe whose reader has gone, a program
# that gets lockprof's one-line warning (a malformed variable at start, an unwritable output
# path at exit) still ends as it does without lockprof, with its own exit status, not killed
# by SIGPIPE.
#
# lockprof's variables (LOCKPROF_ORIGIN, LOCKPROF_EXEC) reach a new image only while it
# preloads lockprof: a program that gives its child an environment of its own (execle with one
# variable, execve with none, `env -i`), or that takes lockprof out of LD_PRELOAD before
# system(), hands over exactly that environment; one that keeps LD_PRELOAD keeps the lineage.
#
# A program that restricts its system calls (seccomp: strict mode, or a filter that kills the
# process at any call it did not list) runs to its normal exit with its own output: lockprof
# writes the profiles so far just before the restriction, with a comment that says so, and makes
# no call of its own after — when the program then starts its first thread, forks, execs a
# sandboxed target, or leaves its last thread by SYS_exit.
#
# A signal handler that leaves a wait by siglongjmp (100 times, on the main thread and on a
# worker, from an alternate signal stack above the thread's own (then an ordinary siglongjmp
# over the frames the waits had); and by __longjmp_chk, in a program built with
# _FORTIFY_SOURCE) leaves nothing behind: each abandoned wait is recorded as one that gave up, at the
# time of the jump, and charged once; the 20 ordinary waits after it are recorded as the
# program measured them; the mutex profile's delay is the block profile's (not the abandoned
# waiters' time charged over and over); the threads view shows no wait in progress and its
# table never filled; lockprof_write_profiles answers 0. With an unwinder that takes 2 ms
# (make variants: slowunwind) the signal lands inside lockprof's own code as well: the thread's
# guard comes down with the jump, and it is profiled again after.
#
# A child made by a raw clone runs no fork handler; it outlives its parent here. It still
# profiles itself from zero under its own pid (PREFIX.PID, as a fork child), and its parent's
# profile, written first, is not overwritten by the child's copy of the parent's tables.
#
# A program that never starts a thread stays single-threaded: glibc keeps counting it so
# (__libc_single_threaded), it has one task, `unshare -U` (which needs one) works, and it
# still writes its profiles at exit; its pthread_exit from main ends it with status 0, as
# without lockprof, whether or not a live feature started lockprof's thread.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;
use POSIX qw(WIFEXITED WEXITSTATUS WIFSIGNALED WTERMSIG);

# Runs prog with stderr a pipe nobody reads; returns "exit N" or "signal N".
sub with_stderr_gone {
    my ($prog, %env) = @_;
    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        close $r;
        $ENV{$_} = $env{$_} for keys %env;
        $ENV{LD_PRELOAD} = lib_path() if $env{preload};
        delete $ENV{preload};
        open STDOUT, '>', '/dev/null' or die;
        open STDERR, '>&', $w or die;
        close $w;
        exec { prog_path($prog) } $prog or POSIX::_exit(127);
    }
    close $r;
    close $w;
    waitpid($pid, 0);
    my $st = $?;
    return WIFSIGNALED($st) ? 'signal ' . WTERMSIG($st) : 'exit ' . WEXITSTATUS($st);
}

my $dir = tmpdir();
is(with_stderr_gone('prog_quiet'), 'exit 7', 'without the preload: exit 7');
is(with_stderr_gone('prog_quiet', preload => 1, LOCKPROF_BLOCK_RATE => 'x',
                    LOCKPROF_OUT => "$dir/sp1"),
   'exit 7', 'a malformed variable, stderr a broken pipe: exit 7, no SIGPIPE');
is(with_stderr_gone('prog_quiet', preload => 1, LOCKPROF_OUT => "$dir/no/such/dir/p"),
   'exit 7', 'an unwritable LOCKPROF_OUT, stderr a broken pipe: exit 7, no SIGPIPE');

# ---- the environment a child gets ------------------------------------------------------------
sub lineage { join ',', sort grep { /^LOCKPROF_(ORIGIN|EXEC)=/ } split /\n/, $_[0] }
for my $mode (qw(execle empty unset)) {
    my $plain = run_under(prog => 'prog_envclean', args => [$mode], preload => 0);
    my $r = run_under(prog => 'prog_envclean', args => [$mode]);
    same_as_plain($r, $plain, $mode, normalize => sub { lineage($_[0]) . "\n" . ($_[0] =~ s/^(LOCKPROF_\w+|LD_PRELOAD)=.*\n//mgr) });
    is(lineage($r->{out}), '', "$mode: the child's environment has no LOCKPROF_ORIGIN or LOCKPROF_EXEC");
}
like(run_under(prog => 'prog_envclean', args => ['execle'])->{out}, qr/\AX=1\n\z/,
     'execle: the child got exactly X=1');
{
    my $r = run_under(prog => '/usr/bin/env', args => ['-i', 'printenv']);
    is($r->{exit}, 0, 'env -i printenv: exit 0');
    is($r->{out}, '', 'env -i printenv: an empty environment');
}
{
    my $r = run_under(prog => 'prog_envclean', args => ['keep']);
    like($r->{out}, qr/^LOCKPROF_ORIGIN=\d+$/m, 'keep: a child that still preloads lockprof keeps the lineage');
}

{
    # lockprof run makes its program the first of a run, whatever environment it inherited.
    my $prefix = tmpdir() . '/inherited';
    my $r = run_under(prog => build_dir() . '/lockprof', preload => 0,
                      args => ['run', '-o', $prefix, '--', '/bin/true'],
                      env => { LOCKPROF_ORIGIN => 1, LOCKPROF_EXEC => '1:0' });
    is($r->{exit}, 0, 'lockprof run with LOCKPROF_ORIGIN inherited: exit 0') or diag($r->{err});
    ok(-s "$prefix.block.pb.gz" && -s "$prefix.mutex.pb.gz",
       'lockprof run with LOCKPROF_ORIGIN inherited: the program wrote its profiles as the first process');
}

# ---- a program that never starts a thread ----------------------------------------------------
{
    my $plain = run_under(prog => 'prog_alone', args => ['return'], preload => 0);
    my $r = run_under(prog => 'prog_alone', args => ['return']);
    same_as_plain($r, $plain, 'single-threaded');
    like($r->{out}, qr/^single_threaded 1\ntasks 1$/m, 'single-threaded: glibc still says so, and one task');
    ok(-s $r->{block} && -s $r->{mutex}, 'single-threaded: both profiles written at exit');
    for my $env ({}, { LOCKPROF_INTERVAL => 3600 }) {
        my $what = %$env ? 'pthread_exit from main, lockprof\'s thread started (LOCKPROF_INTERVAL)'
                         : 'pthread_exit from main, the only thread';
        my $pp = run_under(prog => 'prog_alone', args => ['pthread_exit'], preload => 0);
        my $p = run_under(prog => 'prog_alone', args => ['pthread_exit'], env => $env, timeout => 20);
        # (A live feature asks for lockprof's thread: the program then has two tasks.)
        same_as_plain($p, $pp, $what,
                      normalize => sub { %$env ? $_[0] =~ s/^(tasks|single_threaded) \d+\n//mgr : $_[0] });
        ok(-s $p->{block}, "$what: the profile was written");
    }
}
SKIP: {
    system('unshare -U true 2>/dev/null');
    skip 'unshare -U fails here without lockprof too (no user namespaces)', 2 if $? != 0;
    my $r = run_under(prog => '/usr/bin/unshare', args => ['-U', 'true']);
    is($r->{exit}, 0, 'unshare -U true: exit 0 (the process unsharing has one thread)');
    is($r->{err}, '', 'unshare -U true: nothing on stderr');
}

# ---- processes that record nothing --------------------------------------------------------------
{
    my $d = tmpdir() . '/quiet';
    mkdir $d;
    my $r = run_under(prog => '/bin/bash', args => ['-c', 'for i in 1 2 3 4 5; do /bin/true; done'],
                      env => { LOCKPROF_OUT => "$d/q" });
    is($r->{exit}, 0, 'a shell starting 5 processes: exit 0');
    opendir(my $dh, $d) or die;
    my @files = sort grep { !/^\./ } readdir $dh;
    is("@files", 'q.block.pb.gz q.mutex.pb.gz q.owner',
       'only the first process of the run wrote profiles (and its claim of the prefix); the 5 it started, which recorded nothing, wrote none');
    my $p = read_profile("$d/q.block.pb.gz");
    ok((grep { /nothing contended/ } @{ $p->{comments} }), "the shell's profile says nothing was contended");
}

# ---- seccomp ----------------------------------------------------------------------------------------
# (Each mode through prctl, and strict, filter and thread-fork through syscall(SYS_seccomp) too.)
for my $run ((map { [$_] } qw(strict filter thread-fork exec sysexit)),
             (map { [$_, 'syscall'] } qw(strict filter thread-fork))) {
    my ($mode) = @$run;
    my $how = @$run > 1 ? ' (syscall)' : '';
    my $plain = run_under(prog => 'prog_seccomp', args => $run, preload => 0);
    is($plain->{exit}, $mode =~ /^(exec|sysexit)$/ ? 0 : 7, "seccomp $mode$how without the preload: its own exit")
        or diag($plain->{err});
    for my $env ({}, { LOCKPROF_BLOCK_RATE => 1, LOCKPROF_MUTEX_FRACTION => 1 }) {
        my $what = "seccomp $mode$how" . (%$env ? ' (every wait)' : '');
        my $r = run_under(prog => 'prog_seccomp', args => $run, env => $env, timeout => 30);
        same_as_plain($r, $plain, $what);
        my $p = read_profile($r->{block});
        ok((grep { /restricted its system calls/ } @{ $p->{comments} }),
           "$what: the profile was written when the restriction began, and says so");
        next unless $mode eq 'filter' && %$env;
        my ($nb) = total($p, frame => 'contend_before');
        my ($na) = total($p, frame => 'contend_after');
        is("$nb $na", '20 0', "$what: the profile has the 20 waits before the filter, none after");
    }
}

# ---- siglongjmp out of a wait ---------------------------------------------------------------------
my $lj_seq = 0;
sub longjmp_run {
    my ($prog, $mode, $rounds, %o) = @_;
    my $d = tmpdir() . '/lj' . ++$lj_seq;
    mkdir $d;
    return run_under(prog => $prog, args => [$mode, $rounds, $d], timeout => 60, %o), $d;
}
my $lj_norm = sub { $_[0] =~ s/^(measure|write_profiles|write threads) .*\n//mgr };
# prog_longjmp_chk: the same built with _FORTIFY_SOURCE, whose siglongjmp is __longjmp_chk.
for (['prog_longjmp', 'main'], ['prog_longjmp', 'worker'], ['prog_longjmp', 'altstack'],
     ['prog_longjmp_chk', 'worker']) {
    my ($prog, $m) = @$_;
    my $mode = $prog eq 'prog_longjmp' ? $m : "$m, _FORTIFY_SOURCE";
    my ($plain) = longjmp_run($prog, $m, 100, preload => 0);
    my ($r, $d) = longjmp_run($prog, $m, 100);
    same_as_plain($r, $plain, "siglongjmp ($mode)", normalize => $lj_norm);
    like($r->{out}, qr/^write_profiles 0\nwrite threads 0$/m, "siglongjmp ($mode): lockprof_write_profiles answers 0");
    my %m;
    for (split /\n/, $r->{out}) { $m{$1} = $2 if /^measure (\S+) (\d+)/ }
    my $b = read_profile($r->{block});
    my ($nm, $dm) = total($b, frame => 'measured_wait');
    my ($na) = total($b, frame => 'abandoned_wait');
    is("$nm $na", '20 100', "siglongjmp ($mode): the 20 ordinary waits, and the 100 abandoned ones once each");
    within($dm, $m{waits} // 0, 20, "siglongjmp ($mode): the ordinary waits, as the program measured them");
    my ($bc, $bd) = total($b, leaf => 'pthread_mutex_lock');
    my ($mc, $md) = total(read_profile($r->{mutex}));
    within($md, $bd, $bc, "siglongjmp ($mode): the mutex profile's delay is the block profile's ($bc waits)");
    my $th = slurp("$d/threads.txt") // '';
    like($th, qr/, 0 waiting,/, "siglongjmp ($mode): the threads view shows no wait in progress");
    unlike($th, qr/table was full/, "siglongjmp ($mode): the table of waits in progress never filled");
}
{
    my $slow = build_dir() . '/variants/slowunwind/liblockprof.so';
    -e $slow or BAIL_OUT("$slow is missing: make variants");
    my ($r, $d) = longjmp_run('prog_longjmp', 'main', 30, preload => $slow);
    is($r->{exit}, 0, 'siglongjmp, slow unwinder: exit 0');
    like($r->{out}, qr/^write_profiles 0$/m, 'siglongjmp, slow unwinder: lockprof_write_profiles answers 0');
    my ($nm) = total(read_profile($r->{block}), frame => 'measured_wait');
    is($nm, 20, 'siglongjmp, slow unwinder: the 20 ordinary waits after the jumps are recorded');
    like(slurp("$d/threads.txt") // '', qr/, 0 waiting,/, 'siglongjmp, slow unwinder: no wait in progress');
}

# ---- a raw clone ----------------------------------------------------------------------------------
# Made by a process that has waited already, and by one that has not entered lockprof yet (it
# has no token page of its own to be wiped in the child: lifecycle.c).
for my $first (0, 1) {
    my $w = $first ? 'raw clone before any wait' : 'raw clone';
    my $r = run_under(prog => 'prog_rawclone', args => [$first ? ('first') : ()]);
    is($r->{exit}, 0, "$w: the parent exits 0") or diag($r->{err});
    my ($child) = $r->{out} =~ /^child (\d+)$/m;
    ok($child, "$w: the parent made a child");
    my $deadline = time + 30;
    sleep 1 while $child && kill(0, $child) && time < $deadline;
    ok($child && !kill(0, $child), "$w: the child has ended");
    # The child's own measurements: it printed them to the same stdout.
    my %m;
    for (split /\n/, slurp($r->{outf}) // '') { $m{$1} = $2 if /^measure (\S+) (\d+)/ }
    my $p = read_profile($r->{block});
    my ($pb) = total($p, frame => 'parent_before_wait');
    my ($pa) = total($p, frame => 'parent_after_wait');
    my ($pc) = total($p, frame => 'child_wait');
    my $before = $first ? 0 : 2;
    is("$pb $pa $pc", "$before 2 0", "$w: the parent's profile has its own " . ($before + 2) .
       " waits, before and after the clone, and none of the child's");
    my $cp = read_profile("$r->{prefix}.$child.block.pb.gz");
    my ($cb) = total($cp, frame => 'parent_before_wait');
    my ($cc, $cd) = total($cp, frame => 'child_wait');
    is("$cb $cc", '0 2',
       "$w: the child's profile (PREFIX.$child) has its own 2 waits and none of its parent's");
    within($cd, $m{child_total} // 0, 2, "$w: the child's waits, as it measured them");
}

done_testing();
