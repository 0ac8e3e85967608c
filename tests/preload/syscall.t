#!/usr/bin/perl
# libc's syscall() with every number but SYS_futex behaves exactly as without lockprof
# (prog_syscall): gettid, getpid, getrandom, mmap, errno kept on success, ENOSYS for unknown
# numbers, numbers with bits above 32; clone and clone3 with a new stack whose child returns
# from syscall() on that stack, vfork whose child returns on the parent's stack, a thread that
# ends itself with SYS_exit. And syscall() called by another library's constructor before
# lockprof's own has run (libearly, preloaded after it) returns what it returns without
# lockprof, futex calls included.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $plain = run_under(prog => 'prog_syscall', preload => 0);
is($plain->{exit}, 0, 'without the preload: exit 0') or diag($plain->{err});
my $r = run_under(prog => 'prog_syscall');
same_as_plain($r, $plain, 'under the preload');
like($r->{out}, qr/^clone: child ran on its stack: 1, exited 0$/m,
     'clone with a new stack: the child ran on it');
like($r->{out}, qr/^clone3: child ran on its stack: 1, exited 0$/m,
     'clone3 with a new stack: the child ran on it');
like($r->{out}, qr/^vfork: child exited 7$/m, 'vfork: the child left with its own status');
like($r->{out}, qr/^thread SYS_exit: joined 1/m, 'a thread\'s SYS_exit: joined');
like($r->{out}, qr/^invalid number: -1, errno ENOSYS$/m, 'an unknown number: -1, ENOSYS');
like($r->{out}, qr/^errno after a success: 77 \(result right\)$/m, 'errno kept on success');

# Before lockprof's constructor: libearly's constructor runs first.
my $early = build_dir() . '/tests/libearly.so';
$early = Cwd::abs_path($early);
$plain = run_under(prog => 'prog_syscall', preload => $early);
$r = run_under(prog => 'prog_syscall', preload => lib_path() . " $early");
same_as_plain($r, $plain, 'called before lockprof started',
              normalize => sub { $_[0] =~ s/^(measure|lockprof before its start:) .*\n//mgr });
like($r->{out}, qr/^lockprof before its start: yes$/m,
     'libearly\'s constructor ran before lockprof\'s');
like($r->{out}, qr/^early futex wait on a changed word: -1, errno EAGAIN$/m,
     'a futex call then: EAGAIN, as without lockprof');
like($r->{out}, qr/^early futex wake of nobody: 0, errno 55$/m, 'errno kept on success');
done_testing();
