#!/usr/bin/perl
# make bench's rows on libc's syscall(). The floor (tests/passthru.so, a bare pass-through)
# defines syscall, as lockprof does, so those rows compare lockprof with a preload that pays
# the same hop; it forwards clone, clone3, vfork and a thread's SYS_exit made through syscall()
# as without a preload (prog_syscall, also called by libearly's constructor before the floor's
# own has run). And one round of each row (syscall-gettid; rust-contended-2 and
# gcond-pingpong where their programs were built) runs under every configuration, passes the
# driver's check that each preload is in effect, and prints its figures and its bar. No
# timing is judged here: make bench does that.
use strict;
use warnings;
use lib 'tests/lib';
use LP qw(:DEFAULT run_cmd);
use Test::More;

my $build = Cwd::abs_path(build_dir());
my $floor = "$build/tests/passthru.so";

# ---- the floor's syscall ------------------------------------------------------------------
my $r = run_under(prog => 'bench_io', args => [ 'provider', 'syscall' ], preload => $floor);
is($r->{exit}, 0, 'bench_io provider syscall under the floor: exit 0') or diag($r->{err});
like($r->{out}, qr{^provider \Q$floor\E$}m, 'the floor defines syscall');

my $plain = run_under(prog => 'prog_syscall', preload => 0);
is($plain->{exit}, 0, 'prog_syscall without a preload: exit 0') or diag($plain->{err});
$r = run_under(prog => 'prog_syscall', preload => $floor);
same_as_plain($r, $plain, 'prog_syscall under the floor');
like($r->{out}, qr/^clone: child ran on its stack: 1, exited 0$/m,
     'the floor: clone with a new stack');
like($r->{out}, qr/^vfork: child exited 7$/m, 'the floor: vfork');

my $early = Cwd::abs_path("$build/tests/libearly.so");
$plain = run_under(prog => 'prog_syscall', preload => $early);
$r = run_under(prog => 'prog_syscall', preload => "$floor $early");
same_as_plain($r, $plain, 'prog_syscall under the floor, called before its constructor',
              normalize => sub { $_[0] =~ s/^(measure|lockprof before its start:) .*\n//mgr });
like($r->{out}, qr/^early gettid: the pid$/m, 'a call before the floor\'s constructor');

# ---- one round of each row ----------------------------------------------------------------
my %rows = ('syscall-gettid' => [qw(none floor lockprof)]);
$rows{'rust-contended-2'} = [qw(none floor lockprof lockprof-r1)] if -x "$build/tests/bench_rust";
$rows{'gcond-pingpong'}   = [qw(none floor lockprof lockprof-r1)] if -x "$build/tests/bench_glib";
my @unbuilt = grep { !$rows{$_} } qw(rust-contended-2 gcond-pingpong);
note("not built, not run here: @unbuilt") if @unbuilt;
my ($st, $out, $err) = run_cmd('tests/bench/run', '--rounds', 1, '--build', $build,
                               '--only', join(',', sort keys %rows));
is($st, 0, 'tests/bench/run --rounds 1: exit 0') or diag($err);
for my $row (sort keys %rows) {
    for my $cfg (@{ $rows{$row} }) {
        like($out, qr/^\Q$row\E\s+\Q$cfg\E\s+\S/m, "$row: a row for $cfg");
    }
}
like($out, qr{^syscall-gettid\s+lockprof\s+ns/call - floor <= 5\s+-?[0-9.]+ \[}m,
     'syscall-gettid: its bar, a difference from the floor in ns per call');
like($out, qr{^rust-contended-2\s+lockprof\s+ops/s x none >= 0\.95\s+[0-9.]+ \[}m,
     'rust-contended-2: the bars of contended-2') if $rows{'rust-contended-2'};
like($out, qr{^gcond-pingpong\s+lockprof\s+ns/round trip x none <= 1\.053\s+[0-9.]+ \[}m,
     'gcond-pingpong: the bar of cond-pingpong') if $rows{'gcond-pingpong'};
done_testing();
