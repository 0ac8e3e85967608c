#!/usr/bin/perl
# Semaphores: contended sem_wait, sem_timedwait and sem_clockwait are in the block
# profile at their callers with the waits the program measured; a timed wait that times out
# and a wait interrupted by a signal are waits; glibc's EINVAL cases, available tokens and a
# pending cancel are not, and behave exactly as without the preload (a pending cancel is acted
# on before a token is taken). Nobody is charged: the mutex profile holds no semaphore.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $plain = run_under(prog => 'prog_sem', preload => 0, timeout => 60);
my $r = run_under(prog => 'prog_sem', timeout => 60);
is($plain->{exit}, 0, 'without the preload: exit 0');
same_as_plain($r, $plain, 'under the preload');
(my $ro = $r->{out}) =~ s/^measure .*\n//mg;
like($ro, qr/^consumed 9 tokens, value 0, errno kept by 9$/m,
     'every token consumed; errno as it was after each successful wait');
like($ro, qr/^timeout sem_timedwait: rc -1 errno ETIMEDOUT$/m, 'sem_timedwait timed out: -1/ETIMEDOUT');
like($ro, qr/^timeout sem_clockwait: rc -1 errno ETIMEDOUT$/m, 'sem_clockwait timed out: -1/ETIMEDOUT');
like($ro, qr/^eintr sem_wait: rc -1 errno EINTR$/m, 'sem_wait interrupted: -1/EINTR');
my @einval = $ro =~ /^(einval .*)$/mg;
is(scalar(@einval), 10, 'ten EINVAL cases');
is(scalar(grep { /rc -1 errno EINVAL, value after (\d)$/ && /value $1:/ } @einval), 10,
   'each returned -1/EINVAL and took no token');
like($ro, qr/^pending sem_wait value 1: cancelled, value after 1$/m,
     'a pending cancel: sem_wait is cancelled and the token is not taken');
like($ro, qr/^pending sem_timedwait value 1: cancelled, value after 1$/m,
     'a pending cancel: sem_timedwait likewise');
like($ro, qr/^pending sem_clockwait value 1: returned 0, value after 0$/m,
     'a pending cancel: glibc 2.36\'s sem_clockwait takes the token (it tests for cancel only when it blocks)');

my $m = $r->{measure};
my $b = read_profile($r->{block});
for (['sem_wait', 'sem_consume_wait', 'wait'], ['sem_timedwait', 'sem_consume_timed', 'timed'],
     ['sem_clockwait', 'sem_consume_clock', 'clock']) {
    my ($leaf, $fn, $k) = @$_;
    is($m->{"consume_${k}_count"}, 3, "$fn waited 3 times");
    my ($c, $d) = total($b, leaf => $leaf, top => $fn);
    is($c, 3, "$leaf at $fn: 3 contended waits");
    within($d, $m->{"consume_${k}_total"}, 3, "$leaf at $fn: the measured waits");
}
my ($c, $d) = total($b, leaf => 'sem_timedwait', top => 'sem_timeout_timed');
is($c, 1, 'a sem_timedwait that timed out is a wait');
within($d, $m->{timeout_timed_total}, 1, 'recorded with its measured wait');
($c, $d) = total($b, leaf => 'sem_clockwait', top => 'sem_timeout_clock');
is($c, 1, 'a sem_clockwait that timed out is a wait');
within($d, $m->{timeout_clock_total}, 1, 'recorded with its measured wait');
($c, $d) = total($b, leaf => 'sem_wait', top => 'sem_interrupted');
is($c, 1, 'a sem_wait interrupted by a signal is a wait');
within($d, $m->{eintr_total}, 1, 'recorded with its measured wait');
for my $fn (qw(sem_einval sem_available sem_cancel_pending)) {
    my ($n) = total($b, frame => $fn);
    is($n, 0, "nothing recorded at $fn");
}
my $sem = 0;
$sem += (total($b, leaf => $_))[0] for qw(sem_wait sem_timedwait sem_clockwait);
is($sem, 12, 'exactly 12 semaphore waits in all')
    or diag(join("\n", map { "  $_->{count} $_->{delay} @{$_->{frames}}" } @{ $b->{samples} }));

my $x = read_profile($r->{mutex});
my ($xc) = total($x);
is($xc, 0, 'mutex profile: nobody is charged for a semaphore');

# The block profile off: the calls pass straight through.
my $off = run_under(prog => 'prog_sem', env => { LOCKPROF_BLOCK_RATE => 0 }, timeout => 60);
same_as_plain($off, $plain, 'block rate 0');
my ($oc) = total(read_profile($off->{block}));
is($oc, 0, 'block rate 0: nothing recorded');
done_testing();
