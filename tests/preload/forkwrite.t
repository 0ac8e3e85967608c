#!/usr/bin/perl
# forkwrite (DESIGN §5): a fork does not wait for a profile being written, and a child forked
# in the middle of a write inherits the writer half-way through it. Each child must still run
# to its normal exit and write its own profiles, with its own convoy in them and nothing of
# the parent's.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $n = 30;
my $prefix = tmpdir() . '/fw';
my $r = run_under(prog => 'prog_forkwrite', args => [$n, 20], env => { LOCKPROF_OUT => $prefix });
is($r->{exit}, 0, 'exit 0');
is($r->{err}, '', 'nothing on stderr');
my $m = $r->{measure};
is($m->{children_ok}, $n, "all $n children exited 0");
cmp_ok($m->{forks_during_write}, '>=', 1, 'some forks came while a write was in progress')
    or diag("forks during a write: $m->{forks_during_write}");

# Each child's two waits, by its own clock: at most what it measured around its calls, and at
# least the time from when both waiters were seen asleep to the release (a thread preempted
# before or after its call makes the first longer than the wait; nothing makes the wait shorter
# than the second). 1 ms for the two clocks' reads.
my @children = $r->{out} =~ /^child (\d+) (\d+) (\d+)$/mg;
is(scalar(@children), 3 * $n, "$n children reported their waits");
my ($files, $exact, $foreign) = (0, 0, 0);
while (my ($pid, $waited, $asleep) = splice(@children, 0, 3)) {
    my $f = "$prefix.$pid.block.pb.gz";
    next unless -s $f;
    $files++;
    my $p = read_profile($f);
    my ($cnt, $delay) = total($p, leaf => 'pthread_mutex_lock', frame => 'forked_child_wait');
    my $in = $delay >= $asleep - 1e6 && $delay <= $waited + 1e6;
    $exact++ if $cnt == 2 && $in;
    diag("child $pid: $cnt waits, $delay ns; measured $asleep to $waited ns")
        unless $cnt == 2 && $in;
    $foreign++ if total($p, frame => 'parent_wait');
}
is($files, $n, 'every child wrote its block profile under its own pid');
is($exact, $n, "every child's profile has its two waits, with the time it measured");
is($foreign, 0, "no child's profile has the parent's waits");

my ($pc) = total(read_profile("$prefix.block.pb.gz"), leaf => 'pthread_mutex_lock',
                 frame => 'parent_wait');
is($pc, 2, "the parent's profile has its own two waits");

# The same with a library whose scan of the loaded objects stops 20 ms inside dl_iterate_phdr
# (Makefile: the slowscan variant), so that most forks come while the writing thread holds the
# loader's lock, which no thread of the child will ever give back: the child must not scan
# again, and exits all the same with its profile written (its frames named from what it
# inherited).
my $slow = build_dir() . '/variants/slowscan/liblockprof.so';
-e $slow or BAIL_OUT("$slow is missing: make variants");
my $sn = 10;
my $sprefix = tmpdir() . '/fws';
my $s = run_under(prog => 'prog_forkwrite', args => [$sn, 20], preload => $slow,
                  env => { LOCKPROF_OUT => $sprefix }, timeout => 60);
is($s->{exit}, 0, 'slow scan: exit 0 (no child hung)') or diag($s->{err});
is($s->{measure}{children_ok}, $sn, "slow scan: all $sn children exited 0");
cmp_ok($s->{measure}{forks_during_write} // 0, '>=', 1,
       'slow scan: some forks came while a write (and its scan) was in progress');
my ($named, $sfiles) = (0, 0);
for my $pid ($s->{out} =~ /^child (\d+) \d+ \d+$/mg) {
    my $f = "$sprefix.$pid.block.pb.gz";
    next unless -s $f;
    $sfiles++;
    my ($cnt) = total(read_profile($f), leaf => 'pthread_mutex_lock',
                      frame => 'forked_child_wait');
    $named++ if $cnt == 2;
}
is($sfiles, $sn, 'slow scan: every child wrote its block profile');
is($named, $sn, "slow scan: every child's profile names its waits' frames");
done_testing();
