#!/usr/bin/perl
# LOCKPROF_HTTP: go tool pprof reads the live block and mutex profiles;
# seconds=N gives a delta of the waits completed in the window (time_nanos/duration_nanos as Go
# sets them); debug=1 text shows the same names (leaves included) and totals as the pprof form;
# a dormant program is profiled for a window with rate= and fraction=, and is dormant again
# after it.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;
use Time::HiRes qw(time sleep);

my $go = `command -v go 2>/dev/null`;
chomp $go;
ok($go ne '', 'go is installed (.ci/run installs golang-go)') or BAIL_OUT('no go');
$ENV{HOME} = tmpdir();                # go wants a writable home and cache
$ENV{GOCACHE} = tmpdir() . '/gocache';
$ENV{PPROF_TMPDIR} = tmpdir();

# The samples of `go tool pprof -raw` output: [[count, delay, [function names, leaf first]], …].
sub parse_raw {
    my ($out) = @_;
    my (%loc, @samples, $sec, $last);
    for (split /\n/, $out) {
        if (/^Samples:/) { $sec = 's'; next }
        if (/^Locations/) { $sec = 'l'; next }
        if (/^Mappings/) { $sec = 'm'; next }
        if (($sec // '') eq 's' && /^\s+(\d+)\s+(\d+): ([\d ]+?)\s*$/) {
            push @samples, [ $1, $2, [ split ' ', $3 ] ];
        } elsif (($sec // '') eq 'l' && /^\s+(\d+): 0x[0-9a-f]+ (?:M=\d+ )?(\S+)/) {
            $last = $1;
            push @{ $loc{$1} }, $2;
        } elsif (($sec // '') eq 'l' && /^\s+(\S+) \S+:\d+/ && defined $last) {
            push @{ $loc{$last} }, $1;   # inlined frames of the same location
        }
    }
    for my $s (@samples) { $s->[2] = [ map { @{ $loc{$_} || ['?'] } } @{ $s->[2] } ] }
    return \@samples;
}

sub pprof_raw {
    my ($src, @flags) = @_;
    my $out = `go tool pprof -raw @flags '$src' 2>&1`;
    return (parse_raw($out), $out);
}

sub raw_total {
    my ($samples, $leaf, $frame) = @_;
    my ($c, $d) = (0, 0);
    for my $s (@$samples) {
        my @f = @{ $s->[2] };
        next unless $f[0] eq $leaf && grep { $_ eq $frame } @f;
        $c += $s->[0];
        $d += $s->[1];
    }
    return ($c, $d);
}

sub await_line {
    my ($h, $re, $what) = @_;
    my $m = wait_output($h, $re, 30);
    ok(defined $m, $what);
    return $m;
}

# A convoy in the program; returns (Σ waits, count, owed) as it measured them.
sub convoy {
    my ($h, $ms) = @_;
    my $before = () = (slurp($h->{outf}) // '') =~ /^convoy /mg;
    send_cmd($h, "convoy $ms");
    my $deadline = time + 30;
    while (time < $deadline) {
        my @c = (slurp($h->{outf}) // '') =~ /^convoy (\d+) (\d+) (\d+)$/mg;
        return @c[-3 .. -1] if @c / 3 > $before;
        sleep 0.02;
    }
    fail("convoy $ms did not finish");
    return (0, 0, 0);
}

sub windows_open {
    my ($h) = @_;
    my ($st, undef, $body) = http_get($h, '/debug/pprof/');
    return ($body // '') =~ /Windows open: (\d+)/ ? $1 : -1;
}

# A request in the background (its answer in a file): for seconds=N windows.
sub http_bg {
    my ($h, $path, $file) = @_;
    my $pid = fork();
    if ($pid == 0) {
        my ($st, $head, $body) = http_get($h, $path, timeout => 60);
        open my $fh, '>', $file or POSIX::_exit(1);
        binmode $fh;
        print $fh $body // '';
        close $fh;
        POSIX::_exit(($st // 0) == 200 ? 0 : 1);
    }
    return $pid;
}

my $h = start_under(prog => 'prog_live', stdin_pipe => 1,
                    env => { LOCKPROF_HTTP => '127.0.0.1:0', LOCKPROF_IO => 'none' });
await_line($h, qr/^ready/m, 'the program started');
ok(defined http_get($h, '/debug/pprof/'), "lockprof announced its address: $h->{http}");
my ($st, $head, $body) = http_get($h, '/debug/pprof/');
is($st, 200, 'the index page');
like($body, qr{href="mutex\?debug=1"}, 'it links the mutex profile');

# ---- go tool pprof -raw reads the live profiles ------------------------------------------
my ($w1, $n1, $owed1) = convoy($h, 60);
is($n1, 2, 'the convoy had two waits');
my $url = "http://$h->{http}/debug/pprof";
{
    my ($s, $out) = pprof_raw("$url/mutex");
    ok(@$s > 0, 'go tool pprof -raw reads /debug/pprof/mutex') or diag($out);
    my ($c, $d) = raw_total($s, 'pthread_mutex_unlock', 'live_convoy_release');
    within($d, $owed1, 2, 'the release in live_convoy_release is charged what it owed');
    ($s, $out) = pprof_raw("$url/block");
    ok(@$s > 0, 'go tool pprof -raw reads /debug/pprof/block') or diag($out);
    ($c, $d) = raw_total($s, 'pthread_mutex_lock', 'live_convoy_wait');
    is($c, 2, 'two waits in live_convoy_wait');
    within($d, $w1, 2, 'block delay = the waits measured');
}

# ---- go tool pprof -seconds 2: a delta of the waits completed in those two seconds ---------
{
    my $file = tmpdir() . '/delta.raw';
    my $pid = fork();
    if ($pid == 0) {
        open STDOUT, '>', $file or POSIX::_exit(1);
        open STDERR, '>&', \*STDOUT;
        { exec 'go', 'tool', 'pprof', '-raw', '-seconds', '2', "$url/block" }
        POSIX::_exit(127);
    }
    my $deadline = time + 30;
    sleep 0.02 until windows_open($h) >= 1 || time > $deadline;
    is(windows_open($h), 1, 'the window is open (the index says so)');
    my $t0 = time;
    my ($w2, $n2) = convoy($h, 60);
    ok(time - $t0 < 1.5, 'the convoy finished well inside the window');
    waitpid($pid, 0);
    is($?, 0, 'go tool pprof -seconds 2 returned');
    my $raw = slurp($file) // '';
    my $samples = parse_raw($raw);
    my ($c, $d) = raw_total($samples, 'pthread_mutex_lock', 'live_convoy_wait');
    is($c, 2, 'the delta holds the window\'s two waits, not the earlier convoy\'s') or diag($raw);
    within($d, $w2, 2, 'and their delay as measured');
    like($raw, qr/^Duration: 2\.\d+/m, "Duration: 2.xx (duration_nanos)");
}

# ---- the same window over plain HTTP: time_nanos and duration_nanos ----------------------
{
    my $file = tmpdir() . '/delta.pb.gz';
    my $t_start = time;
    my $pid = http_bg($h, '/debug/pprof/mutex?seconds=1', $file);
    waitpid($pid, 0);
    my $t_end = time;
    is($?, 0, 'mutex?seconds=1 answered 200');
    my $p = read_profile($file);
    is($p->{status}, 0, 'the delta decodes');
    ok($p->{duration_nanos} >= 1e9 && $p->{duration_nanos} < 1.5e9,
       "duration_nanos is the window's length ($p->{duration_nanos})");
    ok($p->{time_nanos} / 1e9 >= $t_start + 1 - 0.05 && $p->{time_nanos} / 1e9 <= $t_end + 0.05,
       'time_nanos is the end of the window');
    is(scalar @{ $p->{samples} }, 0, 'nothing contended in that second: no samples');
    ok(grep({ /delta profile/ } @{ $p->{comments} }), 'a comment says it is a delta');
}

# ---- debug=1: the same names and totals as the pprof form --------------------------------
# go tool pprof reads the text form from the URL, as a user would: it names the program's
# frames from its own DWARF and asks /debug/pprof/symbol for the rest (libc's, and the
# synthetic leaves'), as it does of Go's servers. The program is quiescent meanwhile, so both
# forms hold the same samples.
{
    for my $kind (qw(block mutex)) {
        my ($s1, undef, $text) = http_get($h, "/debug/pprof/$kind?debug=1");
        is($s1, 200, "$kind?debug=1");
        like($text, $kind eq 'block' ? qr/^--- contention:\ncycles\/second=1000000000\n/
                                     : qr/^--- mutex:\ncycles\/second=1000000000\nsampling period=1\n/,
             "$kind: Go's legacy header");
        like($text, qr/^--- Memory map: ---$/m, "$kind: the memory map");
        my %top;
        for my $src ("$url/$kind?debug=1", "$url/$kind") {
            my $out = `go tool pprof -top -nodecount=1000 -nodefraction=0 -edgefraction=0 -sample_index=delay '$src' 2>&1`;
            my ($total) = $out =~ /of ([\d.]+\w*) total/;
            my %names = map { $_ => 1 }
                        map { (split ' ')[-1] } grep { /^\s+[\d.]+\w*\s+[\d.]+%/ } split /\n/, $out;
            $top{$src} = { total => $total, names => \%names, out => $out };
        }
        my ($t, $b) = @top{ "$url/$kind?debug=1", "$url/$kind" };
        is($t->{total}, $b->{total}, "$kind: go tool pprof -top totals agree (${\($b->{total} // '?')})")
            or diag("$t->{out}\n$b->{out}");
        ok($t->{names}{live_convoy_wait} || $t->{names}{live_convoy_release},
           "$kind: the program's function by name in the text form");
        ok($t->{names}{start_thread}, "$kind: libc's start_thread by name in the text form")
            or diag($t->{out});
        # The synthetic leaf, at its synthetic address in both forms, named by /symbol.
        my $leaf = $kind eq 'block' ? 'pthread_mutex_lock' : 'pthread_mutex_unlock';
        ok($t->{names}{$leaf}, "$kind: the leaf $leaf by name in the text form") or diag($t->{out});
        # One frame differs, and not by lockprof: go tool pprof names the program's frames in
        # the text form from the binary's DWARF itself, marks the mapping symbolized, and so
        # leaves crt1's _start (no DWARF) as "[prog_live]" without asking /symbol for it.
        my %tn = %{ $t->{names} };
        my %bn = %{ $b->{names} };
        if (delete $tn{'[prog_live]'}) { delete $bn{_start} }
        is_deeply([ sort keys %tn ], [ sort keys %bn ],
                  "$kind: the same function names in both forms (program and libc)");
    }
}

# ---- a dormant program profiled for a window ---------------------------------------------
{
    my $d = start_under(prog => 'prog_live', stdin_pipe => 1,
                        env => { LOCKPROF_HTTP => '127.0.0.1:0', LOCKPROF_IO => 'none',
                                 LOCKPROF_BLOCK_RATE => 0, LOCKPROF_MUTEX_FRACTION => 0 });
    await_line($d, qr/^ready/m, 'a dormant program started (rates 0)');
    convoy($d, 30); # before the window: not recorded
    my $dir = tmpdir();
    my @pids = (http_bg($d, '/debug/pprof/block?seconds=2&rate=1&fraction=1', "$dir/dblock.pb.gz"),
                http_bg($d, '/debug/pprof/mutex?seconds=2&rate=1&fraction=1', "$dir/dmutex.pb.gz"));
    my $deadline = time + 30;
    sleep 0.02 until windows_open($d) >= 2 || time > $deadline;
    is(windows_open($d), 2, 'both windows are open');
    my ($w, $n, $owed) = convoy($d, 60);
    # A child forked during the window has no thread to end it: it gets the rates back.
    send_cmd($d, 'fork');
    is(wait_output($d, qr/^child rates (\d+ \d+)$/m, 10), '0 0',
       'a child forked during the window is dormant again');
    waitpid($_, 0) for @pids;
    my $b = read_profile("$dir/dblock.pb.gz");
    my $m = read_profile("$dir/dmutex.pb.gz");
    my ($c, $bd) = total($b, leaf => 'pthread_mutex_lock', frame => 'live_convoy_wait');
    is($c, 2, 'the window recorded the two waits at rate 1');
    within($bd, $w, 2, 'with their measured delay');
    my ($mc, $md) = total($m, leaf => 'pthread_mutex_unlock', frame => 'live_convoy_release');
    within($md, $owed, 2, 'and the release\'s charge at fraction 1');
    ok(grep({ /rates set for this window: block rate 1 ns, mutex fraction 1/ } @{ $b->{comments} }),
       'a comment gives the window\'s rates');
    convoy($d, 30); # after: not recorded
    my (undef, undef, $cum) = http_get($d, '/debug/pprof/block');
    my $f = "$dir/dcum.pb.gz";
    open my $fh, '>', $f or die; binmode $fh; print $fh $cum; close $fh;
    my $p = read_profile($f);
    ok(grep({ /^block rate: 0 ns/ } @{ $p->{comments} }), 'the block rate is 0 again');
    my (undef, undef, $cumm) = http_get($d, '/debug/pprof/mutex');
    open $fh, '>', $f or die; binmode $fh; print $fh $cumm; close $fh;
    ok(grep({ /^mutex fraction: 0 / } @{ read_profile($f)->{comments} }), 'the mutex fraction is 0 again');
    my ($cc) = total($p, leaf => 'pthread_mutex_lock', frame => 'live_convoy_wait');
    is($cc, 2, 'the cumulative profile holds only the window\'s waits: nothing before or after');
    send_cmd($d, 'exit');
    is(finish($d)->{exit}, 0, 'the dormant program exits 0');
}

# ---- overlapping windows at different rates; a client that half-closes -------------------
{
    my $d = start_under(prog => 'prog_live', stdin_pipe => 1,
                        env => { LOCKPROF_HTTP => '127.0.0.1:0', LOCKPROF_IO => 'none',
                                 LOCKPROF_BLOCK_RATE => 0, LOCKPROF_MUTEX_FRACTION => 0 });
    await_line($d, qr/^ready/m, 'a dormant program started for overlapping windows');
    my $dir = tmpdir();
    # A runs 3 s at rate 1, fraction 1; B, opened inside it, sets other rates for its 1 s and
    # leaves them in force until A, the last to end, restores the dormant pair.
    my $a = http_bg($d, '/debug/pprof/block?seconds=3&rate=1&fraction=1', "$dir/a.pb.gz");
    my $deadline = time + 30;
    sleep 0.02 until windows_open($d) >= 1 || time > $deadline;
    my $b = http_bg($d, '/debug/pprof/mutex?seconds=1&rate=2000000&fraction=3', "$dir/b.pb.gz");
    waitpid($_, 0) for $b, $a;
    my $pa = read_profile("$dir/a.pb.gz");
    my $pb = read_profile("$dir/b.pb.gz");
    ok(grep({ /^rates changed during this window: block rate 1 ns, mutex fraction 1 at its start; block rate 2000000 ns, mutex fraction 3 at its end$/ } @{ $pa->{comments} }),
       'a window whose rates another window changed says so, with both pairs')
        or diag(join("\n", @{ $pa->{comments} }));
    ok(!grep({ /rates set for this window/ } @{ $pa->{comments} }),
       'and does not claim to have run at the rates it asked for');
    ok(grep({ /^rates set for this window: block rate 2000000 ns, mutex fraction 3$/ } @{ $pb->{comments} }),
       'the window inside it ran at its own rates throughout')
        or diag(join("\n", @{ $pb->{comments} }));

    # GET, then shutdown(SHUT_WR), as nc -N sends a request: the window is answered.
    my $t0 = time;
    my ($st, $head, $body) = http_get($d, undef,
        raw => "GET /debug/pprof/mutex?seconds=1 HTTP/1.1\r\nHost: x\r\n\r\n", half_close => 1,
        timeout => 30);
    my $took = time - $t0;
    is($st, 200, 'a client that half-closed after its request gets the window\'s answer');
    ok($took >= 0.9, sprintf('after the window (%.2f s)', $took));
    is(substr($body // '', 0, 2), "\x1f\x8b", 'a gzip-compressed profile');

    # A client that closes outright while its window runs (curl or fetch stopped with ^C):
    # the window ends at once, its rates with it, and its slot is free again.
    require IO::Socket::INET;
    my $c = IO::Socket::INET->new(PeerAddr => $d->{http}, Timeout => 5) or die "connect: $!";
    print $c "GET /debug/pprof/mutex?seconds=600&rate=1&fraction=1 HTTP/1.1\r\nHost: x\r\n\r\n";
    $c->flush;
    $deadline = time + 30;
    sleep 0.02 until windows_open($d) >= 1 || time > $deadline;
    is(windows_open($d), 1, 'a 600 s window is open');
    close $c;
    $deadline = time + 5;
    sleep 0.02 until windows_open($d) == 0 || time > $deadline;
    is(windows_open($d), 0, 'the client closed: the window ended at once');
    my (undef, undef, $idx) = http_get($d, '/debug/pprof/');
    like($idx // '', qr/Block rate 0 ns, mutex fraction 0\b/, 'and the dormant rates are back');
    send_cmd($d, 'exit');
    is(finish($d)->{exit}, 0, 'the program exits 0');
}

# The shells and helpers a program starts do not serve (they would fight for the address).
send_cmd($h, 'system');
is(wait_output($h, qr/^system (-?\d+)$/m, 10), 0, 'system("exec true") under the preload');
send_cmd($h, 'exit');
my $r = finish($h);
is($r->{exit}, 0, 'the program exits 0');
like($r->{err}, qr{^lockprof: serving http://127\.0\.0\.1:\d+/debug/pprof/ \(pid \d+\)\n\z},
     'lockprof said one line: where it serves');

done_testing();
