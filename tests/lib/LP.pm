# LP.pm — shared helpers for lockprof's Perl tests (run by prove from the repository root).
#
#   my $r = run_under(prog => 'prog_convoy', args => [4, 50], env => {...}, preload => 1);
#   $r->{status} (wait status), $r->{exit}, $r->{signal}, $r->{out}, $r->{err} (and the files
#   they were read from, $r->{outf}, $r->{errf}: a child that outlives the program writes on),
#   $r->{measure}{KEY}, $r->{prefix} (LOCKPROF_OUT used), $r->{block}, $r->{mutex} (paths)
#   my $p = read_profile($path);   # { samples => [{count, delay, frames => [...],
#                                  #   addresses => ['0x…', …]}], comments, mappings,
#                                  #   sample_type, period_type, ... }
#   my ($count, $delay) = total($p, leaf => 'pthread_mutex_lock', frame => 'convoy_waiter_wait');
#                                  # (frame_like => qr/…/: a frame matching, e.g. a mangled name)
#   within($got, $want, $events, $name)  # |got - want| <= 5 % of want + 1 ms per event
#   same_as_plain($r, $plain, $what)     # the same ending and output as without the preload
#   my ($status, $out, $err) = run_cmd(@argv);   # a command, without a shell (on request)
#
# A program that runs while the test talks to it (live profiles):
#   my $h = start_under(prog => 'prog_live', env => { LOCKPROF_HTTP => '127.0.0.1:0' },
#                       stdin_pipe => 1);              # then send_cmd($h, "convoy 50")
#   my $m = wait_output($h, qr/^ready (\d+)/m, 10);   # stdout (or stream => 'err'), ≤ 10 s
#   my ($status, $headers, $body) = http_get($h->{http}, '/debug/pprof/mutex?debug=1');
#                                  # (through build/tests/helper_httpget: make tests)
#   my $r = finish($h);                                 # as run_under's result
# $h->{http} is the address lockprof announced on stderr ("127.0.0.1:PORT" or "unix:PATH"),
# filled in by wait_output or http_get once the line is there.
package LP;
use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempdir);
use Test::More;
use POSIX qw(WIFEXITED WEXITSTATUS WIFSIGNALED WTERMSIG);

our @EXPORT_OK = qw(spew count_lines run_cmd memory_unmeasurable);
our @EXPORT = qw(run_under start_under wait_output finish read_profile total within build_dir
                 lib_path tmpdir prog_path slurp http_get send_cmd same_as_plain
                 families_agree);

sub build_dir { $ENV{BUILD} // 'build' }
# The sanitizer the build tree was made with ('address', 'undefined', 'thread'), '' if none.
sub sanitized { (slurp(build_dir() . '/sanitize') // '') =~ /(\w+)/ ? $1 : '' }
# Why a memory bound is not measured in this tree, or '' where it is: ASan and TSan map their
# shadow memory and quarantine into the process, which limits and peaks would measure too.
sub memory_unmeasurable {
    my $s = sanitized();
    return $s =~ /^(address|thread)$/
        ? "memory bounds are measured in the plain build ($s sanitizer's shadow memory counts "
          . 'in this one)'
        : '';
}
sub lib_path  { my $b = build_dir(); "$b/liblockprof.so" =~ m{^/} ? "$b/liblockprof.so" : Cwd::abs_path("$b/liblockprof.so") }
sub prog_path { my ($p) = @_; $p =~ m{/} ? $p : build_dir() . "/tests/$p" }

my $tmp;
sub tmpdir { $tmp //= tempdir('lockprof-test-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{LP_KEEP}); $tmp }

sub slurp { my ($f) = @_; open my $fh, '<', $f or return undef; binmode $fh; local $/; my $s = <$fh>; close $fh; $s }

# Writes $data to $f (dies if it cannot).
sub spew {
    my ($f, $data) = @_;
    open(my $fh, '>', $f) or die "$f: $!";
    binmode $fh;
    print $fh $data;
    close $fh or die "$f: $!";
}

# The number of lines (newlines) in a string.
sub count_lines { my ($s) = @_; return scalar(() = $s =~ /\n/g) }

use Cwd ();
my $seq = 0;

# Runs a command without a shell, stdin from /dev/null; returns (wait status, stdout, stderr).
sub run_cmd {
    my (@argv) = @_;
    my $dir = tmpdir();
    $seq++;
    my ($out, $err) = ("$dir/cmd-out$seq", "$dir/cmd-err$seq");
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open(STDIN, '<', '/dev/null') or die;
        open(STDOUT, '>', $out) or die;
        open(STDERR, '>', $err) or die;
        exec { $argv[0] } @argv or do { print STDERR "exec $argv[0]: $!\n"; POSIX::_exit(126) };
    }
    waitpid($pid, 0);
    my $status = $?;
    return ($status, slurp($out) // '', slurp($err) // '');
}

# Runs a program, by default under the preload at rate 1 / fraction 1, with its stdout and
# stderr captured. Keys: prog, args, env (extra variables; undef deletes), preload (default 1;
# a path: that library instead of liblockprof.so),
# stdin (string), timeout (seconds, default 120).
sub run_under {
    my %o = @_;
    my $dir = tmpdir();
    my $prefix = "$dir/p" . (++$seq);
    my %env = (LOCKPROF_BLOCK_RATE => 1, LOCKPROF_MUTEX_FRACTION => 1, LOCKPROF_OUT => $prefix);
    %env = (%env, %{ $o{env} || {} });
    my $preload = $o{preload} // 1;
    my @cmd = (prog_path($o{prog}), @{ $o{args} || [] });
    my ($out, $err) = ("$dir/out$seq", "$dir/err$seq");
    my ($cmd_r, $cmd_w);
    if ($o{stdin_pipe}) {
        pipe($cmd_r, $cmd_w) or die "pipe: $!";
        my $old = select($cmd_w); $| = 1; select($old);
    }
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        for my $k (keys %env) {
            if (defined $env{$k}) { $ENV{$k} = $env{$k} } else { delete $ENV{$k} }
        }
        if ($preload) { $ENV{LD_PRELOAD} = $preload =~ m{/} ? $preload : lib_path() }
        else { delete $ENV{LD_PRELOAD} }
        open STDOUT, '>', $out or die;
        open STDERR, '>', $err or die;
        if ($cmd_r) {
            close $cmd_w;
            open STDIN, '<&', $cmd_r or die;
        } elsif (defined $o{stdin}) {
            open my $w, '>', "$dir/in$seq" or die; print $w $o{stdin}; close $w;
            open STDIN, '<', "$dir/in$seq" or die;
        } else {
            open STDIN, '<', '/dev/null' or die;
        }
        exec { $cmd[0] } @cmd or do { print STDERR "exec $cmd[0]: $!\n"; POSIX::_exit(127) };
    }
    close $cmd_r if $cmd_r;
    my $h = { pid => $pid, outf => $out, errf => $err, prefix => $prefix,
              timeout => $o{timeout} // 120, in => $cmd_w };
    return $h if $o{background};
    return finish($h);
}

# run_under without waiting: the program runs while the test talks to it.
sub start_under { return run_under(@_, background => 1) }

# Waits (at most $limit s) until the program's stdout (or stderr: stream => 'err') matches
# $re; returns the first capture (or 1), undef on timeout or if the program ended first.
sub wait_output {
    my ($h, $re, $limit, %o) = @_;
    my $f = ($o{stream} // 'out') eq 'err' ? $h->{errf} : $h->{outf};
    my $deadline = time + ($limit // 10);
    for (;;) {
        my $s = slurp($f) // '';
        _http_addr($h);
        if ($s =~ $re) { return defined $1 ? $1 : 1 }
        return undef if time > $deadline || exists $h->{status};
        $h->{status} = $? if waitpid($h->{pid}, POSIX::WNOHANG()) == $h->{pid};
        select(undef, undef, undef, 0.02);
    }
}

# The address lockprof announced: "lockprof: serving http://HOST:PORT/debug/pprof/ …" or
# "… on unix:PATH …".
sub _http_addr {
    my ($h) = @_;
    return $h->{http} if $h->{http};
    my $e = slurp($h->{errf}) // '';
    $h->{http} = $1 if $e =~ m{lockprof: serving (?:http://)?(\S+?)/debug/pprof/};
    $h->{http} = $1 if !$h->{http} && $e =~ m{lockprof: serving (unix:\S+)};
    return $h->{http};
}

# Sends one command line to a program started with stdin_pipe => 1.
sub send_cmd {
    my ($h, $line) = @_;
    my $fh = $h->{in} or die "send_cmd: no stdin_pipe";
    local $SIG{PIPE} = 'IGNORE';
    print $fh "$line\n";
}

# Waits for a program started by start_under (at most its timeout, then SIGKILL) and returns
# what run_under returns.
sub finish {
    my ($h) = @_;
    my $pid = $h->{pid};
    close $h->{in} if $h->{in};
    my $st;
    if (exists $h->{status}) {
        $st = $h->{status};
    } else {
        local $SIG{ALRM} = sub { kill 'KILL', $pid };
        alarm $h->{timeout};
        waitpid($pid, 0);
        $st = $?;
        alarm 0;
    }
    my $prefix = $h->{prefix};
    my %r = (status => $st, out => slurp($h->{outf}) // '', err => slurp($h->{errf}) // '',
             outf => $h->{outf}, errf => $h->{errf},
             prefix => $prefix, block => "$prefix.block.pb.gz", mutex => "$prefix.mutex.pb.gz",
             pid => $pid);
    $r{exit} = WIFEXITED($st) ? WEXITSTATUS($st) : undef;
    $r{signal} = WIFSIGNALED($st) ? WTERMSIG($st) : undef;
    for (split /\n/, $r{out}) { $r{measure}{$1} = $2 if /^measure (\S+) (\d+)/ }
    return \%r;
}

# One GET (or the raw request given): returns (status, headers, body), or (undef, error) if
# no answer came. $addr is "HOST:PORT", "unix:PATH", or a handle from start_under (its
# announced address); timeout => seconds for the whole exchange (default 60).
# A GET goes through helper_httpget, the lockprof command's own HTTP client (tools/httpc.c);
# only a raw request, whose exact bytes are the point of the test, is sent here.
sub http_get {
    my ($addr, $path, %o) = @_;
    if (ref $addr) {
        my $h = $addr;
        my $deadline = time + 10;
        select(undef, undef, undef, 0.02) until _http_addr($h) || time > $deadline;
        $addr = $h->{http} // return (undef, 'no address announced');
    }
    my $limit = $o{timeout} // 60;
    my $resp;
    if (defined $o{raw}) {
        $resp = _http_raw($addr, $o{raw}, $limit, $o{half_close});
        return (undef, $resp) unless ref $resp;
        $resp = $$resp;
    } else {
        my $helper = build_dir() . '/tests/helper_httpget';
        my $pid = open(my $fh, '-|') // return (undef, "fork: $!");
        if ($pid == 0) {
            # On success the helper writes nothing on stderr: a failure's reason is then all
            # there is on stdout.
            open(STDERR, '>&', \*STDOUT) or POSIX::_exit(127);
            exec { $helper } $helper, $addr, $path, $limit
                or do { print "exec $helper: $!\n"; POSIX::_exit(127) };
        }
        binmode $fh;
        local $/;
        $resp = <$fh> // '';
        close $fh;
        if ($? != 0) {
            chomp $resp;
            return (undef, $resp);
        }
    }
    # Interim answers (1xx but 101) come before the final one, as a client skips them.
    $resp =~ s{\AHTTP/1\.[01] 1(?!01)\d\d[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n}{} while $resp =~ m{\AHTTP/1\.[01] 1(?!01)\d\d};
    my ($head, $body) = split /\r\n\r\n/, $resp, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.[01] (\d{3})};
    return ($status, $head, $body // '');
}

# Sends $req's exact bytes (then shuts the sending side if $half_close, as nc -N does) and
# reads until the server closes (at most $limit s): a reference to what came, or an error.
sub _http_raw {
    my ($addr, $req, $limit, $half_close) = @_;
    require IO::Socket::INET;
    require IO::Socket::UNIX;
    my $s = $addr =~ /^unix:(.*)$/
        ? IO::Socket::UNIX->new(Peer => $1, Type => Socket::SOCK_STREAM())
        : IO::Socket::INET->new(PeerAddr => $addr, Timeout => 5);
    return "connect $addr: $!" unless $s;
    print $s $req;
    $s->flush;
    shutdown($s, 1) if $half_close;
    my $resp = '';
    eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm $limit;
        while (sysread($s, my $buf, 65536)) { $resp .= $buf }
        alarm 0;
    };
    alarm 0;
    close $s;
    return "no response within $limit s" if $@ && $resp eq '';
    return \$resp;
}

# Decodes a profile with the pbdump helper.
sub read_profile {
    my ($path) = @_;
    my $dump = build_dir() . '/tests/helper_pbdump';
    my @lines = `'$dump' '$path' 2>&1`;
    my %p = (samples => [], comments => [], mappings => [], status => $?, raw => join('', @lines));
    for (@lines) {
        chomp;
        if (/^sample (-?\d+)(?: (-?\d+)(?= |$))? ?(.*)$/) {
            # (A profile of one value, lockprof combine's: count and delay are that value.)
            push @{ $p{samples} }, { count => $1, delay => $2 // $1, frames => [ split /;/, $3 ] };
        } elsif (/^sample_addresses ?(.*)$/) {
            $p{samples}[-1]{addresses} = [ split ' ', $1 ] if @{ $p{samples} };
        } elsif (/^comment (.*)$/) {
            push @{ $p{comments} }, $1;
        } elsif (/^mapping (.*)$/) {
            push @{ $p{mappings} }, $1;
        } elsif (/^(\w+) (.*)$/) {
            $p{$1} = $2;
        }
    }
    return \%p;
}

# A block profile recorded at rate 1 records every wait seen, so its comments' two counts by
# family ("contentions by family", from the recorded leaves; "waits seen by family", counted as
# each wait ended, under the family its wrapper named) agree. Returns (agree, recorded, seen).
sub families_agree {
    my ($p) = @_;
    my ($rec) = map { /^contentions by family: (.*)$/ ? $1 : () } @{ $p->{comments} };
    my ($seen) = map { /^waits seen by family since start, recorded or not: (.*)$/ ? $1 : () }
        @{ $p->{comments} };
    return (0, $rec // '(none)', $seen // '(none)') unless defined $rec && defined $seen;
    return ($rec eq $seen && $rec ne 'none' ? 1 : 0, $rec, $seen);
}

# Σ count and Σ delay over the samples whose leaf is `leaf` (if given) and which contain a
# frame equal to `frame` (if given) — or, with `top`, whose first non-leaf frame is `top`;
# `skip_leaf` leaves out the samples with that leaf (e.g. the test program's own joins).
sub total {
    my ($p, %f) = @_;
    my ($c, $d, $n) = (0, 0, 0);
    for my $s (@{ $p->{samples} }) {
        my @fr = @{ $s->{frames} };
        next if defined $f{leaf} && ($fr[0] // '') ne $f{leaf};
        next if defined $f{skip_leaf} && ($fr[0] // '') eq $f{skip_leaf};
        next if defined $f{frame} && !grep { $_ eq $f{frame} } @fr;
        next if defined $f{frame_like} && !grep { $_ =~ $f{frame_like} } @fr;
        next if defined $f{top} && ($fr[1] // '') ne $f{top};
        $c += $s->{count};
        $d += $s->{delay};
        $n++;
    }
    return wantarray ? ($c, $d, $n) : $d;
}

# The program behaves under the preload exactly as without it (DESIGN §6): it ends the same
# way (exit status or signal), prints nothing on stderr (unless stderr => 1), and its output is
# the same once both are passed through normalize (default: the "measure" lines, the program's
# own timings, are left out). Three assertions, named after $what.
sub same_as_plain {
    my ($r, $plain, $what, %o) = @_;
    my $norm = $o{normalize} // sub { $_[0] =~ s/^measure .*\n//mgr };
    my $ending = sub { defined $_[0]{signal} ? "signal $_[0]{signal}" : "exit " . ($_[0]{exit} // '?') };
    my $ok = is($ending->($r), $ending->($plain), "$what: ends as without the preload (" . $ending->($plain) . ')');
    $ok &= is($r->{err}, '', "$what: nothing on stderr") unless $o{stderr};
    $ok &= is($norm->($r->{out}), $norm->($plain->{out}), "$what: the same output as without the preload");
    return $ok;
}

# DESIGN §8: timed tests agree within 5 % + 1 ms per event.
sub within {
    my ($got, $want, $events, $name) = @_;
    my $tol = 0.05 * $want + 1e6 * $events;
    my $ok = ok(abs($got - $want) <= $tol, $name);
    diag(sprintf("  got %.3f ms, want %.3f ms, tolerance %.3f ms (%d events)",
                 $got / 1e6, $want / 1e6, $tol / 1e6, $events)) unless $ok;
    return $ok;
}

1;
