#!/usr/bin/perl
# Pipes and queues: blocking read, readv, __read_chk on pipes, FIFOs and eventfds,
# write and writev on a full pipe, mq_receive, mq_timedreceive and msgrcv are waits at their
# caller, with the delays the programs measured; reads that never block, regular files and
# sockets (unless LOCKPROF_IO names them) are not; the descriptor cache follows close, dup2,
# dup3, close_range, closefrom and fclose; a thread cancelled in read runs its cleanup
# handler; results, errno, output and exit status are those of the program without lockprof.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $hold = 30;

# Runs prog with args under the preload and without it: same exit status and check lines.
sub run_both {
    my (%o) = @_;
    my $name = join(' ', $o{prog}, @{ $o{args} });
    my $plain = run_under(%o, preload => 0);
    my $r = run_under(%o);
    same_as_plain($r, $plain, $name);
    return $r;
}

sub samples_text {
    my ($p) = @_;
    join("\n", map { "  $_->{count} $_->{delay} @{$_->{frames}}" } @{ $p->{samples} });
}

# The waits at `top` under `leaf`: exactly `n`, with the measured delay.
sub waits_ok {
    my ($p, $m, $leaf, $top, $n, $key) = @_;
    $key //= $top;
    my ($c, $d) = total($p, leaf => $leaf, top => $top);
    is($c, $n, "$leaf at $top: $n waits") or diag(samples_text($p));
    is($m->{"${key}_count"}, $n, "$top: the program measured $n calls");
    within($d, $m->{"${key}_total"}, $n, "$leaf at $top: the measured delay");
}

# ---- blocking reads and writes on descriptors ----
for my $case (['read', 'read', 'blocked_read'], ['readv', 'readv', 'blocked_readv'],
              ['fifo', 'read', 'blocked_read'], ['eventfd', 'read', 'blocked_read'],
              ['write', 'write', 'blocked_write'], ['writev', 'writev', 'blocked_writev']) {
    my ($mode, $leaf, $top) = @$case;
    my $r = run_both(prog => 'prog_pipe', args => [$mode, 4, $hold]);
    my $p = read_profile($r->{block});
    waits_ok($p, $r->{measure}, $leaf, $top, 4);
    my ($all) = total($p, leaf => $leaf);
    is($all, 4, "$mode: no other $leaf waits (the waker's writes, the drain's reads)");
    if ($mode eq 'eventfd') {
        my ($w) = total($p, leaf => 'write');
        is($w, 0, 'eventfd: writes are not profiled');
    }
}

# __read_chk: a fortified read, shown under the leaf "read".
{
    my $prog = prog_path('prog_readchk');
    my $dis = `objdump -d --no-show-raw-insn '$prog' 2>/dev/null`;
    my ($body) = $dis =~ /<chk_blocked_read>:\n(.*?)\n\n/s;
    like($body // '', qr/call.*<__read_chk\@plt>/, 'prog_readchk: chk_blocked_read calls __read_chk');
    my $r = run_both(prog => 'prog_readchk', args => [4, $hold]);
    waits_ok(read_profile($r->{block}), $r->{measure}, 'read', 'chk_blocked_read', 4);
}

# ---- queues ----
{
    my $r = run_both(prog => 'prog_queue', args => ['mq', 4, $hold]);
    my $p = read_profile($r->{block});
    my $m = $r->{measure};
    waits_ok($p, $m, 'mq_receive', 'mq_blocked_receive', 4);
    waits_ok($p, $m, 'mq_timedreceive', 'mq_timeout', 4);
    waits_ok($p, $m, 'mq_timedreceive', 'mq_timed_blocked', 4);
    my ($ready) = total($p, frame => 'mq_ready');
    is($ready, 0, 'mq: 2000 receives of a message already there are not waits');
    my ($a) = total($p, leaf => 'mq_receive');
    my ($b) = total($p, leaf => 'mq_timedreceive');
    is($a + $b, 12, 'mq: nothing else (bad deadlines, EAGAIN, EMSGSIZE never wait)');
}
{
    my $r = run_both(prog => 'prog_queue', args => ['msg', 4, $hold]);
    my $p = read_profile($r->{block});
    waits_ok($p, $r->{measure}, 'msgrcv', 'msg_blocked_receive', 4);
    my ($c) = total($p, leaf => 'msgrcv');
    is($c, 4, 'msg: IPC_NOWAIT (ENOMSG), a message already there, errors: never waits');
}

# ---- what LOCKPROF_IO selects ----
{
    my $r = run_both(prog => 'prog_pipe', args => ['socket', 4, $hold]);
    my ($c) = total(read_profile($r->{block}), leaf => 'read');
    is($c, 0, 'a blocking socket read is not a wait by default');
    my $s = run_under(prog => 'prog_pipe', args => ['socket', 4, $hold],
                      env => { LOCKPROF_IO => 'socket' });
    waits_ok(read_profile($s->{block}), $s->{measure}, 'read', 'blocked_read', 4);
    my $n = run_under(prog => 'prog_pipe', args => ['read', 4, $hold],
                      env => { LOCKPROF_IO => 'none' });
    is($n->{exit}, 0, 'LOCKPROF_IO=none: exit 0');
    is($n->{err}, '', 'LOCKPROF_IO=none: nothing on stderr');
    my ($nc) = total(read_profile($n->{block}), leaf => 'read');
    is($nc, 0, 'LOCKPROF_IO=none: no read is a wait');
    my $q = run_under(prog => 'prog_queue', args => ['msg', 2, $hold],
                      env => { LOCKPROF_IO => 'pipe' });
    my ($qc) = total(read_profile($q->{block}), leaf => 'msgrcv');
    is($qc, 0, 'LOCKPROF_IO=pipe: msgrcv is not profiled');
}

# ---- reads that never wait ----
for my $env ({}, { LOCKPROF_BLOCK_RATE => undef, LOCKPROF_MUTEX_FRACTION => undef }) {
    my $what = %$env ? 'default settings' : 'rate 1';
    my $r = run_both(prog => 'prog_pipe', args => ['ready'], env => $env);
    my $p = read_profile($r->{block});
    my ($c) = total($p, leaf => 'read');
    my ($v) = total($p, leaf => 'readv');
    my ($w) = total($p, leaf => 'write');
    is($c + $v + $w, 0, "$what: reads of pipes with data ready (1 byte, 60000 bytes), of a file, "
                      . "of a socket: no waits") or diag(samples_text($p));
}
{
    # LOCKPROF_TSC=0: every clock read is a clock_gettime the program counts (noclock.t).
    my $r = run_under(prog => 'prog_ioclock', env => { LOCKPROF_BLOCK_RATE => undef,
                                                       LOCKPROF_MUTEX_FRACTION => undef,
                                                       LOCKPROF_TSC => 0 });
    is($r->{exit}, 0, 'prog_ioclock: exit 0');
    like($r->{out}, qr/^clock_reads file 0$/m, 'reads of a regular file read no clock');
    like($r->{out}, qr/^clock_reads socket 0$/m, 'reads and writes of a socket read no clock');
    my ($pipe) = $r->{out} =~ /^clock_reads pipe (\d+)$/m;
    cmp_ok($pipe // 0, '>', 0, 'the counter works: pipe reads and writes are timed');
    my $off = run_under(prog => 'prog_ioclock', env => { LOCKPROF_BLOCK_RATE => 0,
                                                         LOCKPROF_MUTEX_FRACTION => undef,
                                                         LOCKPROF_TSC => 0 });
    like($off->{out}, qr/^clock_reads pipe 0$/m,
         'block rate 0 (mutex profile on): pipe reads and writes read no clock');
}

# ---- the descriptor cache follows the calls that free numbers ----
{
    my $r = run_both(prog => 'prog_pipe', args => ['reuse', 1, $hold]);
    unlike($r->{out}, qr/same-number 0/, 'each new descriptor got the freed number');
    my $p = read_profile($r->{block});
    for my $call (qw(close dup2 dup3 close_range closefrom fclose)) {
        my ($c, $d) = total($p, leaf => 'read', frame => "reuse_after_$call");
        is($c, 1, "after $call, a pipe that took a file's number is profiled");
        within($d, $r->{measure}{"reuse_after_${call}_total"}, 1, "after $call: the measured delay");
    }
    my ($c) = total($p, leaf => 'read', frame => 'reuse_stale_socket');
    is($c, 0, 'a pipe\'s number closed behind our back and reused by a socket: not a pipe wait');
    cmp_ok($r->{measure}{reuse_stale_socket_total}, '>=', $hold * 1e6 * 0.9,
           'and that socket read really blocked');
}

# ---- cancellation ----
{
    my $r = run_both(prog => 'prog_pipe', args => ['cancel', 1, $hold]);
    is($r->{exit}, 3, 'cancel: the program\'s own exit status');
    like($r->{out}, qr/^check cancel cleanup-ran 1$/m, 'the cleanup handler ran');
    like($r->{out}, qr/^check cancel joined-cancelled 1$/m, 'the thread ended cancelled');
    my $p = read_profile($r->{block});
    waits_ok($p, $r->{measure}, 'read', 'cancel_cleanup_read', 1);
    waits_ok($p, $r->{measure}, 'read', 'blocked_read', 1);
}

# ---- results and errno ----
run_both(prog => 'prog_pipe', args => ['errors']);

# ---- default settings: 30 ms waits are above the 10 us rate, all recorded ----
{
    my $r = run_under(prog => 'prog_pipe', args => ['read', 4, $hold],
                      env => { LOCKPROF_BLOCK_RATE => undef, LOCKPROF_MUTEX_FRACTION => undef });
    waits_ok(read_profile($r->{block}), $r->{measure}, 'read', 'blocked_read', 4);
}
done_testing();
