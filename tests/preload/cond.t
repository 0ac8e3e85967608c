#!/usr/bin/perl
# Condition variables: a measured pthread_cond_wait shows at its caller; a timed
# wait that times out counts; a thread entering pthread_cond_wait while others wait for its
# mutex is charged at its pthread_cond_wait stack; C11 cnd_wait likewise; a program built
# against the old (GLIBC_2.2.5) ABI runs correctly and is profiled.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $r = run_under(prog => 'prog_cond');
is($r->{exit}, 0, 'exit 0');
like($r->{out}, qr/^timedout 3$/m, 'the three timed waits timed out');
my $m = $r->{measure};
my $b = read_profile($r->{block});

my ($c, $d) = total($b, leaf => 'pthread_cond_wait', top => 'cond_waiter_fn');
is($c, $m->{cond_wait_count}, 'pthread_cond_wait at cond_waiter_fn: every wait counted');
within($d, $m->{cond_wait_total}, $c, 'pthread_cond_wait at cond_waiter_fn: measured delay');

($c, $d) = total($b, leaf => 'pthread_cond_timedwait', top => 'cond_timeout_fn');
is($c, 3, 'timed waits that time out count (3)');
within($d, $m->{timedwait_total}, 3, 'and their delay is what the program measured');

($c, $d) = total($b, leaf => 'pthread_mutex_lock', top => 'mutex_waiter_fn');
is($c, 6, 'the mutex waiters: 6 contended waits');
within($d, $m->{mutex_wait_total}, 6, 'the mutex waiters: measured delay');

($c, $d) = total($b, leaf => 'cnd_wait', top => 'c11_waiter_fn');
is($c, 1, 'C11 cnd_wait counted at its caller');
within($d, $m->{c11_wait_total}, 1, 'C11 cnd_wait: measured delay');

my $x = read_profile($r->{mutex});
($c, $d) = total($x, leaf => 'pthread_cond_wait', top => 'cond_releaser_fn');
is($c, 3, 'mutex: the release inside pthread_cond_wait is charged, once per round');
within($d, $m->{releaser_owed}, 6, 'mutex: at the pthread_cond_wait stack, what the waiters waited');

# The old ABI.
my $plain = run_under(prog => 'prog_cond_old', preload => 0);
my $o = run_under(prog => 'prog_cond_old');
is($o->{exit}, 0, 'old ABI: exit 0 under the preload');
is($o->{out}, $plain->{out}, 'old ABI: same output as without the preload');
like($o->{out}, qr/consumed sum 20100 of 200 items/, 'old ABI: every item consumed');
my $ob = read_profile($o->{block});
my ($oc) = total($ob, frame => 'old_abi_consume');
cmp_ok($oc, '>', 0, 'old ABI: the consumer\'s waits are in the block profile');
ok((grep { $_->{frames}[0] =~ /^pthread_cond_(timed)?wait$/ && grep({ $_ eq 'old_abi_consume' } @{ $_->{frames} }) } @{ $ob->{samples} }),
   'old ABI: under the pthread_cond_*wait leaf');
done_testing();
