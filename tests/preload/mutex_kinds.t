#!/usr/bin/perl
# mutex_kinds.t — DESIGN §3.3 and §6: process-shared, priority-inheritance, adaptive and robust
# mutexes keep their semantics under the preload and are profiled.
#
# Process-shared: two processes (fork) contend on a PTHREAD_PROCESS_SHARED mutex in shared
# memory. Each writes its own profiles (LOCKPROF_OUT with %p) and shows its own waits at
# pshared_wait with the delays it measured. A wait for a holder in the other process is
# charged to no one: not in the waiter's process (its holder is not there), not in the
# holder's (the waiter is not registered there).
#
# PI, PI error-checking, adaptive, robust and robust PI: a convoy of 3 waiters, 2 rounds, is
# charged exactly (block delays = measured, the holder's release = what it made them wait),
# and the results of the calls are what glibc returns without the preload.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

sub checks { join '', grep { /^check / } split /^/m, $_[0] }

# ---- process-shared ------------------------------------------------------------------------
my $dir = tmpdir();
my $ps = run_under(prog => 'prog_mutex_kinds', args => ['pshared'],
                   env => { LOCKPROF_OUT => "$dir/pshared.%p" });
is($ps->{exit}, 0, 'pshared: exit 0');
is($ps->{err}, '', 'pshared: nothing on stderr');
my $m = $ps->{measure};
my %prof;
for my $who (qw(parent child)) {
    my $pid = $m->{"${who}_pid"};
    ok($pid && -e "$dir/pshared.$pid.block.pb.gz" && -e "$dir/pshared.$pid.mutex.pb.gz",
       "pshared: the $who (pid " . ($pid // '?') . ') wrote its own profiles');
    $prof{$who} = { block => read_profile("$dir/pshared.$pid.block.pb.gz"),
                    mutex => read_profile("$dir/pshared.$pid.mutex.pb.gz") };
}
isnt($m->{parent_pid}, $m->{child_pid}, 'pshared: two processes, two pids');

my %waits = (parent => 3, child => 1);
for my $who (qw(parent child)) {
    my ($c, $d) = total($prof{$who}{block}, leaf => 'pthread_mutex_lock', top => 'pshared_wait');
    is($c, $waits{$who}, "pshared: the $who\'s block profile has its $waits{$who} wait(s) at pshared_wait");
    within($d, $m->{"${who}_wait"}, $c, "pshared: the $who\'s waits, as long as it measured");
    ($c, $d) = total($prof{$who}{mutex}, frame => 'pshared_release');
    is($d, 0, "pshared: the $who\'s releases for the other process are charged to no one");
}
my ($cc, $cd) = total($prof{child}{mutex});
is($cd, 0, 'pshared: the child\'s mutex profile is empty (its waits were for the parent)')
    or diag(join("\n", map { "  $_->{count} $_->{delay} @{$_->{frames}}" } @{ $prof{child}{mutex}{samples} }));
{
    # Round 3: two of the parent's threads wait for the child; the first one through releases
    # at once, so the only delay the parent may charge is the second one's hand-off.
    my ($pc, $pd) = total($prof{parent}{mutex});
    cmp_ok($pd, '<=', 1e6 * ($pc || 1),
           'pshared: the parent charges its own thread nothing for the child\'s hold')
        or diag(join("\n", map { "  $_->{count} $_->{delay} @{$_->{frames}}" } @{ $prof{parent}{mutex}{samples} }));
}

# ---- convoys on each kind ------------------------------------------------------------------
for my $kind (qw(normal pi pi_errorcheck adaptive robust robust_pi)) {
    my $r = run_under(prog => 'prog_mutex_kinds', args => ['convoy', $kind]);
    is($r->{exit}, 0, "$kind: exit 0");
    like($r->{out}, qr/^check convoy $kind lock_errors=0 unlock_errors=0$/m,
         "$kind: every lock and unlock returned 0");
    my $k = $r->{measure};
    is($k->{wait_count}, 6, "$kind: 6 waits measured");
    my $b = read_profile($r->{block});
    my ($c, $d) = total($b, leaf => 'pthread_mutex_lock', top => 'kind_wait');
    is($c, 6, "$kind: block: 6 waits at kind_wait");
    within($d, $k->{wait_total}, 6, "$kind: block: the measured delay");
    my $x = read_profile($r->{mutex});
    ($c, $d) = total($x, leaf => 'pthread_mutex_unlock', top => 'kind_release');
    is($c, 2, "$kind: mutex: the holder is charged at each of its 2 releases");
    within($d, $k->{holder_owed}, 6, "$kind: mutex: exactly what it made the 3 waiters wait");
    my (undef, $all) = total($x);
    my (undef, $waited) = total($b);
    cmp_ok($all, '<=', $waited, "$kind: mutex: Σ charges <= Σ waits");
}

# ---- results -------------------------------------------------------------------------------
my $plain = run_under(prog => 'prog_mutex_kinds', args => ['checks'], preload => 0);
my $r = run_under(prog => 'prog_mutex_kinds', args => ['checks']);
is($r->{exit}, 0, 'checks: exit 0');
is(checks($r->{out}), checks($plain->{out}), 'checks: the same results as without the preload');
# glibc 2.36: EBUSY 16, EDEADLK 35, EPERM 1, EOWNERDEAD 130 (×1000 + pthread_mutex_consistent's 0).
like($r->{out}, qr/^check pi_errorcheck lock=0 relock=35 other_trylock=16 foreign_unlock=1 unlock=0 waiter=0,0$/m,
     'checks: PI error-checking: relock EDEADLK, foreign unlock EPERM, while a thread waits');
like($r->{out}, qr/^check adaptive lock=0 owner_trylock=16 other_trylock=16 unlock=0 waiter=0,0$/m,
     'checks: adaptive: trylock EBUSY for the owner and for others');
like($r->{out}, qr/^check robust_pi_owner_died lock=0 unlock=0 waiter=130000,0 then=0,0$/m,
     'checks: robust PI: the waiter gets EOWNERDEAD when the owner dies, then it is consistent');
my ($oc, $od) = total(read_profile($r->{mutex}), leaf => 'lockprof::owner_died');
is($oc, 1, 'checks: the robust PI owner\'s death is charged to lockprof::owner_died');
done_testing();
