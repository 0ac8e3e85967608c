#!/usr/bin/perl
# The host program's life is untouched (DESIGN §6): nothing lockprof does changes how a program
# ends or what it may do.
#
# Warnings never raise a signal: with standard error a pipe whose reader has gone, a program
# that gets lockprof's one-line warning (a malformed variable at start, an unwritable output
# path at exit) still ends as it does without lockprof, with its own exit status, not killed
# by SIGPIPE.
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

done_testing();
