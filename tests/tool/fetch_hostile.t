#!/usr/bin/perl
# fetch_hostile.t — `lockprof fetch --timeout S` is a bound whatever the server sends. Servers
# (forked Perl children) that send (a) one-byte chunks without end, as fast as they can, (b) a
# header byte every 100 ms forever, (c) a body without Content-Length that never ends, and
# (d) a chunk extension that never ends, as fast as they can. Each time fetch must exit 1
# with one line on stderr, no file and no temporary left, within S seconds plus a grace; and
# for (a) and (d) its peak resident memory must follow the data it decoded, not the bytes it
# was sent. Then (e) what a server says is printed escaped, and (f) a gzip bomb is checked
# through a fixed buffer, not inflated into memory.
#
# The grace: fetch looks at its deadline after every read, and waits only for the time left,
# so it stops at most one read after S seconds (a read takes at most the socket's buffer, a
# few MB, decoded in milliseconds). 3 s covers the start of the process and a loaded machine;
# a fetch that ignores its deadline while bytes keep coming runs until the 1 GiB limit or
# until this test kills it (after 20 s), and fails loudly.
#
# Run from the repository root:
#   prove --exec tests/lib/run-one tests/tool/fetch_hostile.t
# BUILD overrides the build directory (default: build). Needs $BUILD/lockprof and
# $BUILD/tests/helper_maxrss (make tests).
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(time sleep);
use Test::More;
use lib 'tests/lib';
use LP qw(spew count_lines memory_unmeasurable);

my $build = $ENV{BUILD} // 'build';
for my $f ("$build/lockprof", "$build/tests/helper_maxrss") {
    BAIL_OUT("$f is not built (make tests)") unless -x $f;
}
my $lockprof = abs_path("$build/lockprof");
my $maxrss   = abs_path("$build/tests/helper_maxrss");
my $tmp      = tempdir('lockprof-hostile-XXXXXX', TMPDIR => 1, CLEANUP => 1);

my $S     = 2;        # --timeout
my $GRACE = 3;        # see above
my $KILL  = 20;       # a fetch still running then is killed
my $MiB   = 1 << 20;

sub slurp { my ($f) = @_; return LP::slurp($f) // '' }

# The names in a directory (temporary files included: they start with a dot).
sub listing {
    my ($d) = @_;
    opendir(my $dh, $d) or die "$d: $!";
    return join(' ', sort grep { $_ ne '.' && $_ ne '..' } readdir $dh);
}

# A server on 127.0.0.1 that reads one request's head, then sends $first, then $block over
# and over, $pause seconds apart, until the client is gone (without $block: $first, then it
# closes). The bytes it managed to send go to
# its log when it stops.
my (@servers, $n);
sub hostile {
    my ($first, $block, $pause) = @_;
    $n++;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
                                  Listen => 4, ReuseAddr => 1) or die "listen: $!";
    my $addr = '127.0.0.1:' . $l->sockport;
    my $log = "$tmp/sent$n";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        alarm 120; # never outlives the test
        $SIG{PIPE} = 'IGNORE';
        my $c = $l->accept or POSIX::_exit(1);
        my $req = '';
        while ($req !~ /\r?\n\r?\n/) {
            my $got = sysread($c, my $buf, 4096);
            last unless $got;
            $req .= $buf;
        }
        my $sent = 0;
        SEND: for (my $bytes = $first;; $bytes = $block) {
            for (my $off = 0; $off < length $bytes;) {
                my $w = syswrite($c, $bytes, length($bytes) - $off, $off);
                last SEND unless $w;
                $off += $w;
                $sent += $w;
            }
            last SEND unless defined $block;
            sleep $pause if $pause;
        }
        spew($log, $sent);
        POSIX::_exit(0);
    }
    close $l;
    push @servers, $pid;
    return { addr => $addr, pid => $pid, log => $log };
}
END { local $?; kill 'KILL', @servers if @servers; waitpid($_, 0) for @servers }

# Runs `lockprof fetch --timeout $S ADDRESS` in a new directory under helper_maxrss and
# checks how it failed: on time (a fast enough machine may reach the 1 GiB limit on the
# answer first: that message is as good). Returns (peak resident KiB, bytes the server sent).
sub fetch_fails {
    my ($s, $name) = @_;
    my $d = "$tmp/d$n";
    mkdir $d or die "$d: $!";
    my ($out, $err, $rss) = ("$tmp/out$n", "$tmp/err$n", "$tmp/rss$n");
    my $t0 = time;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        chdir $d or POSIX::_exit(125);
        open(STDIN, '<', '/dev/null') or die;
        open(STDOUT, '>', $out) or die;
        open(STDERR, '>', $err) or die;
        exec { $maxrss } $maxrss, $KILL, $rss, $lockprof, 'fetch', '--timeout', $S, $s->{addr}
            or POSIX::_exit(126);
    }
    waitpid($pid, 0);
    my $st = $?;
    my $took = time - $t0;
    waitpid($s->{pid}, 0); # it stops at its first write after fetch is gone
    my ($e, $sent, $kib) = (slurp($err), slurp($s->{log}) || 0, slurp($rss) || 0);
    chomp $kib;
    subtest $name => sub {
        is($st >> 8, 1, 'exit status 1') or diag("status $st (137: killed after $KILL s)");
        is(count_lines($e), 1, 'one line on stderr') or diag("stderr: " . substr($e, 0, 500));
        my $why = qr{no complete answer within $S s|the answer is larger than \d+ bytes};
        like($e, qr{^lockprof fetch: /debug/pprof/mutex from \Q$s->{addr}\E: ($why)$},
             'the message');
        is(slurp($out), '', 'nothing on stdout');
        is(listing($d), '', 'no file written, no temporary left');
        ok($took < $S + $GRACE, sprintf('ended within %d s + %d s: took %.2f s', $S, $GRACE,
                                        $took));
        ok($took >= $S - 0.1, sprintf('did not give up early (%.2f s)', $took))
            if $e =~ /no complete answer/;
    };
    return ($kib, $sent);
}

my $ok_head = "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n";
my $chunked = "${ok_head}Transfer-Encoding: chunked\r\n\r\n";

# (a) One-byte chunks, 64 KiB of them per write, as fast as the client takes them. The client
# holds the decoded data (one byte in six of what came) and one read's bytes; twice that for
# a copy while its buffer grows, 16 MiB for the program itself.
{
    my ($kib, $sent) = fetch_fails(hostile($chunked, "1\r\nx\r\n" x 10923, 0),
                                   '(a) endless one-byte chunks');
    my $bound = 16 * $MiB + 2 * $sent / 6;
    SKIP: { skip memory_unmeasurable(), 1 if memory_unmeasurable();
    ok($kib * 1024 <= $bound, sprintf('peak resident %.1f MiB <= %.1f MiB (16 MiB + twice '
                                      . 'the %.1f MiB decoded of %.1f MiB sent)',
                                      $kib / 1024, $bound / $MiB, $sent / 6 / $MiB,
                                      $sent / $MiB));
    }
}

# (b) The header, one byte every 100 ms, forever.
fetch_fails(hostile("HTTP/1.1 200 OK\r\nX-Slow: ", 'a', 0.1), '(b) a header byte every 100 ms');

# (c) A body without Content-Length that never ends: 64 KiB every 10 ms (6.5 MB/s; faster
# only fills memory up to the limit sooner).
fetch_fails(hostile("$ok_head\r\n", 'x' x 65536, 0.01), '(c) a body that never ends');

# (d) A chunk extension without end, as fast as the client takes it: nothing in it is data,
# so nothing of it is kept.
{
    my ($kib, $sent) = fetch_fails(hostile("${chunked}1;ext=", 'a' x 65536, 0),
                                   '(d) an endless chunk extension');
    SKIP: { skip memory_unmeasurable(), 1 if memory_unmeasurable();
    ok($kib * 1024 <= 16 * $MiB, sprintf('peak resident %.1f MiB <= 16 MiB (%.1f MiB sent)',
                                         $kib / 1024, $sent / $MiB));
    }
}

# (e) What the server says is printed escaped: a reason phrase, a Content-Type and a text body
# with terminal escape sequences cannot drive the terminal fetch reports to.
{
    my $body = "bad \e]0;pwned\a path \e[2J\n";
    my $s = hostile("HTTP/1.1 404 Not \e[31mFound\r\nContent-Type: text/plain\r\n"
                    . "Content-Length: " . length($body) . "\r\n\r\n$body");
    my $d = "$tmp/e";
    mkdir $d or die;
    my $e = `cd '$d' && '$lockprof' fetch --timeout $S '$s->{addr}' 2>&1 >/dev/null`;
    my $st = $? >> 8;
    waitpid($s->{pid}, 0);
    is($st, 1, '(e) a 404 with escape sequences: exit status 1');
    is(count_lines($e), 1, '(e) one line');
    ok($e !~ /[\x00-\x09\x0b-\x1f\x7f]/, '(e) no control character in it')
        or diag($e =~ s/([\x00-\x1f\x7f])/sprintf('<%02x>', ord $1)/ger);
    like($e, qr{404 Not \\x1b\[31mFound: bad \\x1b\]0;pwned\\x07 path \\x1b\[2J$},
         '(e) the reason and the body, escaped');
}

# (f) A gzip bomb that is a valid profile's size on the wire: 10 gzip members of 64 MiB of
# zeros each (640 MiB once inflated, 640 KB sent). fetch checks the whole stream and saves it
# (it is whole gzip data), inflating through a fixed buffer: its memory follows the bytes it
# was sent, not what they inflate to.
{
    require Compress::Zlib;
    my $member = Compress::Zlib::memGzip("\0" x (64 * $MiB));
    my $bomb = $member x 10;
    my $s = hostile("${ok_head}Content-Length: " . length($bomb) . "\r\n\r\n$bomb");
    my $d = "$tmp/f";
    mkdir $d or die;
    my $rss = "$tmp/rssf";
    system("cd '$d' && '$maxrss' $KILL '$rss' '$lockprof' fetch --timeout 30 -o bomb.pb.gz "
           . "'$s->{addr}' 2>'$tmp/errf'");
    my $st = $? >> 8;
    waitpid($s->{pid}, 0);
    my $kib = slurp($rss) || 0;
    chomp $kib;
    is($st, 0, '(f) a gzip bomb of whole gzip data is saved: exit 0')
        or diag(slurp("$tmp/errf"));
    is(-s "$d/bomb.pb.gz", length $bomb, '(f) all of it');
    my $bound = 16 * $MiB + 3 * length $bomb;
    SKIP: { skip memory_unmeasurable(), 1 if memory_unmeasurable();
    ok($kib * 1024 <= $bound, sprintf('(f) peak resident %.1f MiB <= %.1f MiB (16 MiB + '
                                      . 'three times the %.1f MiB sent; 640 MiB inflated)',
                                      $kib / 1024, $bound / $MiB, length($bomb) / $MiB));
    }
}

done_testing();
