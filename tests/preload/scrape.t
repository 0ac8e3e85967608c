#!/usr/bin/perl
# Zero-config fleet scraping: the endpoint scraped as Grafana Alloy's pyroscope.scrape scrapes a
# Go service by default — its paths (mutex, block, allocs, goroutine, profile?seconds=N with N
# the interval less 1 s), its request (GET, Host, User-Agent "Alloy/…", no Accept-Encoding: its
# client disables compression), its 10 s timeout (the CPU window's: 10 s + N) — every few
# seconds while prog_scrape contends with several leaves on one call stack; and the stateful
# delta_mutex and delta_block paths beside them, as Alloy's godeltaprof targets scrape them.
#   - every profile answer is 200, non-empty, application/octet-stream and gzip (what Alloy
#     accepts); what lockprof does not profile is a fast one-line 404;
#   - the CPU window (the program runs with LOCKPROF_CPU_HZ unset): each answer comes after its
#     N seconds, within Alloy's timeout, is Go's CPU profile format with duration_nanos N s, and
#     holds the program's busy loop; no timer is left armed between windows;
#   - no two samples of different stacks share one address list (Alloy's fastdelta tells
#     samples apart by their locations' addresses and merges those that agree), an address
#     list keeps its stack and a leaf its address from one answer to the next;
#   - the deltas Alloy computes from consecutive cumulative scrapes (the first dropped) add up,
#     stack by stack, to the last cumulative profile minus the first;
#   - the delta_* answers add up, stack by stack, to the cumulative profile (at fractional
#     weights too), and each one's duration_nanos is the time since the previous request to
#     its path.
# LP_SCRAPE_SECONDS (default 57) and LP_SCRAPE_INTERVAL (default 3) set how long and how often.
use strict;
use warnings;
use lib 'tests/lib';
use LP qw(:DEFAULT spew);
use Test::More;
use Time::HiRes qw(time sleep);
use Storable qw(store retrieve);

my $duration = $ENV{LP_SCRAPE_SECONDS} // 57;
my $interval = $ENV{LP_SCRAPE_INTERVAL} // 3;
my $timeout = 10;                 # Alloy's scrape_timeout
my $cpu_seconds = $interval - 1;  # Alloy: seconds=scrape_interval - 1 (14 for its 15 s)
my $ua = 'Alloy/v1.10.2 (linux; binary)'; # useragent.Get(): "Alloy/VERSION (GOOS; DEPLOY_MODE)"
my $dir = tmpdir();

my $t_launch = time;
my $h = start_under(prog => 'prog_scrape', stdin_pipe => 1,
                    env => { LOCKPROF_HTTP => '127.0.0.1:0', LOCKPROF_IO => 'none' });
ok(wait_output($h, qr/^ready/m, 30), 'the program started');
my (undef, undef, $index) = http_get($h, '/debug/pprof/');
ok(defined $h->{http}, "lockprof serves on $h->{http}") or BAIL_OUT('no endpoint');
like($index, qr{href="delta_block"}, 'the index lists delta_block');
like($index, qr{href="delta_mutex"}, 'and delta_mutex');
like($index, qr{clients that share a path share\s+its deltas}, 'and says that clients share them');

# One request as Alloy's client sends it; the answer, as Alloy reads it, and when it came.
my $seq = 0;
sub alloy_get {
    my ($path, %o) = @_;
    my $method = $o{method} // 'GET';
    my $req = "$method $path HTTP/1.1\r\nHost: $h->{http}\r\nUser-Agent: $ua\r\n\r\n";
    my $t0 = time;
    my ($st, $head, $body) = http_get($h, undef, raw => $req, timeout => $o{timeout} // $timeout);
    my %r = (path => $path, status => $st // 0, head => $head // '', body => $body // '',
             t0 => $t0, t1 => time);
    ($r{type}) = $r{head} =~ /^Content-Type: ([^\r\n]*)/mi;
    $r{type} //= '';
    $r{go_error} = $r{head} =~ /^X-Go-Pprof: 1\r?$/mi ? 1 : 0;
    if ($r{status} == 200 && $r{type} =~ m{^application/octet-stream}) {
        my $f = "$dir/answer" . ++$seq . '.pb.gz';
        spew($f, $r{body});
        $r{profile} = read_profile($f);
    }
    return \%r;
}

# The CPU window, in the background as Alloy's own goroutine for that target asks for it.
sub alloy_get_bg {
    my ($path, $limit) = @_;
    my $file = "$dir/bg" . ++$seq;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        store(alloy_get($path, timeout => $limit), $file);
        POSIX::_exit(0);
    }
    return sub {
        waitpid($pid, 0);
        return -e $file ? retrieve($file) : { path => $path, status => 0 };
    };
}

# What a profile answer must be for Alloy to take it.
my @bad;
sub check_profile {
    my ($r) = @_;
    my $p = $r->{profile};
    my $why = $r->{status} != 200                              ? "status $r->{status}"
            : $r->{body} eq ''                                 ? 'an empty body'
            : $r->{type} !~ m{^application/octet-stream}       ? "Content-Type '$r->{type}'"
            : substr($r->{body}, 0, 2) ne "\x1f\x8b"           ? 'not gzip'
            : !$p || $p->{status} != 0                         ? 'it does not decode'
            : $p->{sample_type} ne 'contentions/count delay/nanoseconds'
                                                               ? "sample_type $p->{sample_type}"
            : ($p->{period_type} // '') ne 'contentions/count' ? 'period_type'
            : $r->{t1} - $r->{t0} > $timeout                   ? 'too late'
            :                                                    undef;
    push @bad, "$r->{path}: $why" if defined $why;
    return !defined $why;
}

# What lockprof does not profile: a 404 with one plain-text line, as Go answers "Unknown
# profile", marked for go tool pprof, at once (no window to wait for).
my @bad404;
my $unknown_line =
    qr/\AUnknown profile: lockprof profiles lock and blocking contention, not .+\n\z/;
sub check_absent {
    my ($r) = @_;
    my $why = $r->{status} != 404                          ? "status $r->{status}"
            : $r->{type} !~ m{^text/plain}                 ? "Content-Type '$r->{type}'"
            : !$r->{go_error}                              ? 'no X-Go-Pprof'
            : $r->{body} !~ $unknown_line                  ? "body '$r->{body}'"
            : $r->{t1} - $r->{t0} > 2                      ? sprintf('%.2f s', $r->{t1} - $r->{t0})
            :                                                undef;
    push @bad404, "$r->{path}: $why" if defined $why;
}

# The CPU window: Go's CPU profile of the N seconds asked for, after them.
my (@bad_cpu, $cpu_busy);
sub check_cpu {
    my ($r, $busy) = @_;
    my $p = $r->{profile};
    my $took = $r->{t1} - $r->{t0};
    my $why = $r->{status} != 200                              ? "status $r->{status}: $r->{body}"
            : $r->{type} !~ m{^application/octet-stream}       ? "Content-Type '$r->{type}'"
            : substr($r->{body}, 0, 2) ne "\x1f\x8b"           ? 'not gzip'
            : !$p || $p->{status} != 0                         ? 'it does not decode'
            : $p->{sample_type} ne 'samples/count cpu/nanoseconds'
                                                               ? "sample_type $p->{sample_type}"
            : ($p->{period_type} // '') ne 'cpu/nanoseconds'   ? 'period_type'
            : ($p->{period} // 0) != 1e7                       ? "period $p->{period}"
            : abs(($p->{duration_nanos} // 0) - $cpu_seconds * 1e9) > 0.25e9
                                                               ? "duration_nanos $p->{duration_nanos}"
            : $took < $cpu_seconds - 0.05                      ? sprintf('early: %.2f s', $took)
            : $took > $timeout + $cpu_seconds                  ? sprintf('too late: %.2f s', $took)
            :                                                    undef;
    push @bad_cpu, "$r->{path}: $why" if defined $why;
    $cpu_busy += scalar(total($p, frame => 'scrape_spin')) if !defined $why && $busy;
}
# POSIX timers the program has now (/proc/PID/timers: one "ID:" line each).
sub timers_now {
    open(my $f, '<', "/proc/$h->{pid}/timers") or return -1;
    return scalar grep { /^ID:/ } <$f>;
}

for my $p (qw(allocs heap goroutine threadcreate delta_heap)) {
    check_absent(alloy_get("/debug/pprof/$p"));
}
is_deeply(\@bad404, [],
          'allocs, heap, goroutine, threadcreate, delta_heap: a fast one-line 404 each');
is(timers_now(), 0, 'LOCKPROF_CPU_HZ unset: no timer before a CPU window');
{
    my $first = alloy_get_bg("/debug/pprof/profile?seconds=$cpu_seconds", $timeout + $cpu_seconds);
    sleep(0.5);
    ok(timers_now() > 0, 'timers armed during the window');
    my $second = alloy_get("/debug/pprof/profile?seconds=1");
    is($second->{status}, 500, 'a second window meanwhile: 500, as Go answers a busy profiler');
    like($second->{body}, qr/\ACould not enable CPU profiling: cpu profiling already in use\n\z/,
         "with Go's line");
    check_cpu($first->());
    is(timers_now(), 0, 'no timer left after the window');
}

# ---- the scrapes ----------------------------------------------------------------------------
send_cmd($h, 'run');
ok(wait_output($h, qr/^running$/m, 10), 'the program contends');
my (%cum, %delta);   # path => [answers]
my $t_start = time;
my $rounds = int($duration / $interval) || 1;
for my $k (0 .. $rounds - 1) {
    my $at = $t_start + $k * $interval;
    sleep($at - time) if $at > time;
    my $cpu = alloy_get_bg("/debug/pprof/profile?seconds=$cpu_seconds", $timeout + $cpu_seconds);
    push @{ $cum{$_} }, alloy_get("/debug/pprof/$_") for qw(mutex block);
    check_absent(alloy_get("/debug/pprof/$_")) for qw(allocs goroutine);
    push @{ $delta{$_} }, alloy_get("/debug/pprof/delta_$_") for qw(mutex block);
    check_cpu($cpu->(), 1);
}
send_cmd($h, 'stop');
my $n = wait_output($h, qr/^stopped (\d+)$/m, 30);
ok($n && $n > 10 * $rounds, "the program stopped after $n rounds of contention");

# Quiescent from now on: the last answers of every path hold the same waits.
push @{ $cum{$_} }, alloy_get("/debug/pprof/$_") for qw(mutex block);
my %head = map { $_ => alloy_get("/debug/pprof/delta_$_", method => 'HEAD') } qw(mutex block);
push @{ $delta{$_} }, alloy_get("/debug/pprof/delta_$_") for qw(mutex block);
my %again = map { $_ => alloy_get("/debug/pprof/delta_$_") } qw(mutex block);

my $answers = 0;
for my $kind (qw(mutex block)) {
    $answers += grep { check_profile($_) } @{ $cum{$kind} }, @{ $delta{$kind} }, $again{$kind};
}
is_deeply(\@bad, [], "every profile answer ($answers) is 200, non-empty, "
          . 'application/octet-stream, gzip, contentions/count + delay/nanoseconds');
is_deeply(\@bad404, [], "allocs and goroutine: a fast one-line 404 in every round ($rounds)");
is_deeply(\@bad_cpu, [], "profile?seconds=$cpu_seconds: Go's CPU profile of $cpu_seconds s, after "
          . "them, in every round ($rounds) and before");
ok($cpu_busy > 0, "the CPU windows saw the program's busy loop ($cpu_busy samples)");
is(timers_now(), 0, 'no timer left after the last window');
is(scalar @{ $cum{mutex} }, $rounds + 1,
   "$rounds rounds of scrapes, and one after the program stopped");

# ---- addresses ----------------------------------------------------------------------------
sub stack_key { join ';', @{ $_[0]{frames} } }
sub addr_key  { join ' ', @{ $_[0]{addresses} || [] } }

# Alloy's fastdelta keys a sample by its addresses (and labels: lockprof writes none). Within
# one answer, one address list must be one stack; from one answer to the next, an address list
# must keep its stack, and a leaf its address. (One stack may have several address lists: two
# call sites in one function, as main's two pthread_join.)
my (@shared, @changed, @moved, @bad_addr, %stack_of, %leaf_at);
for my $r ((map { @$_ } values %cum, values %delta), values %again) {
    my %stack_at;
    for my $s (@{ $r->{profile}{samples} || [] }) {
        my ($ak, $sk) = (addr_key($s), stack_key($s));
        push @shared, "$r->{path}: $sk and $stack_at{$ak} at [$ak]"
            if defined $stack_at{$ak} && $stack_at{$ak} ne $sk;
        $stack_at{$ak} //= $sk;
        push @changed, "[$ak]: $stack_of{$ak}, then $sk"
            if defined $stack_of{$ak} && $stack_of{$ak} ne $sk;
        $stack_of{$ak} //= $sk;
        my ($leaf, $at) = ($s->{frames}[0], $s->{addresses}[0] // '');
        push @moved, "$leaf: $leaf_at{$leaf}, then $at"
            if defined $leaf_at{$leaf} && $leaf_at{$leaf} ne $at;
        $leaf_at{$leaf} //= $at;
        push @bad_addr, "$sk: leaf at '$at'" unless $at =~ /^0xfe[0-9a-f]{13}0$/;
    }
}
is_deeply(\@shared, [], 'no two samples of different stacks share one address list, in any answer');
is_deeply(\@changed, [], 'an address list names the same stack in every answer');
is_deeply(\@moved, [], 'a leaf is at the same address in every answer');
is_deeply(\@bad_addr, [],
          'every leaf is at a non-zero synthetic address (0xfe…: no mapping holds it)');

# The program made what would merge: the same frames under different leaves, in both profiles.
for my $kind (qw(mutex block)) {
    my %leaves;
    for my $s (@{ $cum{$kind}[-1]{profile}{samples} }) {
        my @f = @{ $s->{frames} };
        $leaves{ join ';', @f[1 .. $#f] }{ $f[0] } = 1;
    }
    my ($most) = sort { $b <=> $a } map { scalar keys %$_ } values %leaves;
    ok(($most // 0) >= ($kind eq 'mutex' ? 4 : 2),
       "$kind: one call stack under " . ($most // 0) . ' different leaves');
}

# ---- deltas ---------------------------------------------------------------------------------
sub add_to {
    my ($t, $key, $c, $d, $sign) = @_;
    $t->{$key}[0] += $sign * $c;
    $t->{$key}[1] += $sign * $d;
}
sub nonzero {
    my ($t) = @_;
    return { map { $_ => $t->{$_} } grep { $t->{$_}[0] || $t->{$_}[1] } keys %$t };
}
sub by_stack {
    my ($p, $t, $sign) = @_;
    add_to($t, stack_key($_), $_->{count}, $_->{delay}, $sign // 1) for @{ $p->{samples} };
    return $t;
}

# fastdelta: samples with the same addresses are one (their values summed, the first one's
# locations kept); its delta is the sum now less the sum of the previous profile.
sub fastdelta {
    my ($prev, $p) = @_;
    my (%sum, %stack, @order);
    for my $s (@{ $p->{samples} }) {
        my $ak = addr_key($s);
        push @order, $ak unless $sum{$ak};
        $sum{$ak}[0] += $s->{count};
        $sum{$ak}[1] += $s->{delay};
        $stack{$ak} //= stack_key($s);
    }
    my @out;
    for my $ak (@order) {
        my $was = $prev->{$ak} // [0, 0];
        push @out, [ $stack{$ak}, $sum{$ak}[0] - $was->[0], $sum{$ak}[1] - $was->[1] ];
        $prev->{$ak} = $sum{$ak};
    }
    return @out;
}

for my $kind (qw(mutex block)) {
    my @scrapes = map { $_->{profile} } @{ $cum{$kind} };
    my (%state, %alloy, @negative);
    fastdelta(\%state, $scrapes[0]); # the first: a baseline, not sent on
    for my $p (@scrapes[1 .. $#scrapes]) {
        for my $d (fastdelta(\%state, $p)) {
            push @negative, "$d->[0]: $d->[1] $d->[2]" if $d->[1] < 0 || $d->[2] < 0;
            add_to(\%alloy, @$d, 1);
        }
    }
    my $want = by_stack($scrapes[-1], {});
    by_stack($scrapes[0], $want, -1);
    is_deeply(nonzero(\%alloy), nonzero($want),
              "$kind: Alloy's deltas of " . scalar(@scrapes) . ' scrapes add up, stack by stack, '
              . 'to the last cumulative profile minus the first');
    is_deeply(\@negative, [], "$kind: no delta is negative (cumulative values never decrease)");

    my %sum;
    by_stack($_->{profile}, \%sum) for @{ $delta{$kind} };
    is_deeply(nonzero(\%sum), nonzero(by_stack($scrapes[-1], {})),
              "delta_$kind: its " . scalar(@{ $delta{$kind} }) . ' answers add up, stack by '
              . 'stack, to the cumulative profile');
    my $hd = $head{$kind};
    ok($hd->{status} == 200 && $hd->{type} =~ m{^application/octet-stream}
           && $hd->{head} =~ /^Content-Length: [1-9]/mi && @{ $delta{$kind}[-1]{profile}{samples} },
       "delta_$kind: a HEAD is answered (200, a length) and does not move the delta: the GET "
       . 'after it holds the last waits (and the sum above holds them once)');
    is(scalar @{ $again{$kind}{profile}{samples} }, 0,
       "delta_$kind: a GET right after another, with nothing recorded between, has no samples");

    # duration_nanos: the time since the previous request to the path, which the server read
    # within each request's [sent, answered]; the first: since the endpoint started.
    my @d = (@{ $delta{$kind} }, $again{$kind});
    my @late;
    for my $i (0 .. $#d) {
        my $dur = $d[$i]{profile}{duration_nanos} / 1e9;
        my ($lo, $hi) = $i ? ($d[$i]{t0} - $d[$i - 1]{t1}, $d[$i]{t1} - $d[$i - 1]{t0})
                           : (0, $d[0]{t1} - $t_launch);
        push @late, sprintf('#%d: %.3f s, not in [%.3f, %.3f]', $i, $dur, $lo, $hi)
            unless $dur > 0 && $dur >= $lo - 0.001 && $dur <= $hi + 0.001;
    }
    is_deeply(\@late, [], "delta_$kind: duration_nanos is the time since the previous request");
    my @cum_time = grep {
        my $t = $_->{profile}{time_nanos} / 1e9;
        $_->{profile}{duration_nanos} != 0 || $t < $_->{t0} - 0.001 || $t > $_->{t1} + 0.001
    } @{ $cum{$kind} };
    is(scalar @cum_time, 0, "$kind: cumulative (duration_nanos 0), time_nanos when answered");
}

send_cmd($h, 'exit');
my $r = finish($h);
is($r->{exit}, 0, 'the program exits 0');
like($r->{err}, qr{^lockprof: serving http://127\.0\.0\.1:\d+/debug/pprof/ \(pid \d+\)\n\z},
     'lockprof said one line: where it serves');
ok(-s $r->{block} && -s $r->{mutex} && !-e "$r->{prefix}.cpu.pb.gz",
   'at exit: the block and mutex profiles, no CPU profile (LOCKPROF_CPU_HZ unset: windows only)');

# ---- fractional weights ---------------------------------------------------------------------
# At a block rate above the waits (5 ms; they last about 1 ms), a recorded wait weighs rate/d
# contentions, seldom a whole number. The delta_block answers still add up to the cumulative
# count exactly: each is the change of the rounded cumulative count, not a rounded change.
$h = start_under(prog => 'prog_scrape', stdin_pipe => 1,
                 env => { LOCKPROF_HTTP => '127.0.0.1:0', LOCKPROF_IO => 'none',
                          LOCKPROF_BLOCK_RATE => 5000000 });
ok(wait_output($h, qr/^ready/m, 30), 'a program sampled at a block rate of 5 ms started');
http_get($h, '/debug/pprof/');
send_cmd($h, 'run');
ok(wait_output($h, qr/^running$/m, 10), 'it contends');
my @fd;
for (1 .. 30) { # rounded one by one, 30 changes would miss the sum by ±1.6 (1 s.d.)
    sleep 0.1;
    push @fd, alloy_get('/debug/pprof/delta_block');
}
send_cmd($h, 'stop');
ok(wait_output($h, qr/^stopped \d+$/m, 30), 'it stopped');
push @fd, alloy_get('/debug/pprof/delta_block');
my $fc = alloy_get('/debug/pprof/block');
@bad = ();
check_profile($_) for @fd, $fc;
is_deeply(\@bad, [], 'its answers are profiles');
my %fsum;
by_stack($_->{profile}, \%fsum) for @fd;
is_deeply(nonzero(\%fsum), nonzero(by_stack($fc->{profile}, {})),
          'the ' . scalar(@fd) . ' delta_block answers add up, stack by stack, to the '
          . 'cumulative profile, counts included');
send_cmd($h, 'exit');
is(finish($h)->{exit}, 0, 'the program exits 0');

done_testing();
