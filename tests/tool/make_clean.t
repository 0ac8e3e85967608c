#!/usr/bin/perl
# make_clean.t — what `make clean` removes (dry runs, make -n: nothing is removed): build/ and
# the sanitizer trees `make check SANITIZE=...` makes beside it, or the one tree SANITIZE or
# BUILD names. Run from the repository root:
#   prove --exec tests/lib/run-one tests/tool/make_clean.t
use strict;
use warnings;
use Test::More;
use lib 'tests/lib';
use LP qw(run_cmd);

# A make run by `make check` inherits its command line (MAKEFLAGS) and BUILD: not this one.
delete @ENV{qw(MAKEFLAGS MFLAGS MAKEOVERRIDES MAKELEVEL BUILD SANITIZE)};

my $elsewhere = '/tmp/lockprof-elsewhere';
for my $case (
    [[], 'build build-address build-undefined build-thread',
     'make clean: build/ and the sanitizer trees'],
    [['SANITIZE=address'], 'build-address', 'make clean SANITIZE=address: its tree alone'],
    [['SANITIZE=thread'], 'build-thread', 'make clean SANITIZE=thread: its tree alone'],
    [["BUILD=$elsewhere"], $elsewhere, 'make clean BUILD=DIR: DIR alone'],
) {
    my ($args, $trees, $name) = @$case;
    my ($st, $out, $err) = run_cmd('make', '--no-print-directory', '-n', 'clean', @$args);
    is($st, 0, "$name: exit 0") or diag($err);
    is($out =~ s/\s+/ /gr =~ s/^ | $//gr, "rm -rf $trees", $name);
}

done_testing();
