#!/usr/bin/perl
# How lockprof finds the functions it forwards to (interpose/resolve.h): a call a short process
# never makes is not looked up at its start, and no lookup waits for the loader's lock while
# another thread holds it. dlopen runs a library's constructors holding that lock; a
# constructor that starts a thread and waits for it, while the thread makes the process's first
# read-write lock, semaphore and timed-join calls, finishes (with a lookup in the new thread it
# would wait for ever).
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;
use Cwd qw(abs_path);

my $lib = abs_path(build_dir() . '/tests/libctorthread.so');
for my $preload (0, 1) {
    my $under = $preload ? 'under the preload' : 'without the preload';
    my $r = run_under(prog => 'prog_ctorthread', args => [$lib], preload => $preload,
                      timeout => 30);
    is($r->{exit}, 0, "$under: a constructor that waits for its thread: exit 0")
        or diag("status $r->{status}: $r->{err}");
    like($r->{out}, qr/^done 1$/m, "$under: the constructor saw its thread end");
}
done_testing();
