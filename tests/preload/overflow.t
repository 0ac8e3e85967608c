#!/usr/bin/perl
# Table overflow: more distinct stacks than the table holds keeps totals whole,
# the excess under the synthetic frame lockprof::stack_table_full.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $big = run_under(prog => 'prog_manystacks');
is($big->{exit}, 0, 'exit 0');
like($big->{out}, qr/^waits 512$/m, 'the program waited 512 times');
my $pb = read_profile($big->{block});
my ($c, $d, $n) = total($pb, leaf => 'pthread_cond_timedwait');
is($c, 512, 'a large table: 512 waits');
is($n, 512, 'a large table: in 512 distinct stacks');

my $small = run_under(prog => 'prog_manystacks', env => { LOCKPROF_MAX_STACKS => 64 });
is($small->{exit}, 0, 'LOCKPROF_MAX_STACKS=64: exit 0');
is($small->{err}, '', 'LOCKPROF_MAX_STACKS=64: no complaint');
my $ps = read_profile($small->{block});
my ($sc, $sd, $sn) = total($ps);
is($sc, 512, 'a 64-entry table: still 512 waits in all');
my ($fc) = total($ps, leaf => 'lockprof::stack_table_full');
cmp_ok($fc, '>=', 512 - 64, 'the excess is counted under lockprof::stack_table_full');
cmp_ok($sn, '<=', 65, 'no more samples than entries (+1 synthetic)');
ok((grep { /stack table: \d+ of 64 entries; \d+ events counted under lockprof::stack_table_full/ } @{ $ps->{comments} }),
   'a comment says the table was full and how much went to the synthetic stack');
cmp_ok(abs($sd - $d), '<', 0.2 * $d, 'the total delay is of the same size as with the large table');
done_testing();
