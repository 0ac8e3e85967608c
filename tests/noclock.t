#!/usr/bin/perl
# An uncontended lock reads no clock; with both rates 0 no clock is read on any path
# (DESIGN §3.1). The program counts calls to clock_gettime, which it defines itself.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $r = run_under(prog => 'prog_clockcount', args => ['contend']);
is($r->{exit}, 0, 'exit 0');
like($r->{out}, qr/^clock_reads uncontended 0$/m, 'rate 1 / fraction 1: 100000 uncontended pairs read no clock');
my ($contended) = $r->{out} =~ /^clock_reads contended (\d+)$/m;
cmp_ok($contended // 0, '>', 0, 'the counter works: contention at rate 1 reads the clock');

my $off = run_under(prog => 'prog_clockcount', args => ['contend'],
                    env => { LOCKPROF_BLOCK_RATE => 0, LOCKPROF_MUTEX_FRACTION => 0 });
like($off->{out}, qr/^clock_reads uncontended 0$/m, 'rates 0: no clock when uncontended');
like($off->{out}, qr/^clock_reads contended 0$/m, 'rates 0: no clock even when contended');
done_testing();
