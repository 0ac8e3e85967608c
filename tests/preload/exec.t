#!/usr/bin/perl
# exec, posix_spawn, vfork (DESIGN §5): an exec writes the image's final
# profile first, and the new image (same pid) writes to names with its exec generation
# (PREFIX.execN), so nothing is overwritten; children with their own pid never overwrite the
# parent's files, with or without %p in LOCKPROF_OUT. Each stage's profile holds exactly its
# own convoy: 2 waits at stageN_waiter_wait, its holder charged for them.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

sub keys_of { join ',', map { s/ \d+$//r } grep { /^measure/ } split /\n/, $_[0] }

# The stage's files hold exactly its convoy.
sub stage_ok {
    my ($prefix, $stage, $m, $what) = @_;
    ok(-s "$prefix.block.pb.gz" && -s "$prefix.mutex.pb.gz",
       "$what: stage $stage wrote " . ($prefix =~ s{.*/}{}r) . '.{block,mutex}.pb.gz')
        or return;
    my $b = read_profile("$prefix.block.pb.gz");
    my ($c, $d) = total($b, leaf => 'pthread_mutex_lock', frame => "stage${stage}_waiter_wait");
    is($c, 2, "$what: stage $stage block: 2 waits at stage${stage}_waiter_wait");
    within($d, $m->{"stage${stage}_wait_total"}, 2, "$what: stage $stage block: = measured");
    my ($all) = total($b, skip_leaf => 'pthread_join');
    is($all, 2, "$what: stage $stage block: no other stage's waits");
    my $x = read_profile("$prefix.mutex.pb.gz");
    my ($hc, $hd) = total($x, leaf => 'pthread_mutex_unlock',
                          frame => "stage${stage}_holder_release");
    is($hc, 1, "$what: stage $stage mutex: one charge at stage${stage}_holder_release");
    within($hd, $m->{"stage${stage}_owed"}, 2, "$what: stage $stage mutex: = what it caused");
}

sub run_case {
    my ($how, $last, %o) = @_;
    my $ref = run_under(prog => 'prog_exec', args => [$how, $last], preload => 0);
    my $r = run_under(prog => 'prog_exec', args => [$how, $last], env => $o{env} || {});
    my $what = $o{what} // $how;
    is($r->{exit}, 0, "$what: exit 0") or diag($r->{err});
    is($ref->{exit}, 0, "$what: exit 0 without the preload too");
    is($r->{err}, '', "$what: nothing on stderr");
    is(keys_of($r->{out}), keys_of($ref->{out}), "$what: the same output as without the preload");
    return $r;
}

# ---- exec in place, by every call, LOCKPROF_OUT without %p (run_under's prefix) -------------
for my $how (qw(execv execve execvp execvpe execl execlp execle fexecve execveat)) {
    my $r = run_case($how, 2);
    my $m = $r->{measure};
    is($m->{stage2_pid}, $m->{stage1_pid}, "$how: the new image has the same pid");
    stage_ok($r->{prefix}, 1, $m, $how);
    stage_ok("$r->{prefix}.exec1", 2, $m, $how);
}

# Two execs: generations 1 and 2.
{
    my $r = run_case('execv', 3, what => 'execv twice');
    stage_ok($r->{prefix}, 1, $r->{measure}, 'execv twice');
    stage_ok("$r->{prefix}.exec1", 2, $r->{measure}, 'execv twice');
    stage_ok("$r->{prefix}.exec2", 3, $r->{measure}, 'execv twice');
}

# With %p: the pid, then the generation.
{
    my $dir = tmpdir();
    my $r = run_case('execv', 2, what => 'execv, %p', env => { LOCKPROF_OUT => "$dir/pid.%p" });
    my $pid = $r->{measure}{stage1_pid};
    stage_ok("$dir/pid.$pid", 1, $r->{measure}, 'execv, %p');
    stage_ok("$dir/pid.$pid.exec1", 2, $r->{measure}, 'execv, %p');
}

# ---- children: fork then exec, vfork then exec, posix_spawn ------------------------------------
for my $how (qw(fork vfork spawn)) {
    my $r = run_case($how, 2);
    my $m = $r->{measure};
    is($m->{child_status}, 0, "$how: the child exited 0");
    isnt($m->{stage2_pid}, $m->{stage1_pid}, "$how: the child has its own pid");
    stage_ok($r->{prefix}, 1, $m, $how);
    # The first process keeps the prefix; a child adds its pid. A forked child that then
    # execs recorded nothing before its exec, wrote nothing, and its new image keeps the name.
    my $child = "$r->{prefix}.$m->{stage2_pid}";
    stage_ok($child, 2, $m, $how);
    ok(!-e "$child.exec1.block.pb.gz", "$how: no exec1 files (nothing was written before exec)");
}
{
    my $dir = tmpdir();
    my $r = run_case('fork', 2, what => 'fork, %p', env => { LOCKPROF_OUT => "$dir/f.%p" });
    my $m = $r->{measure};
    stage_ok("$dir/f.$m->{stage1_pid}", 1, $m, 'fork, %p');
    stage_ok("$dir/f.$m->{stage2_pid}", 2, $m, 'fork, %p');
}

# ---- an exec that fails: same result and errno; the program goes on and writes at exit -------
{
    my $ref = run_under(prog => 'prog_exec', args => ['fail', 2], preload => 0);
    my $r = run_case('fail', 2);
    is($r->{measure}{fail_rc}, 0, 'fail: execv returned -1');
    is($r->{measure}{fail_errno}, $ref->{measure}{fail_errno}, 'fail: errno as without lockprof');
    is($r->{measure}{fail_errno}, 2, 'fail: ENOENT');
    stage_ok($r->{prefix}, 1, $r->{measure}, 'fail');
    ok(!-e "$r->{prefix}.exec1.block.pb.gz", 'fail: no new image, no exec1 files');
}

done_testing();
