#!/usr/bin/perl
# rwlock.t — read-write locks (DESIGN §2, §3.3, §6). Contended rdlock / wrlock /
# timed / clock calls are waits at their own leaf (readers and writers are told apart by it),
# every unlock is a release charged at leaf pthread_rwlock_unlock, and glibc's results are
# unchanged under the preload.
#
# prog_rwlock runs one scenario per mode and prints "check" lines (which must be identical
# without the preload) and "measure" lines (its own timings, compared with the profiles within
# DESIGN §8's 5 % + 1 ms per event). prog_rwlock_fast counts clock reads on the free path.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $prog = 'prog_rwlock';

sub checks_of {
    my ($r) = @_;
    return join '', grep { /^check / } split /^/m, $r->{out};
}

sub dump_samples {
    my ($p) = @_;
    diag(join("\n", map { "  $_->{count} $_->{delay} @{$_->{frames}}" } @{ $p->{samples} }));
}

# Σ count, Σ delay and the number of samples whose leaf is one of the rwlock calls.
sub rw_total {
    my ($p) = @_;
    my ($c, $d, $n) = (0, 0, 0);
    for my $s (@{ $p->{samples} }) {
        next unless ($s->{frames}[0] // '') =~ /^pthread_rwlock_/;
        ($c, $d, $n) = ($c + $s->{count}, $d + $s->{delay}, $n + 1);
    }
    return ($c, $d, $n);
}

# ---- what glibc 2.36 answers (the run without the preload must show exactly this) ----------
# EINVAL 22, EBUSY 16, EDEADLK 35, ETIMEDOUT 110. The write owner's lock calls: EDEADLK (its try
# calls: EBUSY), but a malformed timespec or clock is refused first (EINVAL). Malformed timed
# calls are refused at once whatever the lock's state, and a free lock stays free.
my $bad = 'rc=22,22,22,22,22,22,22,22,22,22 quick=1';
my %want = (
    errors => {
        owner_relock => 'rdlock=35 wrlock=35 timedrdlock=35 timedwrlock=35 clockrdlock=35 '
                      . 'clockwrlock=35 tryrdlock=16 trywrlock=16 timedwrlock_nsec_neg=22 '
                      . 'clockrdlock_12345=22 quick=1 unlock=0 then_trywrlock=0',
        bad_args_free => $bad,
        free_after_bad_args => 'trywrlock=0 unlock=0',
        bad_args_write_held => $bad,
        try_write_held => 'tryrdlock=16 trywrlock=16',
        bad_args_read_held => $bad,
        try_read_held => 'tryrdlock=0 trywrlock=16',
    },
    timed => { map { ("timed_$_" => 'rc=110 waited_timeout=1') } qw(timedrd timedwr clockrd clockwr) },
);

# ---- every mode: same exit status, same check lines, with and without the preload -------------
my @modes = ([ convoy => 3, 50 ], [ turns => 3, 30 ], [ prefer_writer => 3, 30 ], [ timed => 30 ],
             [ 'errors' ]);
my %run;
for my $m (@modes) {
    my ($mode, @args) = @$m;
    my $ref = run_under(prog => $prog, args => [ $mode, @args ], preload => 0, timeout => 60);
    is($ref->{exit}, 0, "$mode: exits 0 without the preload") or diag($ref->{out}, $ref->{err});
    like($ref->{out}, qr/^check errno_changes 0$/m, "$mode: no call changed errno (no preload)");
    my %got = map { /^check (\S+) ?(.*)$/ ? ($1, $2) : () } split /\n/, $ref->{out};
    for my $name (sort keys %{ $want{$mode} || {} }) {
        is($got{$name}, $want{$mode}{$name}, "glibc: $name $want{$mode}{$name}");
    }
    my $r = $run{$mode} = run_under(prog => $prog, args => [ $mode, @args ], timeout => 60);
    is($r->{status}, $ref->{status}, "$mode: the same exit status under the preload");
    is($r->{err}, '', "$mode: nothing on stderr");
    is(checks_of($r), checks_of($ref), "$mode: every check line identical under the preload (errno included)");
}

# ---- (a) a writer convoy ------------------------------------------------------------------
{
    my $r = $run{convoy};
    my $m = $r->{measure};
    my $b = read_profile($r->{block});
    my $x = read_profile($r->{mutex});
    is($m->{rd_count}, 6, 'convoy: the program measured 6 reader waits');
    is($m->{wr_count}, 6, 'convoy: ... and 6 writer waits');
    my ($c, $d) = total($b, leaf => 'pthread_rwlock_rdlock', top => 'rwconvoy_reader_wait');
    is($c, 6, 'convoy: block: 6 contentions at pthread_rwlock_rdlock in rwconvoy_reader_wait');
    within($d, $m->{rd_wait}, 6, 'convoy: block: ... delay = the readers\' measured waits');
    ($c, $d) = total($b, leaf => 'pthread_rwlock_wrlock', top => 'rwconvoy_writer_wait');
    is($c, 6, 'convoy: block: 6 contentions at pthread_rwlock_wrlock in rwconvoy_writer_wait');
    within($d, $m->{wr_wait}, 6, 'convoy: block: ... delay = the writers\' measured waits');
    my ($rc, $rd) = rw_total($b);
    is($rc, 12, 'convoy: block: no other rwlock wait') or dump_samples($b);

    ($c, $d) = total($x, leaf => 'pthread_rwlock_unlock', top => 'rwconvoy_holder_release');
    is($c, 3, 'convoy: mutex: 3 charges at rwconvoy_holder_release (one per round)') or dump_samples($x);
    within($d, $m->{holder_owed}, 12, 'convoy: mutex: the holder is charged k·h, what it caused');
    ok(grep({ $_ eq 'rwconvoy_holder' } map { @{ $_->{frames} } } @{ $x->{samples} }),
       'convoy: mutex: the holder\'s caller rwconvoy_holder is in the stack');
    my (undef, $all) = total($x);
    cmp_ok($all, '<=', $rd, 'convoy: mutex: Σ charges <= Σ waits');
}

# ---- (b) readers release in turn while a writer waits -----------------------------------------
{
    my $r = $run{turns};
    my $m = $r->{measure};
    my $b = read_profile($r->{block});
    my $x = read_profile($r->{mutex});
    my ($c, $d) = total($b, leaf => 'pthread_rwlock_wrlock', top => 'turns_writer_wait');
    is($c, 3, 'turns: block: 3 contentions at pthread_rwlock_wrlock in turns_writer_wait');
    within($d, $m->{writer_wait}, 3, 'turns: block: ... delay = the writer\'s measured waits');
    my ($rc) = rw_total($b);
    is($rc, 3, 'turns: block: no other rwlock wait (the readers never waited)') or dump_samples($b);
    my $sum = 0;
    for my $i (0 .. 2) {
        ($c, $d) = total($x, leaf => 'pthread_rwlock_unlock', top => "turns_release_$i");
        is($c, 3, "turns: mutex: reader ${i}'s unlock is charged once a round") or dump_samples($x);
        within($d, $m->{"owed_$i"}, 3, "turns: mutex: ... its own part of the writer's wait");
        $sum += $d;
    }
    within($sum, $m->{writer_wait}, 12, 'turns: the readers\' charges add up to the writer\'s wait');
    my ($xc) = total($x);
    is($xc, 9, 'turns: mutex: nothing else was charged') or dump_samples($x);
}

# ---- (c) writer-preferring: new readers queue behind a waiting writer -----------------------
{
    my $r = $run{prefer_writer};
    my $m = $r->{measure};
    my $b = read_profile($r->{block});
    my $x = read_profile($r->{mutex});
    like($r->{out}, qr/^check prefer_writer_done rounds=3 flags=2$/m,
         'prefer_writer: the lock is PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP');
    my ($c, $d) = total($b, leaf => 'pthread_rwlock_rdlock', top => 'pw_reader_wait');
    is($c, 6, 'prefer_writer: block: the new readers\' 6 waits at pthread_rwlock_rdlock');
    within($d, $m->{reader_wait}, 6, 'prefer_writer: block: ... delay = their measured waits');
    ($c, $d) = total($b, leaf => 'pthread_rwlock_wrlock', top => 'pw_writer_wait');
    is($c, 3, 'prefer_writer: block: the writer\'s 3 waits at pthread_rwlock_wrlock');
    within($d, $m->{writer_wait}, 3, 'prefer_writer: block: ... delay = its measured waits');
    my ($rc, $rd) = rw_total($b);
    is($rc, 9, 'prefer_writer: block: no other rwlock wait') or dump_samples($b);
    ($c, $d) = total($x, leaf => 'pthread_rwlock_unlock', top => 'pw_holder_release');
    is($c, 3, 'prefer_writer: mutex: the holding reader\'s release is charged once a round')
        or dump_samples($x);
    within($d, $m->{holder_owed}, 9,
           'prefer_writer: mutex: ... for the writer and the queued readers, until it released');
    ($c, $d) = total($x, leaf => 'pthread_rwlock_unlock', top => 'pw_writer_release');
    is($c, 3, 'prefer_writer: mutex: the writer\'s release is charged once a round');
    within($d, $m->{writer_owed}, 6, 'prefer_writer: mutex: ... for the readers queued behind it');
    my (undef, $all) = total($x);
    cmp_ok($all, '<=', $rd, 'prefer_writer: mutex: Σ charges <= Σ waits');
}

# ---- (d) timed and clock variants time out; refused calls are neither waits nor releases ----
{
    my $r = $run{timed};
    my $m = $r->{measure};
    my $b = read_profile($r->{block});
    my $x = read_profile($r->{mutex});
    for my $k (qw(timedrd timedwr clockrd clockwr)) {
        my $leaf = "pthread_rwlock_${k}lock";
        my ($c, $d) = total($b, leaf => $leaf, top => "tm_${k}_wait");
        is($c, 1, "timed: block: the ETIMEDOUT $leaf is a wait");
        within($d, $m->{"${k}_wait"}, 1, "timed: block: ... of the measured length");
    }
    my ($rc) = rw_total($b);
    is($rc, 4, 'timed: block: no other rwlock wait') or dump_samples($b);
    my ($c, $d) = total($x, leaf => 'pthread_rwlock_unlock', top => 'tm_holder_release');
    is($c, 1, 'timed: mutex: the holder\'s release pays what the timed-out waiters were owed');
    within($d, $m->{holder_owed}, 4, 'timed: mutex: ... all four waits');

    my $e = $run{errors};
    my $eb = read_profile($e->{block});
    my ($ec, $ed, $en) = rw_total($eb);
    is($en, 0, 'errors: EDEADLK, EINVAL and EBUSY calls are not waits') or dump_samples($eb);
    my ($xc, $xd, $xn) = rw_total(read_profile($e->{mutex}));
    is($xn, 0, 'errors: ... and nothing is charged');
}

# ---- the free path: no clock, no sample ---------------------------------------------------
{
    # LOCKPROF_TSC=0: every clock read is a clock_gettime the program counts (noclock.t).
    my $r = run_under(prog => 'prog_rwlock_fast', env => { LOCKPROF_TSC => 0 });
    is($r->{exit}, 0, 'fast path: exit 0') or diag($r->{out});
    like($r->{out}, qr/^clock_reads uncontended 0$/m,
         'fast path: 20000 rounds of every lock call on a free lock read no clock');
    like($r->{out}, qr/^clock_reads shared 0$/m,
         'fast path: 20000 rdlock/unlock pairs beside another reader read no clock');
    my ($bc, $bd, $bn) = rw_total(read_profile($r->{block}));
    is($bn, 0, 'fast path: no rwlock sample in the block profile');
    my ($mc, $md, $mn) = rw_total(read_profile($r->{mutex}));
    is($mn, 0, 'fast path: none in the mutex profile');

    my $k = run_under(prog => 'prog_rwlock_fast', args => ['contend'], env => { LOCKPROF_TSC => 0 });
    my ($n) = $k->{out} =~ /^clock_reads contended (\d+)$/m;
    cmp_ok($n // 0, '>', 0, 'fast path: the counter works (a contended rdlock reads the clock)');
    my ($c) = total(read_profile($k->{block}), leaf => 'pthread_rwlock_rdlock', top => 'contender');
    is($c, 3, 'fast path: ... and is recorded, 3 times');
}

done_testing();
