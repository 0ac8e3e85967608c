#!/usr/bin/perl
# Two holders with different hold times (40 ms, then 15 ms) are each charged their own part.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $r = run_under(prog => 'prog_two_holders');
is($r->{exit}, 0, 'exit 0');
my $m = $r->{measure};
my $x = read_profile($r->{mutex});
my ($c1, $d1) = total($x, leaf => 'pthread_mutex_unlock', top => 'first_holder_release');
my ($c2, $d2) = total($x, leaf => 'pthread_mutex_unlock', top => 'second_holder_release');
is($c1, 4, 'first holder: one charge per round');
within($d1, $m->{first_owed}, 8, 'first holder: charged both waits up to its release');
is($c2, 4, 'second holder: one charge per round (the other thread still waiting)');
within($d2, $m->{second_owed}, 4, 'second holder: charged only its own 15 ms part');
cmp_ok($d1, '>', 3 * $d2, 'the 40 ms holder with 2 waiters owes much more than the 15 ms one');
my $b = read_profile($r->{block});
my (undef, $bd) = total($b, leaf => 'pthread_mutex_lock', top => 'second_holder_take');
within($bd, $m->{wait_total}, 8, 'block: the waits at second_holder_take');
done_testing();
