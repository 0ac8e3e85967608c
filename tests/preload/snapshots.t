#!/usr/bin/perl
# Snapshots: LOCKPROF_SIGNAL writes numbered snapshots of both profiles
# and the threads view; each is a valid cumulative profile whose totals never decrease and
# hold every wait completed before the signal; LOCKPROF_KEEP keeps the newest; a program that
# handles the signal itself keeps it (and lockprof says so once); LOCKPROF_INTERVAL writes
# them periodically; lockprof_snapshot() writes one now.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;
use Time::HiRes qw(time sleep);

# Waits (≤ 5 s) until all three files of snapshot $n exist.
sub await_snapshot {
    my ($prefix, $n) = @_;
    my $deadline = time + 5;
    my @f = map { "$prefix.snapshot-$n.$_" } qw(block.pb.gz mutex.pb.gz threads.txt);
    while (time < $deadline) {
        return 1 if !grep { !-e } @f;
        sleep 0.02;
    }
    return 0;
}

sub snapshot_numbers {
    my ($prefix) = @_;
    my %n;
    for (glob("$prefix.snapshot-*")) { $n{$1} = 1 if /\.snapshot-(\d+)\.\w+/ && !/\.tmp\.\d+$/ }
    return sort { $a <=> $b } keys %n;
}

# ---- N signals, N snapshots ------------------------------------------------------------
{
    my $h = start_under(prog => 'prog_live', stdin_pipe => 1,
                        env => { LOCKPROF_SIGNAL => 'SIGUSR2', LOCKPROF_IO => 'none' });
    ok(wait_output($h, qr/^ready/m, 10), 'the program started');
    my $N = 5;
    my ($measured, $prev_block, $prev_mutex) = (0, -1, -1);
    for my $i (1 .. $N) {
        send_cmd($h, 'convoy 40');
        my @c;
        my $deadline = time + 30;
        while (time < $deadline) {
            @c = (slurp($h->{outf}) // '') =~ /^convoy (\d+) \d+ \d+$/mg;
            last if @c >= $i;
            sleep 0.02;
        }
        $measured = 0;
        $measured += $_ for @c;
        kill 'USR2', $h->{pid};
        ok(await_snapshot($h->{prefix}, $i), "signal $i: snapshot $i written within 5 s");
        my $b = read_profile("$h->{prefix}.snapshot-$i.block.pb.gz");
        my $m = read_profile("$h->{prefix}.snapshot-$i.mutex.pb.gz");
        is($b->{status}, 0, "snapshot $i: the block profile decodes");
        is($m->{status}, 0, "snapshot $i: the mutex profile decodes");
        my (undef, $bd) = total($b, leaf => 'pthread_mutex_lock', frame => 'live_convoy_wait');
        my (undef, $md) = total($m, leaf => 'pthread_mutex_unlock', frame => 'live_convoy_release');
        within($bd, $measured, 2 * $i, "snapshot $i: cumulative block delay = the waits measured so far");
        ok($bd >= $prev_block, "snapshot $i: block total did not decrease");
        ok($md >= $prev_mutex && $md > 0, "snapshot $i: mutex total did not decrease");
        ($prev_block, $prev_mutex) = ($bd, $md);
        my $t = slurp("$h->{prefix}.snapshot-$i.threads.txt") // '';
        like($t, qr/^lockprof threads: pid $h->{pid}\b/m, "snapshot $i: the threads view");
    }
    ok(!-e "$h->{prefix}.snapshot-" . ($N + 1) . ".block.pb.gz", 'no extra snapshot');
    send_cmd($h, 'snapshot');
    is(wait_output($h, qr/^snapshot (-?\d+)$/m, 10), $N + 1, 'lockprof_snapshot() writes the next one');
    ok(await_snapshot($h->{prefix}, $N + 1), 'and its files are there');
    send_cmd($h, 'exit');
    my $r = finish($h);
    is($r->{exit}, 0, 'the program exits 0');
    is($r->{err}, '', 'and lockprof said nothing');
    ok(-e $r->{block} && -e $r->{mutex}, 'the exit-time profiles are written too');
}

# ---- the newest K are kept ----------------------------------------------------------------
{
    my $h = start_under(prog => 'prog_live', stdin_pipe => 1,
                        env => { LOCKPROF_SIGNAL => '12', LOCKPROF_KEEP => 2 });
    ok(wait_output($h, qr/^ready/m, 10), 'LOCKPROF_SIGNAL by number');
    for my $i (1 .. 4) {
        kill 'USR2', $h->{pid};
        ok(await_snapshot($h->{prefix}, $i), "snapshot $i");
    }
    is_deeply([ snapshot_numbers($h->{prefix}) ], [ 3, 4 ], 'LOCKPROF_KEEP=2: snapshots 3 and 4 remain');
    send_cmd($h, 'exit');
    is(finish($h)->{exit}, 0, 'exit 0');
}

# ---- the program handles the signal itself ------------------------------------------------
{
    my $h = start_under(prog => 'prog_live', stdin_pipe => 1,
                        env => { LOCKPROF_SIGNAL => 'usr2' });
    ok(wait_output($h, qr/^ready/m, 10), 'started');
    send_cmd($h, 'trap');
    ok(wait_output($h, qr/^trapped/m, 10), 'the program installs its own SIGUSR2 handler');
    kill 'USR2', $h->{pid} for 1 .. 2;
    my $traps;
    my $deadline = time + 10;
    while (time < $deadline) {
        send_cmd($h, 'traps');
        sleep 0.1;
        my @t = (slurp($h->{outf}) // '') =~ /^traps (\d+)$/mg;
        $traps = $t[-1];
        last if defined $traps && $traps >= 1;
    }
    ok($traps >= 1, "the program's handler got the signal");
    send_cmd($h, 'exit');
    my $r = finish($h);
    is($r->{exit}, 0, 'exit 0');
    is(() = $r->{err} =~ /the program handles SIGUSR2 itself/g, 1, 'lockprof says so once');
    is(scalar(() = glob("$h->{prefix}.snapshot-*")), 0, 'and writes no snapshot');
}

# ---- periodic snapshots ------------------------------------------------------------------
{
    my $h = start_under(prog => 'prog_live', stdin_pipe => 1,
                        env => { LOCKPROF_INTERVAL => 1, LOCKPROF_KEEP => 3 });
    ok(wait_output($h, qr/^ready/m, 10), 'started with LOCKPROF_INTERVAL=1');
    my $deadline = time + 15;
    my @n;
    while (time < $deadline) {
        @n = snapshot_numbers($h->{prefix});
        if (@n && $n[-1] >= 4 && await_snapshot($h->{prefix}, $n[-1])) {
            # The newest set is whole; the oldest goes right after its last file (and the next
            # set may be on its way): look again until at most 3 are there, for 2 s at most.
            my $settle = time + 2;
            @n = snapshot_numbers($h->{prefix});
            while (@n > 3 && time < $settle) {
                sleep 0.02;
                @n = snapshot_numbers($h->{prefix});
            }
            last;
        }
        sleep 0.05;
    }
    ok(@n && $n[-1] >= 4, "4 snapshots within 15 s (newest: @{[ $n[-1] // 'none' ]})");
    ok(@n <= 3 && $n[0] == $n[-1] - @n + 1, "only the newest 3 are kept, in a row (@n)");
    send_cmd($h, 'exit');
    is(finish($h)->{exit}, 0, 'exit 0');
}

# ---- under lockprof run: SIGUSR2 is passed on, and the report counts the snapshots ---------
{
    my $prefix = tmpdir() . '/viarun';
    my $h = start_under(prog => build_dir() . '/lockprof', preload => 0, stdin_pipe => 1,
                        args => [ 'run', '-o', $prefix, '--', prog_path('prog_live') ],
                        env => { LOCKPROF_SIGNAL => 'SIGUSR2' });
    ok(wait_output($h, qr/^ready/m, 10), 'prog_live started by lockprof run');
    kill 'USR2', $h->{pid};
    ok(await_snapshot($prefix, 1), 'SIGUSR2 sent to lockprof run reaches the program: snapshot 1');
    send_cmd($h, 'exit');
    my $r = finish($h);
    is($r->{exit}, 0, 'exit 0');
    like($r->{err}, qr/^lockprof: snapshots written during the run: 1 \(the newest: \Q$prefix\E\.snapshot-1\.block\.pb\.gz\)$/m,
         'the report counts the snapshots in one line');
    unlike($r->{err}, qr/also written.*snapshot/, 'and does not list them one by one');
}

# ---- bad values ---------------------------------------------------------------------------
for my $case (['LOCKPROF_SIGNAL', 'SIGKILL'], ['LOCKPROF_SIGNAL', 'SIGSEGV'], ['LOCKPROF_SIGNAL', 'USR9'],
              ['LOCKPROF_INTERVAL', '1.5'], ['LOCKPROF_KEEP', '-1']) {
    my ($var, $val) = @$case;
    my $r = run_under(prog => 'prog_live', env => { $var => $val }, stdin => "exit\n");
    is($r->{exit}, 0, "$var=$val: the program runs on");
    my @lines = split /\n/, $r->{err};
    ok(@lines == 1 && $lines[0] =~ /^lockprof: \Q$var\E='\Q$val\E': expected .*; using /,
       "$var=$val: one line") or diag($r->{err});
}

done_testing();
