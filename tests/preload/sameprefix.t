#!/usr/bin/perl
# sameprefix: LOCKPROF_OUT without %p, shared by processes that are not one program's tree.
# A run after another replaces its profiles (same names, no warning, back to back too); a
# process that finds the prefix claimed by another live process (PREFIX.owner), or a profile
# there written while it ran, keeps its hands off it and writes under PREFIX.PID, with one
# warning. Snapshots are claimed the same way.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;
use POSIX ();

sub writer_pid {
    my ($file) = @_;
    my $p = read_profile($file);
    my ($c) = grep { /^lockprof \S+ \w+ profile \(pid \d+\)$/ } @{ $p->{comments} };
    return ($c // '') =~ /\(pid (\d+)\)/ ? $1 : -1;
}

my $dir = tmpdir();

# ---- one run after another: the later replaces the earlier ---------------------------------
{
    my $out = "$dir/rerun";
    my $r1 = run_under(prog => '/bin/true', env => { LOCKPROF_OUT => $out });
    my $r2 = run_under(prog => '/bin/true', env => { LOCKPROF_OUT => $out });
    is($r1->{exit} + $r2->{exit}, 0, 'rerun: both runs exit 0');
    is(writer_pid("$out.block.pb.gz"), $r2->{pid}, 'rerun: the block profile is the second run\'s');
    is(writer_pid("$out.mutex.pb.gz"), $r2->{pid}, 'rerun: the mutex profile too');
    is($r2->{err}, '', 'rerun: nothing said');
    is_deeply([ sort map { s{.*/}{}r } glob("$dir/rerun*") ],
              [ 'rerun.block.pb.gz', 'rerun.mutex.pb.gz', 'rerun.owner' ],
              'rerun: no other file than the claim');
    like(LP::slurp("$out.owner") // '', qr/^$r2->{pid} \d+\n\z/, 'rerun: the claim names the second run');

    # Back to back, the next starting as soon as the last has written its profiles and ended.
    my $loud = 0;
    my $last;
    for (1 .. 30) {
        $last = run_under(prog => '/bin/true', env => { LOCKPROF_OUT => "$dir/loop" });
        $loud++ if $last->{err} ne '';
    }
    is($loud, 0, 'back to back: 30 runs, none says another process writes there');
    is(writer_pid("$dir/loop.block.pb.gz"), $last->{pid}, 'back to back: the last run\'s profile');
    is(scalar(() = glob("$dir/loop.*.block.pb.gz")), 0, 'back to back: no PREFIX.PID file');
}

# ---- two at once: the second writer gets its own name ---------------------------------------
{
    my $out = "$dir/both";
    my $a = start_under(prog => 'prog_live', stdin_pipe => 1,
                        env => { LOCKPROF_OUT => $out, LOCKPROF_IO => 'none' });
    ok(wait_output($a, qr/^ready/m, 30), 'both: the long-running process started');
    my $b = run_under(prog => '/bin/true', env => { LOCKPROF_OUT => $out });
    is($b->{exit}, 0, 'both: a short process with the same prefix ran meanwhile');
    is(writer_pid("$out.block.pb.gz"), $b->{pid}, 'both: and wrote the profiles');
    send_cmd($a, 'exit');
    my $ra = finish($a);
    is($ra->{exit}, 0, 'both: the long-running process exits 0');
    is(writer_pid("$out.block.pb.gz"), $b->{pid}, 'both: the short one\'s block profile is kept');
    is(writer_pid("$out.mutex.pb.gz"), $b->{pid}, 'both: and its mutex profile');
    is(writer_pid("$out.$a->{pid}.block.pb.gz"), $a->{pid},
       "both: the long-running one wrote $out.PID.block.pb.gz");
    is(writer_pid("$out.$a->{pid}.mutex.pb.gz"), $a->{pid}, 'both: and its mutex profile');
    like($ra->{err}, qr{^lockprof: \Q$out\E\.block\.pb\.gz is another running process's \(the same LOCKPROF_OUT\): this one writes \Q$out.$a->{pid}\E\.\* instead\n\z},
         'both: one line says so');
}

# ---- snapshots: a later process does not write over another's snapshot 1 -------------------
{
    my $out = "$dir/snap";
    my $a = start_under(prog => 'prog_live', stdin_pipe => 1,
                        env => { LOCKPROF_OUT => $out, LOCKPROF_IO => 'none',
                                 LOCKPROF_SIGNAL => 'USR2' });
    ok(wait_output($a, qr/^ready/m, 30), 'snapshots: a process started');
    my $b = start_under(prog => 'prog_live', stdin_pipe => 1,
                        env => { LOCKPROF_OUT => $out, LOCKPROF_IO => 'none',
                                 LOCKPROF_SIGNAL => 'USR2' });
    ok(wait_output($b, qr/^ready/m, 30), 'snapshots: a second with the same prefix');
    kill 'USR2', $a->{pid};
    my $deadline = time + 30;
    select(undef, undef, undef, 0.05) until -e "$out.snapshot-1.threads.txt" || time > $deadline;
    ok(-e "$out.snapshot-1.threads.txt", 'snapshots: the first wrote snapshot 1');
    kill 'USR2', $b->{pid};
    $deadline = time + 30;
    my $mine = "$out.$b->{pid}.snapshot-1.block.pb.gz";
    select(undef, undef, undef, 0.05) until -e "$mine" || time > $deadline;
    is(writer_pid($mine), $b->{pid}, "snapshots: the second wrote $out.PID.snapshot-1.*");
    is(writer_pid("$out.snapshot-1.block.pb.gz"), $a->{pid},
       'snapshots: the first one\'s snapshot 1 is untouched');
    send_cmd($_, 'exit') for $a, $b;
    is(finish($a)->{exit} + finish($b)->{exit}, 0, 'snapshots: both exit 0');
    is(writer_pid("$out.block.pb.gz"), $a->{pid}, 'snapshots: the first wrote its final profiles');
    is(writer_pid("$out.$b->{pid}.block.pb.gz"), $b->{pid},
       'snapshots: the second its own, under its pid');
}
# ---- a later process, while the first still runs: the first's older files stay its own ---
{
    my $out = "$dir/later";
    my %env = (LOCKPROF_OUT => $out, LOCKPROF_IO => 'none', LOCKPROF_SIGNAL => 'USR2');
    my $a = start_under(prog => 'prog_live', stdin_pipe => 1, env => \%env);
    ok(wait_output($a, qr/^ready/m, 30), 'later: a process started');
    kill 'USR2', $a->{pid};
    my $deadline = time + 30;
    select(undef, undef, undef, 0.05) until -e "$out.snapshot-1.threads.txt" || time > $deadline;
    ok(-e "$out.snapshot-1.threads.txt", 'later: it wrote snapshot 1');
    my $b = start_under(prog => 'prog_live', stdin_pipe => 1, env => \%env);
    ok(wait_output($b, qr/^ready/m, 30), 'later: a second with the same prefix started after it');
    kill 'USR2', $b->{pid};
    my $mine = "$out.$b->{pid}.snapshot-1.block.pb.gz";
    $deadline = time + 30;
    select(undef, undef, undef, 0.05) until -e "$mine" || time > $deadline;
    is(writer_pid($mine), $b->{pid}, 'later: the second wrote its snapshot under its pid');
    send_cmd($b, 'exit');
    my $rb = finish($b);
    send_cmd($a, 'exit');
    my $ra = finish($a);
    is($ra->{exit} + $rb->{exit}, 0, 'later: both exit 0');
    is(writer_pid("$out.snapshot-1.block.pb.gz"), $a->{pid}, 'later: the first one\'s snapshot 1 is its own');
    is(writer_pid("$out.block.pb.gz"), $a->{pid}, 'later: the final profiles are the first\'s');
    is(writer_pid("$out.$b->{pid}.block.pb.gz"), $b->{pid}, 'later: the second\'s are under its pid');
    like($rb->{err}, qr{^lockprof: \Q$out\E\.owner is another running process's \(the same LOCKPROF_OUT\): this one writes \Q$out.$b->{pid}\E\.\* instead\n\z},
         'later: the second said so, once');
    is($ra->{err}, '', 'later: the first said nothing');
}
# ---- eight at once, in a new directory and then over the claim they left -------------------
{
    my $d = "$dir/eight";
    mkdir $d or die;
    for my $round (1, 2) {
        unlink glob("$d/p.*.block.pb.gz"), glob("$d/p.*.mutex.pb.gz");
        my @pids;
        for (1 .. 8) {
            my $pid = fork() // die "fork: $!";
            if ($pid == 0) {
                $ENV{LD_PRELOAD} = LP::lib_path();
                $ENV{LOCKPROF_OUT} = "$d/p";
                open(STDERR, '>', '/dev/null');
                exec('sleep', '0.2') or POSIX::_exit(127);
            }
            push @pids, $pid;
        }
        waitpid($_, 0) for @pids;
        my @sets = grep { /block\.pb\.gz$/ } map { s{.*/}{}r } glob("$d/p.*");
        is(scalar(@sets), 8, "eight at once, round $round: eight block profiles, none written over")
            or diag("@sets");
        is(scalar(grep { !-e } map { s/block/mutex/r } map { "$d/$_" } @sets), 0,
           "eight at once, round $round: and their mutex profiles");
    }
    ok(!-e "$d/p.owner.take", 'eight at once: no claim left half-taken');
}
done_testing();
