#!/usr/bin/perl
# The C API, preloaded (found with dlsym) and linked (-llockprof): rates set
# at run time return the previous value; profiles and the threads view are written to a
# descriptor in every format, bad combinations are EINVAL; snapshots are numbered; and rates
# changed mid-run from several threads keep the totals unbiased (tolerances from the variance).
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;
use JSON::PP;

sub check_calls {
    my ($how, $r, $dir) = @_;
    is($r->{exit}, 0, "$how: exit 0") or diag($r->{err});
    my %got;
    my @pairs = $r->{out} =~ /^call (.+?) (-?\S+)$/mg;
    while (my ($k, $v) = splice(@pairs, 0, 2)) { push @{ $got{$k} }, $v }
    is($got{version}[0], '0.1.0', "$how: lockprof_version");
    is_deeply($got{set_block_rate}, [1, 5], "$how: lockprof_set_block_rate returns the previous rate");
    is_deeply($got{set_mutex_fraction}, [1, 3, 3],
              "$how: lockprof_set_mutex_fraction returns the previous fraction; -1 only reads it");
    for my $w ('block pprof', 'mutex pprof', 'block text', 'mutex text', 'threads text', 'threads json') {
        is($got{"write $w"}[0], 0, "$how: lockprof_write_profile $w");
    }
    is($got{'write threads pprof'}[0], -22, "$how: threads as pprof: -EINVAL");
    is($got{'write block json'}[0], -22, "$how: a profile as JSON: -EINVAL");
    is($got{'write kind 7'}[0], -22, "$how: an unknown kind: -EINVAL");
    is($got{'write fd -1'}[0], -9, "$how: fd -1: -EBADF");
    is($got{'write closed fd'}[0], -9, "$how: a closed fd: -EBADF");
    is_deeply($got{snapshot}, [1, 2], "$how: lockprof_snapshot returns 1, then 2");
    is($got{write_profiles}[0], 0, "$how: lockprof_write_profiles");

    my $b = read_profile("$dir/api.block.pb.gz");
    my $m = read_profile("$dir/api.mutex.pb.gz");
    my ($c, $d) = total($b, leaf => 'pthread_mutex_lock', frame => 'api_wait');
    is($c, 2, "$how: the block profile written to a descriptor has the two waits");
    within($d, $r->{measure}{wait_total}, 2, "$how: with their delay");
    (undef, $d) = total($m, leaf => 'pthread_mutex_unlock', frame => 'api_release');
    within($d, $r->{measure}{owed_total}, 2, "$how: the mutex profile has the release's charge");
    like(slurp("$dir/api.block.txt"), qr/^--- contention:\ncycles\/second=1000000000\n\d+ \d+ @ 0x/,
         "$how: the block profile as text");
    like(slurp("$dir/api.mutex.txt"), qr/^--- mutex:\n.*#\t0x[0-9a-f]+\tapi_release\+0x/ms,
         "$how: the mutex profile as text names api_release");
    like(slurp("$dir/api.threads.txt"), qr/^lockprof threads: pid $r->{pid}\b/,
         "$how: the threads view as text");
    my $j = eval { decode_json(slurp("$dir/api.threads.json")) };
    ok($j && $j->{pid} == $r->{pid} && @{ $j->{threads} } >= 1, "$how: the threads view as JSON");
    ok(-e "$r->{prefix}.snapshot-2.mutex.pb.gz", "$how: snapshot 2's files");
}

{
    my $dir = tmpdir() . '/pre';
    mkdir $dir;
    my $r = run_under(prog => 'prog_api', args => ['calls', $dir]);
    check_calls('preloaded', $r, $dir);
}
{
    my $dir = tmpdir() . '/linked';
    mkdir $dir;
    my $r = run_under(prog => 'linked_api', args => ['calls', $dir], preload => 0);
    check_calls('linked', $r, $dir);
    my $p = read_profile($r->{block});
    my ($c) = total($p, leaf => 'pthread_mutex_lock', frame => 'api_wait');
    is($c, 2, 'linked: the exit-time profile is written too');
}

# ---- a descriptor that does not drain holds up nothing of lockprof's ------------------------
{
    my $r = run_under(prog => 'prog_api', args => ['slowfd'], timeout => 30);
    is($r->{exit}, 0, 'exit() while another thread is stuck in lockprof_write_profile to a full pipe')
        or diag("status $r->{status}");
    my ($c) = total(read_profile($r->{mutex}), leaf => 'pthread_mutex_unlock', frame => 'api_release');
    ok($c >= 1, 'and the exit-time profile is written');
}

# ---- from a signal handler: never a deadlock ------------------------------------------------
{
    my $r = run_under(prog => 'prog_api', args => ['sigapi'], timeout => 60);
    is($r->{exit}, 0, 'a SIGUSR1 handler calling lockprof_snapshot while the thread writes profiles');
    my ($n, $dl, $num) = $r->{out} =~ /^handler (\d+) deadlk (\d+) numbered (\d+)$/m;
    ok($n && $n == $dl + $num, "every call returned a snapshot number or -EDEADLK ($n: $num, $dl)");
}

# ---- rates changed mid-run from several threads ------------------------------------------
{
    my $r = run_under(prog => 'prog_api', args => ['rates', 500]);
    is($r->{exit}, 0, 'rates: exit 0');
    my %m = %{ $r->{measure} };
    is($m{waits}, 1000, '1000 waits made');
    ok($m{changes} > 100, "the rates changed $m{changes} times meanwhile");
    my $b = read_profile($r->{block});
    my $p = read_profile($r->{mutex});
    my (undef, $bd) = total($b, leaf => 'pthread_mutex_lock', frame => 'rates_wait');
    my (undef, $md) = total($p, leaf => 'pthread_mutex_unlock', frame => 'rates_release');
    # Block: a wait of d < R = 2 ms at rate R adds R with probability d/R: variance R·d − d²;
    # at rate 1 or d ≥ R, none. So Var ≤ Σ (R·d − d²) = R·Σd − Σd². Mutex, fraction 2: a
    # charge c adds 2c with probability 1/2: variance c², so Var ≤ Σ c². Tolerance: 4.5 σ,
    # plus DESIGN's 5 % and 20 µs per event for the timing itself.
    my $R = 2e6;
    my $vb = $R * $m{wait_total} - $m{wait_sq};
    $vb = 0 if $vb < 0;
    my $tb = 4.5 * sqrt($vb) + 0.05 * $m{wait_total} + 20e3 * $m{waits};
    ok(abs($bd - $m{wait_total}) <= $tb,
       sprintf('block total unbiased: %.1f ms vs %.1f ms measured (± %.1f ms)',
               $bd / 1e6, $m{wait_total} / 1e6, $tb / 1e6));
    my $tm = 4.5 * sqrt($m{owed_sq}) + 0.05 * $m{owed_total} + 20e3 * $m{waits};
    ok(abs($md - $m{owed_total}) <= $tm,
       sprintf('mutex total unbiased: %.1f ms vs %.1f ms owed (± %.1f ms)',
               $md / 1e6, $m{owed_total} / 1e6, $tm / 1e6));
    ok(grep({ /rates were changed at run time/ } @{ $b->{comments} }), 'the profile says the rates changed');
}

done_testing();
