# LP.pm — shared helpers for lockprof's Perl tests (run by prove from the repository root).
#
#   my $r = run_under(prog => 'prog_convoy', args => [4, 50], env => {...}, preload => 1);
#   $r->{status} (wait status), $r->{exit}, $r->{signal}, $r->{out}, $r->{err},
#   $r->{measure}{KEY}, $r->{prefix} (LOCKPROF_OUT used), $r->{block}, $r->{mutex} (paths)
#   my $p = read_profile($path);   # { samples => [{count, delay, frames => [...]}], comments,
#                                  #   mappings, sample_type, period_type, ... }
#   my ($count, $delay) = total($p, leaf => 'pthread_mutex_lock', frame => 'convoy_waiter_wait');
#   within($got, $want, $events, $name)  # |got - want| <= 5 % of want + 1 ms per event
package LP;
use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempdir);
use Test::More;
use POSIX qw(WIFEXITED WEXITSTATUS WIFSIGNALED WTERMSIG);

our @EXPORT = qw(run_under read_profile total within build_dir lib_path tmpdir prog_path slurp);

sub build_dir { $ENV{BUILD} // 'build' }
sub lib_path  { my $b = build_dir(); "$b/liblockprof.so" =~ m{^/} ? "$b/liblockprof.so" : Cwd::abs_path("$b/liblockprof.so") }
sub prog_path { my ($p) = @_; $p =~ m{/} ? $p : build_dir() . "/tests/$p" }

my $tmp;
sub tmpdir { $tmp //= tempdir('lockprof-test-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{LP_KEEP}); $tmp }

sub slurp { my ($f) = @_; open my $fh, '<', $f or return undef; local $/; my $s = <$fh>; close $fh; $s }

use Cwd ();
my $seq = 0;

# Runs a program, by default under the preload at rate 1 / fraction 1, with its stdout and
# stderr captured. Keys: prog, args, env (extra variables; undef deletes), preload (default 1),
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
    my $pid = fork();
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        for my $k (keys %env) {
            if (defined $env{$k}) { $ENV{$k} = $env{$k} } else { delete $ENV{$k} }
        }
        if ($preload) { $ENV{LD_PRELOAD} = lib_path() } else { delete $ENV{LD_PRELOAD} }
        open STDOUT, '>', $out or die;
        open STDERR, '>', $err or die;
        if (defined $o{stdin}) {
            open my $w, '>', "$dir/in$seq" or die; print $w $o{stdin}; close $w;
            open STDIN, '<', "$dir/in$seq" or die;
        } else {
            open STDIN, '<', '/dev/null' or die;
        }
        exec { $cmd[0] } @cmd or do { print STDERR "exec $cmd[0]: $!\n"; POSIX::_exit(127) };
    }
    my $limit = $o{timeout} // 120;
    local $SIG{ALRM} = sub { kill 'KILL', $pid };
    alarm $limit;
    waitpid($pid, 0);
    my $st = $?;
    alarm 0;
    my %r = (status => $st, out => slurp($out) // '', err => slurp($err) // '', prefix => $prefix,
             block => "$prefix.block.pb.gz", mutex => "$prefix.mutex.pb.gz", pid => $pid);
    $r{exit} = WIFEXITED($st) ? WEXITSTATUS($st) : undef;
    $r{signal} = WIFSIGNALED($st) ? WTERMSIG($st) : undef;
    for (split /\n/, $r{out}) { $r{measure}{$1} = $2 if /^measure (\S+) (\d+)/ }
    return \%r;
}

# Decodes a profile with the pbdump helper.
sub read_profile {
    my ($path) = @_;
    my $dump = build_dir() . '/tests/helper_pbdump';
    my @lines = `'$dump' '$path' 2>&1`;
    my %p = (samples => [], comments => [], mappings => [], status => $?, raw => join('', @lines));
    for (@lines) {
        chomp;
        if (/^sample (-?\d+) (-?\d+) ?(.*)$/) {
            push @{ $p{samples} }, { count => $1, delay => $2, frames => [ split /;/, $3 ] };
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
        next if defined $f{top} && ($fr[1] // '') ne $f{top};
        $c += $s->{count};
        $d += $s->{delay};
        $n++;
    }
    return wantarray ? ($c, $d, $n) : $d;
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
