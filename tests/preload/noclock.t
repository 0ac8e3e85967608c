#!/usr/bin/perl
# An uncontended lock reads no clock; with both rates 0 no clock is read on any path
# (DESIGN §3.1). The program counts calls to clock_gettime, which it defines itself; these
# runs keep lockprof on clock_gettime (LOCKPROF_TSC=0) so that every read is one it counts.
#
# The time-stamp counter (core/clock.h): where the kernel's clock source is "tsc" and the CPU
# says the counter is invariant, a contended lock 100 ms into the program (calibrated by then)
# reads no clock_gettime at all, and its waits — main holds the mutex 30 ms after the waiter
# sleeps in it, 5 times — are in the block profile at their length: at least 5 x 30 ms, and
# no more than the waiter's own timing of its lock calls (a system call each side; lockprof's
# wait lies inside it), + 1 ms. Elsewhere lockprof stays on clock_gettime, which is checked
# instead. With LOCKPROF_TSC=0, clock_gettime in both cases.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $r = run_under(prog => 'prog_clockcount', args => ['contend'], env => { LOCKPROF_TSC => 0 });
is($r->{exit}, 0, 'exit 0');
like($r->{out}, qr/^clock_reads uncontended 0$/m, 'rate 1 / fraction 1: 100000 uncontended pairs read no clock');
my ($contended) = $r->{out} =~ /^clock_reads contended (\d+)$/m;
cmp_ok($contended // 0, '>', 0, 'the counter works: contention at rate 1 reads the clock');

my $off = run_under(prog => 'prog_clockcount', args => ['contend'],
                    env => { LOCKPROF_BLOCK_RATE => 0, LOCKPROF_MUTEX_FRACTION => 0,
                             LOCKPROF_TSC => 0 });
like($off->{out}, qr/^clock_reads uncontended 0$/m, 'rates 0: no clock when uncontended');
like($off->{out}, qr/^clock_reads contended 0$/m, 'rates 0: no clock even when contended');

# ---- the time-stamp counter -----------------------------------------------------------------
my $kernel_tsc = (slurp('/sys/devices/system/clocksource/clocksource0/current_clocksource')
                  // '') =~ /^tsc$/m;
my $invariant = (slurp('/proc/cpuinfo') // '') =~ /^flags\s*:.*\bnonstop_tsc\b/m;
my $tsc = $kernel_tsc && $invariant;
note('this machine: the kernel\'s clock source is ' . ($kernel_tsc ? '' : 'not ')
     . 'tsc, the counter is ' . ($invariant ? '' : 'not ') . 'invariant');
for my $case ([1, $tsc], [0, 0]) {
    my ($setting, $on) = @$case;
    my $late = run_under(prog => 'prog_clockcount', args => ['late'],
                         env => { LOCKPROF_TSC => $setting });
    my $what = "LOCKPROF_TSC=$setting";
    is($late->{exit}, 0, "$what: exit 0") or diag($late->{err});
    my ($reads) = $late->{out} =~ /^clock_reads late (\d+)$/m;
    if ($on) {
        is($reads, 0, "$what: 5 contended waits 100 ms in read no clock_gettime (the counter)");
    } else {
        cmp_ok($reads // 0, '>', 0, "$what: 5 contended waits 100 ms in read clock_gettime");
    }
    my $own = $late->{measure}{late_wait_ns} // 0;
    my ($n, $delay) = total(read_profile($late->{block}), leaf => 'pthread_mutex_lock',
                            frame => 'contender_late');
    is($n, 5, "$what: block: the 5 waits");
    cmp_ok($delay // 0, '>=', 5 * 30e6, "$what: block: their delay >= 5 x 30 ms held");
    cmp_ok($delay // 0, '<=', $own + 1e6,
           "$what: block: their delay <= the waiter's own timing of them + 1 ms");
    note(sprintf('%s: delay %.3f ms, the waiter measured %.3f ms', $what, ($delay // 0) / 1e6,
                 $own / 1e6));
}
done_testing();
