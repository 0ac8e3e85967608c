#!/usr/bin/perl
# fetch.t — `lockprof fetch` against a stub HTTP server (a forked Perl child here, which
# records the requests it gets and answers each with a canned response): the request each
# option combination sends, the bytes written and where (numbered files, -o FILE, -o DIR,
# stdout), the bodies it accepts (Content-Length, close-delimited, chunked), what it does
# with errors (an error status and its message, refused, silence until --timeout, non-gzip or
# truncated profiles: exit 1, no file, the previous file untouched, no temporary left), the
# terminal rules, and every usage error (exit 2, one line, before any connection).
# Run from the repository root:
#   prove --exec tests/lib/run-one tests/tool/fetch.t
# BUILD overrides the build directory (default: build). Needs $BUILD/lockprof,
# $BUILD/tests/helper_mkprof and $BUILD/tests/helper_pty (make tests).
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use IO::Compress::Gzip qw(gzip $GzipError);
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX qw(SIGINT);
use Socket qw(SOCK_STREAM);
use Time::HiRes qw(time);
use Test::More;
use lib 'tests/lib';
use LP qw(spew count_lines);

my $build = $ENV{BUILD} // 'build';
for my $f ("$build/lockprof", "$build/tests/helper_mkprof", "$build/tests/helper_pty") {
    BAIL_OUT("$f is not built (make tests)") unless -x $f;
}
my $lockprof = abs_path("$build/lockprof");
my $mkprof   = abs_path("$build/tests/helper_mkprof");
my $pty      = abs_path("$build/tests/helper_pty");
my $tmp      = tempdir('lockprof-fetch-XXXXXX', TMPDIR => 1, CLEANUP => 1);
umask 022;

# Runs a command without a shell, in directory $o{dir} if given; returns (wait status,
# stdout, stderr, seconds taken).
my $nrun = 0;
sub run_cmd {
    my ($argv, %o) = @_;
    $nrun++;
    my ($out, $err) = ("$tmp/stdout$nrun", "$tmp/stderr$nrun");
    my $t0 = time;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        chdir $o{dir} or POSIX::_exit(125) if $o{dir};
        open(STDIN, '<', '/dev/null') or die;
        open(STDOUT, '>', $out) or die;
        open(STDERR, '>', $err) or die;
        exec { $argv->[0] } @$argv or do { print STDERR "exec $argv->[0]: $!\n"; POSIX::_exit(126) };
    }
    waitpid($pid, 0);
    my $status = $?;
    return ($status, slurp($out), slurp($err), time - $t0);
}

sub fetch { my ($args, %o) = @_; return run_cmd([$lockprof, 'fetch', @$args], %o) }

sub slurp { my ($f) = @_; return LP::slurp($f) // '' }


# The names in a directory (temporary files included: they start with a dot).
sub listing {
    my ($d) = @_;
    opendir(my $dh, $d) or die "$d: $!";
    my @n = sort grep { $_ ne '.' && $_ ne '..' } readdir $dh;
    return join(' ', @n);
}

my $ndir = 0;
sub newdir { my $d = "$tmp/d" . ++$ndir; mkdir $d or die "$d: $!"; return $d }

# ---------------------------------------------------------------------------- the stub

# A canned HTTP response. Options: length => N (a Content-Length that lies), close => 1 (no
# Content-Length: the body ends when the connection closes).
sub reply {
    my ($status, $type, $body, %o) = @_;
    my %reason = (200 => 'OK', 400 => 'Bad Request', 404 => 'Not Found',
                  500 => 'Internal Server Error');
    my $h = "HTTP/1.1 $status $reason{$status}\r\nContent-Type: $type\r\n";
    $h .= 'Content-Length: ' . ($o{length} // length $body) . "\r\n" unless $o{close};
    return "$h" . "Connection: close\r\n\r\n$body";
}

# The same body in the chunked encoding, cut into pieces of $size bytes.
sub reply_chunked {
    my ($type, $body, $size) = @_;
    my $r = "HTTP/1.1 200 OK\r\nContent-Type: $type\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (my $i = 0; $i < length $body; $i += $size) {
        my $piece = substr($body, $i, $size);
        $r .= sprintf("%x\r\n%s\r\n", length $piece, $piece);
    }
    return $r . "0\r\n\r\n";
}

# Starts a stub server on 127.0.0.1:0 (or unix => 1: a unix socket). Every connection's
# request head is appended to the log, then answered with reply (bytes, or a sub given the
# request line), then closed; silent => 1 keeps the connection open and never answers.
my (@stubs, $nstub);
sub stub {
    my (%o) = @_;
    $nstub++;
    my $log = "$tmp/stub$nstub.log";
    spew($log, '');
    my ($l, $addr);
    if ($o{unix}) {
        my $path = "$tmp/stub$nstub.sock";
        $l = IO::Socket::UNIX->new(Local => $path, Type => SOCK_STREAM, Listen => 16)
            or die "listen $path: $!";
        $addr = "unix:$path";
    } else {
        $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
                                   Listen => 16, ReuseAddr => 1) or die "listen: $!";
        $addr = '127.0.0.1:' . $l->sockport;
    }
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        alarm 120; # never outlives the test
        my @held;
        while (my $c = $l->accept) {
            my $req = '';
            while ($req !~ /\r?\n\r?\n/) {
                my $n = sysread($c, my $buf, 4096);
                last unless $n;
                $req .= $buf;
            }
            open(my $lf, '>>', $log) or POSIX::_exit(1);
            print $lf $req;
            close $lf;
            if ($o{silent}) {
                push @held, $c;
                next;
            }
            my ($line) = $req =~ /^([^\r\n]*)/;
            my $r = ref $o{reply} ? $o{reply}->($line) : $o{reply};
            my $off = 0;
            while ($off < length $r) {
                my $n = syswrite($c, $r, length($r) - $off, $off);
                last unless $n;
                $off += $n;
            }
            close $c;
        }
        POSIX::_exit(0);
    }
    close $l;
    push @stubs, $pid;
    return { addr => $addr, log => $log, pid => $pid };
}

sub stop { my ($s) = @_; kill 'KILL', $s->{pid}; waitpid($s->{pid}, 0) }
END { local $?; kill 'KILL', @stubs if @stubs; waitpid($_, 0) for @stubs }

# The request lines a stub received, in order.
sub requests { my ($s) = @_; return [ slurp($s->{log}) =~ /^(GET [^\r\n]*)\r?$/mg ] }

# A port where nobody listens (bound, then closed).
sub refused_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
                                  Listen => 1) or die "listen: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

# ---------------------------------------------------------------------------- the answers

my ($st, $out, $err, $took) = run_cmd([$mkprof, 'block', "$tmp/known.pb.gz"]);
$st == 0 or BAIL_OUT("helper_mkprof: $err");
my $profile = slurp("$tmp/known.pb.gz");
my $threads = "threads: 2\n\n1234 worker-1  pthread_mutex_lock 0x5581aa10  for 1.204s  held by 1235\n";
my $json    = "{\"threads\":[{\"tid\":1234}]}\n";
my $text    = "--- contention:\ncycles/second=1000000000\n100 1000000000 @ 0x1 0x2\n";
my $index   = "<html><body>/debug/pprof/</body></html>\n";

# Profiles without debug: the known profile; everything else: text that says what it is.
my $smart = stub(reply => sub {
    my ($line) = @_;
    return reply(200, 'application/octet-stream', $profile)
        if $line =~ m{^GET /debug/pprof/(block|mutex|profile)(\?(?!.*debug=[1-9])\S*)? };
    return reply(200, 'application/json', $json) if $line =~ m{format=json};
    return reply(200, 'text/plain; charset=utf-8', $threads) if $line =~ m{/threads };
    return reply(200, 'text/html; charset=utf-8', $index) if $line =~ m{/debug/pprof/ };
    return reply(200, 'text/plain; charset=utf-8', $text);
});
my $A = $smart->{addr};
my $port = (split /:/, $A)[1];

# ---------------------------------------------------------------------------- help

($st, $out, $err) = fetch(['--help']);
subtest 'fetch --help' => sub {
    is($st, 0, 'exit 0');
    like($out, qr/^usage: lockprof fetch \[OPTIONS\] ADDRESS \[WHAT\]$/m, 'the usage line');
    like($out, qr/^\s+$_\b/m, "mentions $_") for qw(-o --seconds --rate --fraction --debug
                                                    --json --timeout);
    like($out, qr/\bthreads\b/, 'mentions threads');
    like($out, qr/^An answer over \d+ [MG]iB is refused\.$/m, 'the largest answer taken');
    is($err, '', 'nothing on stderr');
};
($st, $out, $err) = run_cmd([$lockprof, 'help', 'fetch']);
like($out, qr/^usage: lockprof fetch/, 'lockprof help fetch');
($st, $out, $err) = run_cmd([$lockprof, '--help']);
like($out, qr/^\s+fetch\s/m, 'lockprof --help lists fetch');

# ---------------------------------------------------------------------------- requests

# Each option combination, the request line it sends. Profiles land in a fresh directory.
my @cases = (
    [[$A], '/debug/pprof/mutex'],
    [[$A, 'mutex'], '/debug/pprof/mutex'],
    [[$A, 'block'], '/debug/pprof/block'],
    [['--seconds', '2', '--rate', '1', '--fraction', '1', $A, 'mutex'],
     '/debug/pprof/mutex?seconds=2&rate=1&fraction=1'],
    [['--seconds=1', $A, 'block'], '/debug/pprof/block?seconds=1'],
    [['--fraction', '5', '--seconds', '1', $A, 'block'], '/debug/pprof/block?seconds=1&fraction=5'],
    [['--rate=0', '--seconds', '1', $A], '/debug/pprof/mutex?seconds=1&rate=0'],
    [['--debug', '1', $A, 'block'], '/debug/pprof/block?debug=1'],
    [['--debug=0', $A], '/debug/pprof/mutex'],
    [['--debug', '1', '--seconds', '1', $A], '/debug/pprof/mutex?debug=1&seconds=1'],
    [[$A, 'threads'], '/debug/pprof/threads'],
    [['--json', $A, 'threads'], '/debug/pprof/threads?format=json'],
    [[$A, 'index'], '/debug/pprof/'],
    [[$A, 'profile'], '/debug/pprof/profile?seconds=30'],
    [['--seconds', '1', $A, 'profile'], '/debug/pprof/profile?seconds=1'],
    [[$A, '/debug/pprof/goroutine?debug=2'], '/debug/pprof/goroutine?debug=2'],
    [["http://$A/debug/pprof/"], '/debug/pprof/mutex'],
    [["http://$A", 'threads'], '/debug/pprof/threads'],
    [["http://$A/debug/pprof/block?seconds=1"], '/debug/pprof/block?seconds=1'],
    [["$A/debug/pprof/threads?format=json"], '/debug/pprof/threads?format=json'],
    [[":$port", 'block'], '/debug/pprof/block'],
    [["localhost:$port", 'threads'], '/debug/pprof/threads'],
);
for my $c (@cases) {
    my ($args, $want) = @$c;
    my $before = @{ requests($smart) };
    ($st, $out, $err) = fetch($args, dir => newdir());
    my $got = requests($smart);
    subtest "fetch @$args" => sub {
        is($st, 0, 'exit 0') or diag($err);
        is(scalar(@$got), $before + 1, 'one request');
        is($got->[-1], "GET $want HTTP/1.1", 'the request line');
    };
}
{
    my $log = slurp($smart->{log});
    my ($last) = $log =~ /(GET [^\n]*\n(?:[^\r\n][^\n]*\n)*\r?\n)\z/;
    like($last // '', qr/^Host: localhost:\Q$port\E\r$/m, 'Host: the address as given');
    like($log, qr/^Host: 127\.0\.0\.1:\Q$port\E\r$/m, 'Host: an IPv4 address');
    like($log, qr/^Connection: close\r$/m, 'Connection: close');
}

# ---------------------------------------------------------------------------- output

{
    my $d = newdir();
    ($st, $out, $err) = fetch([$A], dir => $d);
    my $f = "$d/lockprof-fetch.mutex.001.pb.gz";
    my $size = length $profile;
    subtest 'a profile goes to a new numbered file' => sub {
        is($st, 0, 'exit 0') or diag($err);
        is($out, '', 'nothing on stdout');
        is($err, "lockprof fetch: wrote $size bytes to lockprof-fetch.mutex.001.pb.gz "
                 . "(mutex profile)\n", 'the summary line');
        ok(slurp($f) eq $profile, 'the bytes served');
        is((stat $f)[2] & 07777, 0644, 'mode 0666 & ~umask');
    };
    ($st, $out, $err) = fetch(['--seconds', '2', '--rate', '1', '--fraction', '1', $A], dir => $d);
    subtest 'the next one gets the next number' => sub {
        is($st, 0, 'exit 0') or diag($err);
        is($err, "lockprof fetch: wrote $size bytes to lockprof-fetch.mutex.002.pb.gz "
                 . "(mutex profile, delta of 2 s, block rate 1, mutex fraction 1)\n",
           'the summary says what was fetched');
        ok(slurp("$d/lockprof-fetch.mutex.002.pb.gz") eq $profile, 'the bytes served');
        ok(slurp($f) eq $profile, 'the first file is untouched');
        is(listing($d), 'lockprof-fetch.mutex.001.pb.gz lockprof-fetch.mutex.002.pb.gz',
           'no other file, no temporary left');
    };
    ($st, $out, $err) = run_cmd([$lockprof, 'top', $f]);
    like($out, qr/^Total: 100 contentions, 1\.00s delay/m, 'lockprof top reads the fetched file');

    ($st, $out, $err) = fetch([$A, 'block'], dir => $d);
    is($err, "lockprof fetch: wrote $size bytes to lockprof-fetch.block.001.pb.gz (block profile)\n",
       'block: its own numbering');
    ($st, $out, $err) = fetch(['--seconds', '1', $A, 'profile'], dir => $d);
    is($err, "lockprof fetch: wrote $size bytes to lockprof-fetch.profile.001.pb.gz "
             . "(CPU profile of 1 s)\n", 'profile: its own numbering, and what it is');

    ($st, $out, $err) = fetch(['-o', "$d/my.pb.gz", $A]);
    subtest '-o FILE' => sub {
        is($st, 0, 'exit 0') or diag($err);
        is($err, "lockprof fetch: wrote $size bytes to $d/my.pb.gz (mutex profile)\n", 'summary');
        ok(slurp("$d/my.pb.gz") eq $profile, 'the bytes served');
    };
    spew("$d/old.pb.gz", 'previous');
    ($st, $out, $err) = fetch(["--output=$d/old.pb.gz", $A]);
    ok($st == 0 && slurp("$d/old.pb.gz") eq $profile, '--output=FILE replaces a previous file');

    my $sub = newdir();
    ($st, $out, $err) = fetch(['-o', $sub, $A, 'block']);
    subtest '-o DIR' => sub {
        is($st, 0, 'exit 0') or diag($err);
        ok(slurp("$sub/lockprof-fetch.block.001.pb.gz") eq $profile, 'a numbered file in DIR');
        like($err, qr/ to \Q$sub\E\/lockprof-fetch\.block\.001\.pb\.gz \(block profile\)$/,
             'summary');
    };

    ($st, $out, $err) = fetch(['-o', '-', $A]);
    ok($st == 0 && $out eq $profile && $err eq '', '-o -: the profile on stdout, nothing else');

    ($st, $out, $err) = fetch([$A, 'threads'], dir => $d);
    ok($st == 0 && $out eq $threads && $err eq '', 'threads: the text on stdout, nothing else');
    ($st, $out, $err) = fetch(['--json', $A, 'threads']);
    ok($st == 0 && $out eq $json, 'threads --json on stdout');
    ($st, $out, $err) = fetch(['--debug', '1', $A, 'block']);
    ok($st == 0 && $out eq $text, '--debug 1 on stdout');
    ($st, $out, $err) = fetch([$A, 'index']);
    ok($st == 0 && $out eq $index, 'index on stdout');
    ($st, $out, $err) = fetch(['-o', "$d/t.txt", $A, 'threads']);
    subtest 'threads -o FILE' => sub {
        is($st, 0, 'exit 0') or diag($err);
        is(slurp("$d/t.txt"), $threads, 'the text');
        is($err, "lockprof fetch: wrote " . length($threads) . " bytes to $d/t.txt (threads view)\n",
           'summary');
    };
    my $sub2 = newdir();
    ($st, $out, $err) = fetch(['-o', "$sub2/", '--json', $A, 'threads']);
    is(slurp("$sub2/lockprof-fetch.threads.001.json"), $json, '-o DIR/ for JSON: a .json file');

    # Paths the endpoint knows are named as WHAT would name them; others are "answer".
    my $sub3 = newdir();
    ($st, $out, $err) = fetch(["http://$A/debug/pprof/block?seconds=1"], dir => $sub3);
    ($st, $out, $err) = fetch(['-o', $sub3, "$A/debug/pprof/threads?format=json"]);
    ($st, $out, $err) = fetch(['-o', $sub3, $A, '/debug/pprof/goroutine?debug=2']);
    is(listing($sub3), 'lockprof-fetch.answer.001.txt lockprof-fetch.block.001.pb.gz '
                       . 'lockprof-fetch.threads.001.json', 'files named after the path');
    ok(slurp("$sub3/lockprof-fetch.block.001.pb.gz") eq $profile, 'a profile by path, to a file');

    # Devices are written to, never replaced; a symbolic link stays a link.
    ($st, $out, $err) = fetch(['-o', '/dev/null', $A]);
    subtest '-o /dev/null' => sub {
        is($st, 0, 'exit 0') or diag($err);
        is($err, "lockprof fetch: wrote $size bytes to /dev/null (mutex profile)\n", 'summary');
        ok(-c '/dev/null', '/dev/null is still a device');
    };
    spew("$d/target.pb.gz", 'old');
    symlink("$d/target.pb.gz", "$d/link.pb.gz") or die "symlink: $!";
    ($st, $out, $err) = fetch(['-o', "$d/link.pb.gz", $A]);
    subtest '-o LINK' => sub {
        is($st, 0, 'exit 0') or diag($err);
        ok(-l "$d/link.pb.gz", 'the link stays');
        ok(slurp("$d/target.pb.gz") eq $profile, 'its target is replaced');
        is($err, "lockprof fetch: wrote $size bytes to $d/target.pb.gz (mutex profile)\n",
           'summary: the file written');
    };
}

# ---------------------------------------------------------------------------- bodies

{
    my $big = $profile x 1; # a few hundred bytes; chunks of 7 cut it everywhere
    my %bodies = (
        'no Content-Length (ends at close)' => reply(200, 'application/octet-stream', $profile,
                                                     close => 1),
        'chunked' => reply_chunked('application/octet-stream', $big, 7),
        'chunked, one chunk' => reply_chunked('application/octet-stream', $big, 1 << 20),
    );
    for my $name (sort keys %bodies) {
        my $s = stub(reply => $bodies{$name});
        my $d = newdir();
        ($st, $out, $err) = fetch([$s->{addr}], dir => $d);
        ok($st == 0 && slurp("$d/lockprof-fetch.mutex.001.pb.gz") eq $big, "a body: $name")
            or diag($err);
        stop($s);
    }
    my $s = stub(reply => reply_chunked('text/plain', $threads, 5));
    ($st, $out, $err) = fetch([$s->{addr}, 'threads']);
    is($out, $threads, 'chunked text');
    stop($s);
    (my $bare = reply(200, 'text/plain', $threads)) =~ s/\r\n/\n/g;
    $s = stub(reply => $bare . '');
    ($st, $out, $err) = fetch([$s->{addr}, 'threads']);
    is($out, $threads, 'a header with bare LF line ends');
    stop($s);
}

# ---------------------------------------------------------------------------- failures

# Exit 1, one line on stderr, nothing on stdout; and, in $o{dir}, only the files $o{keep}.
sub fails {
    my ($args, $re, $name, %o) = @_;
    my $d = $o{dir} // newdir();
    ($st, $out, $err, $took) = fetch($args, dir => $d);
    subtest $name => sub {
        is($st >> 8, 1, 'exit status 1') or diag("status $st: $err");
        is($st & 127, 0, 'no signal');
        is(count_lines($err), 1, 'one line on stderr') or diag("stderr: $err");
        like($err, $re, 'the message');
        is($out, '', 'nothing on stdout');
        is(listing($d), $o{keep} // '', 'no file written, no temporary left');
    };
    return $took;
}

{
    my $s = stub(reply => reply(404, 'text/plain; charset=utf-8', "unknown profile: 'nope'\n"));
    fails([$s->{addr}, '/debug/pprof/nope'],
          qr{^lockprof fetch: /debug/pprof/nope from \Q$s->{addr}\E: 404 Not Found: unknown profile: 'nope'$},
          '404: the status and the server\'s message');
    fails([$s->{addr}], qr{^lockprof fetch: /debug/pprof/mutex from \Q$s->{addr}\E: 404 Not Found: },
          '404 for a profile: no file');
    stop($s);

    $s = stub(reply => reply(400, 'text/plain', "seconds: expected 1 to 3600\r\n"));
    fails(['--seconds', '9999', $s->{addr}, 'block'],
          qr{: 400 Bad Request: seconds: expected 1 to 3600$}, '400 with its message');
    stop($s);

    $s = stub(reply => reply(500, 'text/html', "<html>\n<p>oops</p>\n"));
    fails([$s->{addr}, 'threads'], qr{: 500 Internal Server Error$},
          '500 with an HTML body: the status only');
    stop($s);

    my $p = refused_port();
    fails(["127.0.0.1:$p"],
          qr{^lockprof fetch: cannot connect to 127\.0\.0\.1:$p: Connection refused \(is the program running, with LOCKPROF_HTTP=127\.0\.0\.1:$p\?\)$},
          'connection refused');
    fails(["unix:$tmp/nobody.sock", 'threads'],
          qr{^lockprof fetch: cannot connect to unix:\Q$tmp\E/nobody\.sock: No such file or directory},
          'a unix socket that does not exist');

    $s = stub(silent => 1);
    my $t = fails(['--timeout', '1', $s->{addr}],
                  qr{^lockprof fetch: /debug/pprof/mutex from \Q$s->{addr}\E: no complete answer within 1 s \(the program sent nothing\)$},
                  'a server that never answers: --timeout 1');
    ok($t >= 0.9 && $t < 10, "gave up after the timeout (took ${\ sprintf '%.2f', $t} s)");
    $t = fails(['--seconds', '1', '--timeout', '1', $s->{addr}, 'block'],
               qr{: no complete answer within 2 s}, '--seconds 1 --timeout 1, never answered');
    ok($t >= 1.9 && $t < 11, "waited --seconds + --timeout (took ${\ sprintf '%.2f', $t} s)");
    is_deeply(requests($s), ['GET /debug/pprof/mutex HTTP/1.1',
                             'GET /debug/pprof/block?seconds=1 HTTP/1.1'],
              'the silent server got both requests');
    stop($s);

    $s = stub(reply => '');
    fails([$s->{addr}, 'threads'], qr{: the connection closed without an answer$},
          'closed without an answer');
    stop($s);
    $s = stub(reply => "SSH-2.0-OpenSSH_9.2\r\n\r\n");
    fails([$s->{addr}], qr{: the answer is not HTTP}, 'not HTTP');
    stop($s);

    # A profile that is not gzip data, into a file that exists: it stays as it was.
    $s = stub(reply => reply(200, 'text/plain', "this is not a profile\n"));
    my $d = newdir();
    spew("$d/keep.pb.gz", 'the previous profile');
    fails(['-o', "$d/keep.pb.gz", $s->{addr}],
          qr{: the answer is not a gzip-compressed profile \(22 bytes, text/plain, beginning 'this is not a profile'\)$},
          'a text body for a profile: exit 1', dir => $d, keep => 'keep.pb.gz');
    is(slurp("$d/keep.pb.gz"), 'the previous profile', 'the previous file is untouched');
    fails([$s->{addr}], qr{not a gzip-compressed profile}, 'no numbered file either');
    fails([$s->{addr}, '/debug/pprof/block?seconds=1'], qr{not a gzip-compressed profile},
          'a profile by path is checked too');
    fails(['-o', '/dev/full', $A], qr{^lockprof fetch: writing /dev/full: No space left on device$},
          'a write that fails') if -c '/dev/full';
    stop($s);

    # Cut short: Content-Length says more than came; gzip data whose end is missing.
    $s = stub(reply => reply(200, 'application/octet-stream', $profile,
                             length => length($profile) + 100));
    fails([$s->{addr}],
          qr{: the connection closed after ${\ length $profile} of the answer's ${\ (length($profile) + 100)} bytes$},
          'a body shorter than its Content-Length');
    stop($s);
    $s = stub(reply => reply(200, 'application/octet-stream',
                             substr($profile, 0, length($profile) - 10), close => 1));
    fails([$s->{addr}], qr{: the profile is truncated or corrupt gzip data$},
          'gzip data cut short, delimited by the close');
    stop($s);
    $s = stub(reply => substr(reply_chunked('application/octet-stream', $profile, 64), 0, -5));
    fails([$s->{addr}], qr{: the connection closed in the middle of the answer$},
          'a chunked body cut short');
    stop($s);
}

# ---------------------------------------------------------------------------- unix sockets

{
    my $s = stub(unix => 1, reply => sub {
        $_[0] =~ /threads/ ? reply(200, 'text/plain', $threads)
                           : reply(200, 'application/octet-stream', $profile) });
    ($st, $out, $err) = fetch([$s->{addr}, 'threads']);
    ok($st == 0 && $out eq $threads, 'unix:PATH threads') or diag($err);
    my $d = newdir();
    ($st, $out, $err) = fetch(['--seconds', '1', $s->{addr}, 'block'], dir => $d);
    ok($st == 0 && slurp("$d/lockprof-fetch.block.001.pb.gz") eq $profile, 'unix:PATH block')
        or diag($err);
    is_deeply(requests($s), ['GET /debug/pprof/threads HTTP/1.1',
                             'GET /debug/pprof/block?seconds=1 HTTP/1.1'], 'unix: the requests');
    like(slurp($s->{log}), qr/^Host: localhost\r$/m, 'unix: Host: localhost');
    stop($s);
}

# ---------------------------------------------------------------------------- terminals

# Runs a command on a new terminal (helper_pty), in directory $dir if defined, typing ^C once
# $text appears; returns (wait status, what the terminal showed).
sub on_pty {
    my ($dir, $text, @cmd) = @_;
    $nrun++;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        chdir $dir or POSIX::_exit(125) if defined $dir;
        open(STDIN, '<', '/dev/null') or die;
        open(STDOUT, '>', "$tmp/pty$nrun") or die;
        open(STDERR, '>', "$tmp/ptyerr$nrun") or die;
        exec { $pty } $pty, $text, '--', @cmd or POSIX::_exit(126);
    }
    waitpid($pid, 0);
    return ($?, slurp("$tmp/pty$nrun"));
}

{
    # A binary profile is never written to a terminal.
    my ($pst, $seen) = on_pty(undef, 'never printed', $lockprof, 'fetch', '-o', '-', $A);
    subtest '-o - on a terminal' => sub {
        is($pst >> 8, 2, 'exit 2');
        like($seen, qr/^lockprof fetch: not writing a binary profile to a terminal: give -o FILE, or redirect standard output; try 'lockprof fetch --help'\r?$/m,
             'the reason');
    };
    ($pst, $seen) = on_pty(undef, 'never printed', $lockprof, 'fetch', $A, 'threads');
    (my $want = $threads) =~ s/\n/\r\n/g;
    ok($pst == 0 && $seen eq $want, 'text goes to a terminal as it is');

    # ^C during a --seconds wait: lockprof dies of SIGINT, its temporary file is gone. (The
    # terminal's "^C" echo may come before the message's newline: stderr is unbuffered.)
    my $s = stub(silent => 1);
    my $d = newdir();
    ($pst, $seen) = on_pty($d, 'the answer comes in', $lockprof, 'fetch', '--seconds', '30',
                           $s->{addr});
    subtest '^C during --seconds' => sub {
        is($pst >> 8, 128 + SIGINT, 'died of SIGINT') or diag($seen);
        like($seen, qr{^lockprof fetch: /debug/pprof/mutex\?seconds=30 from \Q$s->{addr}\E: the answer comes in 30 s}m,
             'on a terminal, it says how long it will take');
        is(listing($d), '', 'no file, no temporary left');
    };
    stop($s);
}

# ---------------------------------------------------------------------------- usage errors

# One clear line on stderr, exit status 2, nothing on stdout; all before any connection (the
# smart stub's log is checked at the end).
my $requests_before = @{ requests($smart) };
sub usage_fails {
    my ($args, $re, $name) = @_;
    my $d = newdir();
    ($st, $out, $err) = fetch($args, dir => $d);
    subtest $name => sub {
        is($st >> 8, 2, 'exit status 2') or diag("status $st");
        is($st & 127, 0, 'no signal');
        is(count_lines($err), 1, 'one line on stderr') or diag("stderr: $err");
        like($err, $re, 'the message');
        like($err, qr/; try 'lockprof fetch --help'$/, 'the hint') unless $name =~ /-o /;
        is($out, '', 'nothing on stdout');
        is(listing($d), '', 'no file');
    };
}

usage_fails([], qr/^lockprof fetch: no address to fetch from;/, 'no address');
usage_fails(['--bogus', $A], qr/^lockprof fetch: unknown option '--bogus';/, 'unknown option');
usage_fails(['-x', $A], qr/unknown option '-x'/, 'unknown short option');
usage_fails(['localhost'], qr/address 'localhost': expected HOST:PORT, http:\/\/HOST:PORT or unix:PATH;/,
            'an address without a port');
usage_fails(['127.0.0.1:99999'], qr/port '99999': expected a number from 1 to 65535/, 'port too big');
usage_fails(['127.0.0.1:http'], qr/port 'http': expected a number/, 'a port by name');
usage_fails(['127.0.0.1:0'], qr/port 0: the program chose its port; its 'lockprof: serving' line says which/,
            'port 0');
usage_fails(['unix:'], qr/address 'unix:': expected unix:PATH/, 'unix: without a path');
usage_fails(['unix:' . ('x' x 200)], qr/a socket path has at most 107 bytes/, 'unix: path too long');
usage_fails(["https://$A/"], qr/plain HTTP, not https/, 'https');
usage_fails(['ftp://host:21'], qr/expected HOST:PORT, http:\/\/HOST:PORT or unix:PATH/, 'another scheme');
usage_fails(['::1:6060'], qr/an IPv6 address goes in brackets/, 'IPv6 without brackets');
usage_fails(['[::1:6060'], qr/expected \[IPv6 ADDRESS\]:PORT/, 'unclosed bracket');
usage_fails(['[nothex]:6060'], qr/'nothex' is not an IPv6 address/, 'bad IPv6 address');
usage_fails(['bad!host:6060'], qr/'bad!host' is not a host name/, 'bad host name');
usage_fails([$A, 'goroutine'],
            qr/'goroutine': expected block, mutex, profile, threads, index or a path starting with \//,
            'WHAT unknown');
usage_fails([$A, 'mutex', 'more'], qr/unexpected argument 'more' after ADDRESS and WHAT/,
            'too many arguments');
usage_fails(['--seconds', 'abc', $A], qr/--seconds 'abc': expected a whole number of seconds from 1 to 86400/,
            '--seconds abc');
usage_fails(['--seconds', '0', $A], qr/--seconds '0'/, '--seconds 0');
usage_fails(['--seconds=-1', $A], qr/--seconds '-1'/, '--seconds=-1');
usage_fails(['--seconds', '1.5', $A], qr/--seconds '1\.5'/, '--seconds 1.5');
usage_fails(['--seconds', '99999999999999999999', $A], qr/--seconds '9+'/, '--seconds huge');
usage_fails(['--seconds'], qr/option '--seconds' needs a value/, '--seconds without a value');
usage_fails(['--debug', '2', $A], qr/--debug '2': expected 1 \(text\) or 0 \(pprof\)/, '--debug 2');
usage_fails(['--json', $A], qr/--json is for the threads view/, '--json with mutex');
usage_fails(['--json', $A, 'index'], qr/--json is for the threads view/, '--json with index');
usage_fails(['--debug', '1', $A, 'threads'], qr/--debug is for the block and mutex profiles \(--json for the threads view\)/,
            '--debug with threads');
usage_fails(['--seconds', '2', $A, 'threads'], qr/--seconds is for the block, mutex and CPU profiles/,
            '--seconds with threads');
usage_fails(['--seconds', '2', $A, 'index'], qr/--seconds is for the block, mutex and CPU profiles/,
            '--seconds with index');
usage_fails(['--seconds', '2', '--rate', '1', $A, 'profile'],
            qr/--rate is for the block and mutex profiles: 'profile' takes --seconds only/,
            '--rate with profile');
usage_fails(['--rate', '1', $A], qr/--rate needs --seconds/, '--rate without --seconds');
usage_fails(['--fraction', '1', $A, 'block'], qr/--fraction needs --seconds/,
            '--fraction without --seconds');
usage_fails(['--rate', 'x', '--seconds', '1', $A], qr/--rate 'x': expected a whole number of nanoseconds/,
            '--rate x');
usage_fails(['--fraction', '-1', '--seconds', '1', $A], qr/--fraction '-1': expected a whole number/,
            '--fraction -1');
usage_fails(['--timeout', '0', $A], qr/--timeout '0': expected a whole number of seconds/, '--timeout 0');
usage_fails(['--timeout', 'soon', $A], qr/--timeout 'soon'/, '--timeout soon');
usage_fails(["http://$A/debug/pprof/block", 'mutex'], qr/both the address '.*' and 'mutex' say what to fetch/,
            'a URL with a path and WHAT');
usage_fails(['--seconds', '2', $A, '/debug/pprof/mutex'], qr/--seconds does not go with a path: write the parameters in its query/,
            'an option with a path');
usage_fails(['--json', "http://$A/debug/pprof/threads"], qr/--json does not go with a path/,
            'an option with a URL path');
usage_fails([$A, '/a b'], qr/'\/a b': spaces, control characters and non-ASCII in a path must be percent-encoded/,
            'a path with a space');
usage_fails(['-o', '', $A], qr/-o '': expected a file name, a directory or -/, '-o empty');
usage_fails(['-o', "$tmp/no/such/dir/x.pb.gz", $A],
            qr{^lockprof fetch: -o '\Q$tmp\E/no/such/dir/x\.pb\.gz': cannot write in \Q$tmp\E/no/such/dir/: No such file or directory$},
            '-o into a missing directory');
is(scalar(@{ requests($smart) }), $requests_before, 'no usage error connected to the server');

done_testing();
