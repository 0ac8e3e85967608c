#!/usr/bin/perl
# Convoy: 3 threads wait while one holds a mutex ~50 ms, 4 rounds. The block
# profile holds the waiters' measured waits at their function (leaf pthread_mutex_lock); the
# mutex profile charges the holder's function (leaf pthread_mutex_unlock) what it caused.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $r = run_under(prog => 'prog_convoy', args => [4, 50]);
is($r->{exit}, 0, 'the program exits 0 under the preload');
is($r->{err}, '', 'and says nothing on stderr');
my $m = $r->{measure};
is($m->{wait_count}, 12, 'the program measured 12 waits');

my $b = read_profile($r->{block});
is($b->{sample_type}, 'contentions/count delay/nanoseconds', 'block: Go sample types');
my ($bc, $bd) = total($b, leaf => 'pthread_mutex_lock', top => 'convoy_waiter_wait');
is($bc, 12, 'block: 12 contentions at convoy_waiter_wait');
within($bd, $m->{wait_total}, 12, 'block: Σ delay at convoy_waiter_wait = measured waits');
my ($ac, $ad) = total($b, skip_leaf => 'pthread_join');
is($ac, 12, 'block: nothing else was recorded (but the main thread\'s joins)')
    or diag(join("\n", map { "  $_->{count} $_->{delay} @{$_->{frames}}" } @{ $b->{samples} }));

my $x = read_profile($r->{mutex});
my ($hc, $hd) = total($x, leaf => 'pthread_mutex_unlock', top => 'convoy_holder_release');
is($hc, 4, 'mutex: 4 charges at convoy_holder_release (one per round)');
within($hd, $m->{holder_owed}, 12, 'mutex: the holder is charged what it caused');
ok(grep({ $_ eq 'convoy_holder' } map { @{ $_->{frames} } } @{ $x->{samples} }),
   'mutex: the holder\'s caller convoy_holder is in the stack');
my (undef, $all) = total($x);
cmp_ok($all, '<=', $bd, 'mutex: Σ charges <= Σ waits');

# The same convoy at the default settings: recorded, and still unbiased within the sampling.
my $d = run_under(prog => 'prog_convoy', args => [4, 50],
                  env => { LOCKPROF_BLOCK_RATE => undef, LOCKPROF_MUTEX_FRACTION => undef });
is($d->{exit}, 0, 'default settings: exit 0');
my $db = read_profile($d->{block});
my (undef, $dd) = total($db, leaf => 'pthread_mutex_lock', top => 'convoy_waiter_wait');
within($dd, $d->{measure}{wait_total}, 12,
       'default settings: 50 ms waits exceed the 10 us rate, so all are recorded exactly');
done_testing();
