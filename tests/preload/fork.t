#!/usr/bin/perl
# fork (DESIGN §5): a fork while three parent threads are registered waiters
# on a mutex. The child's own convoy on that mutex is charged exactly (no phantom waiters), the
# child writes under its own pid, the parent's profile is unaffected. With a LOCKPROF_OUT that
# lacks %p, the child's files get ".PID" and do not overwrite the parent's.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $ref = run_under(prog => 'prog_fork', args => [40], preload => 0);
is($ref->{exit}, 0, 'without the preload: exit 0');

sub check {
    my ($r, $child_prefix, $what) = @_;
    my $m = $r->{measure};
    is($r->{exit}, 0, "$what: exit 0");
    is($r->{err}, '', "$what: nothing on stderr");
    is($m->{child_status}, 0, "$what: the child exited 0");
    is(join(',', map { s/ \d+$//r } grep { /^measure/ } split /\n/, $r->{out}),
       join(',', map { s/ \d+$//r } grep { /^measure/ } split /\n/, $ref->{out}),
       "$what: the same output lines as without the preload");
    is($m->{child_wait_count}, 2, "$what: the child measured 2 waits");
    is($m->{parent_wait_count}, 3, "$what: the parent measured 3 waits");

    # The child's files, under its own name.
    $child_prefix = $child_prefix->($m->{child_pid});
    ok(-s "$child_prefix.block.pb.gz" && -s "$child_prefix.mutex.pb.gz",
       "$what: the child wrote $child_prefix.{block,mutex}.pb.gz");
    my $cb = read_profile("$child_prefix.block.pb.gz");
    my ($c, $d) = total($cb, leaf => 'pthread_mutex_lock', frame => 'child_waiter_wait');
    is($c, 2, "$what: child block: 2 waits at child_waiter_wait");
    within($d, $m->{child_wait_total}, 2, "$what: child block: = the child's measured waits");
    my ($ac) = total($cb, skip_leaf => 'pthread_join');
    is($ac, 2, "$what: child block: nothing else (none of the parent's waits)");
    my $cm = read_profile("$child_prefix.mutex.pb.gz");
    my ($hc, $hd) = total($cm, leaf => 'pthread_mutex_unlock', frame => 'child_holder_release');
    is($hc, 1, "$what: child mutex: one charge at child_holder_release");
    within($hd, $m->{child_owed}, 2,
           "$what: child mutex: charged exactly the child's two waits (no phantom waiters)");
    my (undef, $call) = total($cm);
    cmp_ok($call, '<=', $hd + 2e6, "$what: child mutex: nothing else of significance");

    # The parent's files: its own three waits, its holder charged for them.
    my $pb = read_profile($r->{block});
    my ($pc, $pd) = total($pb, leaf => 'pthread_mutex_lock', frame => 'parent_waiter_wait');
    is($pc, 3, "$what: parent block: 3 waits at parent_waiter_wait");
    within($pd, $m->{parent_wait_total}, 3, "$what: parent block: = the parent's measured waits");
    is(scalar(total($pb, frame => 'child_waiter_wait')), 0,
       "$what: parent block: none of the child's waits");
    my $pm = read_profile($r->{mutex});
    my ($phc, $phd) = total($pm, leaf => 'pthread_mutex_unlock', frame => 'parent_holder_release');
    is($phc, 1, "$what: parent mutex: one charge at parent_holder_release");
    within($phd, $m->{parent_owed}, 3, "$what: parent mutex: charged the parent's three waits");
}

my $r = run_under(prog => 'prog_fork', args => [40],
                  env => { LOCKPROF_OUT => tmpdir() . '/withpid.%p' });
$r->{block} = tmpdir() . "/withpid.$r->{pid}.block.pb.gz";
$r->{mutex} = tmpdir() . "/withpid.$r->{pid}.mutex.pb.gz";
check($r, sub { tmpdir() . "/withpid.$_[0]" }, 'LOCKPROF_OUT with %p');

# Without %p: the parent (the first process) keeps the prefix, the child adds ".PID".
my $n = run_under(prog => 'prog_fork', args => [40]);
check($n, sub { "$n->{prefix}.$_[0]" }, 'LOCKPROF_OUT without %p');

done_testing();
