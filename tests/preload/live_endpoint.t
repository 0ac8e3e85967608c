#!/usr/bin/perl
# LOCKPROF_HTTP inside a real program: /debug/pprof/threads names a thread
# blocked on a mutex, its holder and the wait so far, and reports two deadlocked threads as a
# cycle; the endpoint answers unknown paths with 404 and malformed requests with 400, is not
# stalled by a silent client, serves 16 clients at once, survives random bytes (fixed seed)
# and the program's closefrom(3); unix sockets are 0600; other addresses need an opt-in.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;
use JSON::PP;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

sub cmd_answer {
    my ($h, $cmd, $re) = @_;
    my $before = () = (slurp($h->{outf}) // '') =~ /$re/mg;
    send_cmd($h, $cmd);
    my $deadline = time + 30;
    while (time < $deadline) {
        my @all = (slurp($h->{outf}) // '') =~ /$re/mg;
        return $all[-1] if @all > $before;
        sleep 0.02;
    }
    return undef;
}

my $h = start_under(prog => 'prog_live', stdin_pipe => 1,
                    env => { LOCKPROF_HTTP => '127.0.0.1:0', LOCKPROF_IO => 'none' });
ok(wait_output($h, qr/^ready/m, 10), 'the program started');

# ---- the threads view -----------------------------------------------------------------------
{
    my $t0 = time;
    my $line = cmd_answer($h, 'block', qr/^(blocked \d+ \d+ 0x[0-9a-f]+)$/m);
    my ($waiter, $holder, $addr) = $line =~ /^blocked (\d+) (\d+) (0x[0-9a-f]+)/;
    ok($waiter, "a thread ($waiter) blocks on $addr held by $holder");
    sleep 0.2;
    my $t_ask = time;
    my ($st, undef, $view) = http_get($h, '/debug/pprof/threads');
    my $t_got = time;
    is($st, 200, '/debug/pprof/threads');
    like($view, qr/^lockprof threads: pid $h->{pid}\b/, 'the header names the process');
    my ($wline) = $view =~ /^(thread $waiter .*)$/m;
    ok($wline, 'the waiting thread has a line') or diag($view);
    like($wline // '', qr/blocked in pthread_mutex_lock on \Q$addr\E for ([\d.]+) s held by $holder\b/,
         'it is blocked in pthread_mutex_lock on that mutex, held by the holder');
    my ($for) = ($wline // '') =~ / for ([\d.]+) s/;
    ok(defined $for && $for >= 0.2 - 0.01 && $for <= $t_got - $t0 + 0.01,
       "the wait so far (${\($for // '?')} s) lies between 0.2 s and the time since the block");
    ok($view =~ /^thread $holder\b/m, 'the holder has a line');
    unlike($view, qr/^deadlock/m, 'no deadlock');

    my ($sj, undef, $json) = http_get($h, '/debug/pprof/threads?format=json');
    is($sj, 200, 'format=json');
    my $j = eval { decode_json($json) };
    ok($j, 'the JSON parses') or diag($@, $json);
    my ($jw) = grep { $_->{tid} == $waiter } @{ $j->{threads} || [] };
    is($jw->{holder}, $holder, 'JSON: holder') if $jw;
    is($jw->{blocked_in}, 'pthread_mutex_lock', 'JSON: blocked_in') if $jw;
    ok($jw && $jw->{waiting_ns} >= 0.2e9, 'JSON: waiting_ns') if $jw;
    ok($jw, 'JSON: the waiting thread is listed');
    is(scalar @{ $j->{deadlocks} || [] }, 0, 'JSON: no deadlock');
    my $u = cmd_answer($h, 'unblock', qr/^unblocked (\d+)$/m);
    ok($u, 'released');

    my $dl = cmd_answer($h, 'deadlock', qr/^(deadlock \d+ \d+ 0x[0-9a-f]+ 0x[0-9a-f]+)$/m);
    my ($t1, $t2, $a, $b) = ($dl // '') =~ /^deadlock (\d+) (\d+) (\S+) (\S+)/;
    ok($t1, "two threads deadlock: $t1 and $t2");
    ($st, undef, $view) = http_get($h, '/debug/pprof/threads');
    my ($first) = split /\n/, $view;
    my ($second) = (split /\n/, $view)[1];
    like($second // '', qr/^deadlock: /, 'the line after the header says deadlock') or diag($view);
    like($second // '', qr/\b$t1\b.*\b$t2\b|\b$t2\b.*\b$t1\b/, 'and names both threads of the cycle');
    like($second // '', qr/\Q$a\E/, 'and mutex A');
    like($second // '', qr/\Q$b\E/, 'and mutex B');
    $j = decode_json((http_get($h, '/debug/pprof/threads?format=json'))[2]);
    is(scalar @{ $j->{deadlocks} }, 1, 'JSON: one deadlock');
}

# ---- robustness ---------------------------------------------------------------------------
{
    my ($st, $head, $body) = http_get($h, '/debug/pprof/goroutine');
    is($st, 404, 'an unknown path: 404');
    like($body, qr/\AUnknown\ profile:\ lockprof\ profiles\ lock\ and\ blocking\ contention,
                   \ not\ goroutines\ \([^\n]*\)\n\z/x,
         'goroutine: one line, beginning as Go\'s "Unknown profile"');
    like($head, qr/^X-Go-Pprof: 1\r?$/mi, '... marked as Go marks it, for go tool pprof to show it');
    ($st, undef, $body) = http_get($h, '/debug/pprof/profile?seconds=0');
    is($st, 400, 'the CPU profile, seconds=0: 400');
    like($body, qr/\Ainvalid value for "seconds": [^\n]*\n\z/, '... in one line');
    ($st) = http_get($h, '/nothing/here');
    is($st, 404, 'another: 404');
    ($st) = http_get($h, undef, raw => "GARBAGE\r\n\r\n");
    is($st, 400, 'a malformed request: 400');
    ($st) = http_get($h, undef, raw => "GET /debug/pprof/block?debug=x HTTP/1.1\r\n\r\n");
    is($st, 400, 'a bad parameter: 400');
    ($st) = http_get($h, undef, raw => "GET /debug/pprof/block?rate=1 HTTP/1.1\r\n\r\n");
    is($st, 400, 'rate without seconds: 400');
    ($st) = http_get($h, undef, raw => "GET /x HTTP/1.1\r\n" . ("X-Pad: " . ('a' x 100) . "\r\n") x 100 . "\r\n");
    ok(defined $st && $st >= 400 && $st < 500, "headers over 8 KiB: $st");

    # A client that connects and never sends stalls neither the endpoint nor the program.
    my $silent = IO::Socket::INET->new(PeerAddr => $h->{http}, Timeout => 5);
    ok($silent, 'a silent client connects');
    my $t = time;
    ($st) = http_get($h, '/debug/pprof/');
    ok($st == 200 && time - $t < 2, sprintf('another client is served meanwhile (%.3f s)', time - $t));
    ok(cmd_answer($h, 'convoy 20', qr/^(convoy \d+ \d+ \d+)$/m), 'and the program runs on');

    # 16 clients at once: all connected first, then all send (sockets of the test's own:
    # the order of connecting and sending is the test; http_get does both at once).
    my @c = map { IO::Socket::INET->new(PeerAddr => $h->{http}, Timeout => 5) } 1 .. 16;
    is(scalar(grep { defined } @c), 16, '16 clients connect');
    print $_ "GET /debug/pprof/mutex?debug=1 HTTP/1.1\r\nHost: x\r\n\r\n" for grep { defined } @c;
    my $served = 0;
    for my $s (grep { defined } @c) {
        my $resp = '';
        eval {
            local $SIG{ALRM} = sub { die "timeout\n" };
            alarm 20;
            while (sysread($s, my $buf, 65536)) { $resp .= $buf }
            alarm 0;
        };
        alarm 0;
        $served++ if $resp =~ m{^HTTP/1\.1 200 } && $resp =~ /^--- mutex:/m;
    }
    is($served, 16, '16 concurrent clients are served');
    close $_ for grep { defined } @c;
    close $silent;

    # Random bytes, fixed seed.
    my $seed = 1;
    my $rand = sub { $seed = ($seed * 1103515245 + 12345) % 2147483648; $seed };
    my $sent = 0;
    for my $i (1 .. 300) {
        my $len = $rand->() % 3000;
        my $bytes = join '', map { chr($rand->() % 256) } 1 .. $len;
        $bytes = "GET /" . $bytes if $i % 3 == 0;
        my $s = IO::Socket::INET->new(PeerAddr => $h->{http}, Timeout => 5) or next;
        local $SIG{PIPE} = 'IGNORE';
        syswrite($s, $bytes);
        $sent++;
        close $s;
    }
    is($sent, 300, '300 random requests sent');
    ($st) = http_get($h, '/debug/pprof/');
    is($st, 200, 'the endpoint still answers');
    ok(kill(0, $h->{pid}), 'and the program is alive');

    # The program closes every descriptor above 2, as daemons do.
    ok(cmd_answer($h, 'closefrom', qr/^(closed)$/m), 'the program runs closefrom(3)');
    my $deadline = time + 5;
    ($st) = http_get($h, '/debug/pprof/mutex?debug=1');
    while ((!defined $st || $st != 200) && time < $deadline) {
        sleep 0.05;
        ($st) = http_get($h, '/debug/pprof/mutex?debug=1');
    }
    is($st, 200, 'the endpoint serves again on the same address after closefrom(3)');
    ok(cmd_answer($h, 'convoy 20', qr/^(convoy \d+ \d+ \d+)$/m), 'and the program runs on');
}

# ---- lockprof fetch against the real endpoint ------------------------------------------------
{
    my $tool = build_dir() . '/lockprof';
    my $dir = tmpdir();
    my $out = `'$tool' fetch -o '$dir/f.mutex.pb.gz' '$h->{http}' mutex 2>&1`;
    is($?, 0, 'lockprof fetch ADDRESS mutex') or diag($out);
    my $p = read_profile("$dir/f.mutex.pb.gz");
    my (undef, $d) = total($p, leaf => 'pthread_mutex_unlock', frame => 'live_convoy_release');
    ok($d > 0, 'the fetched mutex profile holds the convoy\'s release');
    $out = `'$tool' fetch '$h->{http}' threads 2>&1`;
    like($out, qr/^lockprof threads: pid $h->{pid}\b/, 'lockprof fetch ADDRESS threads prints the view');
    $out = `'$tool' fetch --seconds 1 --rate 1 --fraction 1 -o '$dir/f.delta.pb.gz' 'http://$h->{http}/debug/pprof/' block 2>&1`;
    is($?, 0, 'lockprof fetch --seconds 1 --rate 1 --fraction 1') or diag($out);
    $p = read_profile("$dir/f.delta.pb.gz");
    ok($p->{duration_nanos} >= 1e9, 'a delta of one second');
}

send_cmd($h, 'exit');
my $r = finish($h);
is($r->{exit}, 0, 'the program exits 0');
like($r->{err}, qr{\Alockprof: serving http://127\.0\.0\.1:\d+/debug/pprof/ \(pid \d+\)\n\z},
     'lockprof said only where it serves');

# ---- unix sockets and addresses -------------------------------------------------------------
{
    my $path = tmpdir() . '/lp.sock';
    my $u = start_under(prog => 'prog_live', stdin_pipe => 1, env => { LOCKPROF_HTTP => "unix:$path" });
    ok(wait_output($u, qr/^ready/m, 10), 'a program serving on a unix socket');
    my ($st, undef, $body) = http_get($u, '/debug/pprof/threads');
    is($st, 200, 'the threads view over the unix socket');
    is((stat $path)[2] & 07777, 0600, 'the socket file is mode 0600');
    send_cmd($u, 'exit');
    is(finish($u)->{exit}, 0, 'exit 0');

    # The listener is opened by lockprof's thread: wait for its word before the program exits.
    for my $case (['0.0.0.0:0', qr/^lockprof: .*0\.0\.0\.0.*loopback.*LOCKPROF_HTTP_ALLOW_REMOTE/],
                  ['nonsense', qr/^lockprof: .*nonsense/], ['127.0.0.1:99999', qr/^lockprof: .*99999/]) {
        my ($spec, $re) = @$case;
        my $x = start_under(prog => 'prog_live', stdin_pipe => 1, env => { LOCKPROF_HTTP => $spec });
        ok(wait_output($x, qr/^lockprof: /m, 10, stream => 'err'), "LOCKPROF_HTTP=$spec: lockprof says why");
        send_cmd($x, 'exit');
        my $r = finish($x);
        is($r->{exit}, 0, "LOCKPROF_HTTP=$spec: the program runs on, exit 0");
        my @l = split /\n/, $r->{err};
        ok(@l == 1 && $l[0] =~ $re, "LOCKPROF_HTTP=$spec: one line") or diag($r->{err});
    }
}

done_testing();
