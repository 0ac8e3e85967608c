#!/usr/bin/perl
# threads_churn.t — 10,000 short-lived threads, each waiting once for a mutex held by main
# (batches of 100, each thread blocked in futex(2) on the mutex before main releases it):
# the block profile counts every wait exactly at rate 1, and lockprof's per-thread state
# (a few bytes of TLS; stacks are captured on the thread's own stack) goes away with each thread:
# resident memory after 10,000 threads is within 1 MiB of what it was after 1,000.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $plain = run_under(prog => 'prog_threads_churn', preload => 0);
my $r = run_under(prog => 'prog_threads_churn');
is($r->{exit}, 0, 'exit 0 under the preload');
is($r->{err}, '', 'nothing on stderr');
my $m = $r->{measure};
is($m->{wait_count}, 10000, 'the program measured 10,000 waits');

my $b = read_profile($r->{block});
my ($c, $d) = total($b, leaf => 'pthread_mutex_lock', top => 'churn_wait');
is($c, 10000, 'block: exactly 10,000 waits at churn_wait');
within($d, $m->{wait_total}, $c, 'block: their delay is what the threads measured');
my $x = read_profile($r->{mutex});
my (undef, $charged) = total($x, leaf => 'pthread_mutex_unlock');
cmp_ok($charged, '<=', $d, 'mutex: Σ charges <= Σ waits');

cmp_ok($m->{rss_1000_kb}, '>', 0, 'VmRSS was read after 1,000 threads');
cmp_ok($m->{rss_10000_kb}, '<=', $m->{rss_1000_kb} + 1024,
       'VmRSS after 10,000 threads <= after 1,000 + 1 MiB');
note(sprintf('VmRSS under the preload: %d kB after 1,000 threads, %d kB after 10,000 (%+d kB); '
             . 'without it: %d kB, %d kB (%+d kB)',
             $m->{rss_1000_kb}, $m->{rss_10000_kb}, $m->{rss_10000_kb} - $m->{rss_1000_kb},
             $plain->{measure}{rss_1000_kb} // 0, $plain->{measure}{rss_10000_kb} // 0,
             ($plain->{measure}{rss_10000_kb} // 0) - ($plain->{measure}{rss_1000_kb} // 0)));
done_testing();
