#!/usr/bin/perl
# sameprefix: LOCKPROF_OUT without %p, shared by processes that are not one program's tree.
# A run after another replaces its profiles (same names, no warning); a process that finds
# the name written by another process while it ran keeps that file and writes under
# PREFIX.PID, with one warning. Snapshots are claimed the same way.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

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
              [ 'rerun.block.pb.gz', 'rerun.mutex.pb.gz' ], 'rerun: no other file');
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
    like($ra->{err}, qr{^lockprof: \Q$out\E\.block\.pb\.gz was written by another process while this one ran: this one writes \Q$out.$a->{pid}\E\.\* instead\n\z},
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
done_testing();
