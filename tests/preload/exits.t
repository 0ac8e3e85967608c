#!/usr/bin/perl
# How a program ends (DESIGN §5): every ending behaves exactly as without
# lockprof (the same exit status or signal, the same output), and leaves a profile when the
# manual (lockprof(1), FILES) says it does: return, exit from any thread, quick_exit and the
# end of the last thread
# (pthread_exit or SYS_exit from main or a worker) do; _exit does not; a
# default-fatal signal does when it is in LOCKPROF_FATAL_SIGNALS (INT,TERM by default; HUP,
# QUIT, PIPE, ABRT, … on request), and does not otherwise.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

sub ending {
    my ($r) = @_;
    defined $r->{signal} ? "signal $r->{signal}" : "exit $r->{exit}";
}

sub case {
    my ($how, $profile, %o) = @_;
    my $what = $o{what} // $how;
    my $ref = run_under(prog => 'prog_exits', args => [$how], preload => 0);
    my $r = run_under(prog => 'prog_exits', args => [$how], env => $o{env} || {});
    same_as_plain($r, $ref, $what, normalize => sub { $_[0] =~ s/\d+//gr });
    if ($profile) {
        ok(-s $r->{block}, "$what: a block profile was written") or return;
        my ($c, $d) = total(read_profile($r->{block}), frame => 'exits_waiter_wait');
        is($c, 2, "$what: with the program's 2 waits");
        within($d, $r->{measure}{wait_total}, 2, "$what: and their measured delay");
        ok(-s $r->{mutex}, "$what: a mutex profile was written");
    } else {
        ok(!-e $r->{block} && !-e $r->{mutex}, "$what: no profile (as lockprof(1) says)");
    }
    return $ref;
}

is(ending(case('return', 1)), 'exit 0', 'return from main: exit 0');
is(ending(case('thread_exit', 1)), 'exit 3', 'exit(3) from another thread: exit 3');
is(ending(case('_exit', 0)), 'exit 4', '_exit(4): exit 4');
is(ending(case('quick_exit', 1)), 'exit 5', 'quick_exit(5): exit 5');
is(ending(case('abort', 0)), 'signal 6', 'abort: SIGABRT');
# The last thread ends the process, however it ends (lockprof's threads never keep it alive).
is(ending(case('main_pthread_exit', 1)), 'exit 0',
   'pthread_exit from main, then the last worker returns: exit 0');
is(ending(case('worker_sys_exit', 1)), 'exit 0',
   'pthread_exit from main, then the last worker calls SYS_exit: exit 0');
is(ending(case('main_sys_exit', 1)), 'exit 0', 'SYS_exit from main, the last thread: exit 0');
for my $sig (qw(TERM INT)) {
    case($sig, 1, what => "SIG$sig (fatal by default)");
}
for my $sig (qw(HUP QUIT PIPE USR1 ALRM)) {
    case($sig, 0, what => "SIG$sig, not in LOCKPROF_FATAL_SIGNALS");
}
my $wide = 'HUP,QUIT,PIPE,ABRT,USR1,ALRM,TERM';
for my $sig (qw(HUP QUIT PIPE USR1 ALRM)) {
    case($sig, 1, what => "SIG$sig in LOCKPROF_FATAL_SIGNALS=$wide",
         env => { LOCKPROF_FATAL_SIGNALS => $wide });
}
case('abort', 1, what => "abort with ABRT in LOCKPROF_FATAL_SIGNALS",
     env => { LOCKPROF_FATAL_SIGNALS => 'sigabrt' });
# Narrowed: TERM left out of the list leaves no profile.
case('TERM', 0, what => 'SIGTERM with LOCKPROF_FATAL_SIGNALS=INT',
     env => { LOCKPROF_FATAL_SIGNALS => 'INT' });
case('INT', 0, what => 'SIGINT with LOCKPROF_FATAL_SIGNALS=none',
     env => { LOCKPROF_FATAL_SIGNALS => 'none' });

done_testing();
