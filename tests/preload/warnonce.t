#!/usr/bin/perl
# warnonce (DESIGN §6: one warning line, never a flood): a program that writes its profiles
# through the API in a loop, into a directory that does not exist, is warned once for those
# writes; each process's final profile at exit is always reported.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $prefix = tmpdir() . '/missing/p';
my $r = run_under(prog => 'prog_forkwrite', args => [2, 20], env => { LOCKPROF_OUT => $prefix });
is($r->{exit}, 0, 'exit 0');
my @api = $r->{err} =~ /^lockprof: cannot write .*\(lockprof_write_profiles\)/mg;
my @exit = $r->{err} =~ /^lockprof: cannot write .*\(exit\)/mg;
is(scalar(@api), 1, 'the API\'s failing writes are warned about once') or diag($r->{err});
is(scalar(@exit), 3, 'each process\'s final profile failure is reported (the parent, 2 children)')
    or diag($r->{err});
done_testing();
