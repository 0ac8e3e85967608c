#!/usr/bin/perl
# top_go.t — `lockprof top` on Go's own profiles of one run (runtime/pprof, built here with
# Debian's golang-go): a CPU profile beside the block profile is shown side by side; beside the
# mutex profile, which Go's file does not mark as one (the same types and period as the block
# profile's, no comments), each is shown on its own, and `lockprof combine` refuses it. Run from the repository root:
#   prove --exec tests/lib/run-one tests/tool/top_go.t
# BUILD overrides the build directory (default: build). Needs $BUILD/lockprof (make) and go.
use strict;
use warnings;
use File::Copy qw(copy);
use File::Temp qw(tempdir);
use Test::More;
use lib 'tests/lib';
use LP qw(run_cmd spew);

my $build    = $ENV{BUILD} // 'build';
my $lockprof = "$build/lockprof";
my $tmp      = tempdir('lockprof-topgo-XXXXXX', TMPDIR => 1, CLEANUP => 1);

BAIL_OUT("$lockprof is not built (make)") unless -x $lockprof;
ok(`sh -c 'command -v go'` ne '', 'go is installed (golang-go; .ci/run installs it)')
    or BAIL_OUT('no go');

# Built in a directory of its own, with its cache there: nothing outside $tmp is written.
mkdir "$tmp/src" or die "mkdir: $!";
copy('tests/tool/prog_gocontend.go', "$tmp/src/main.go") or die "copy: $!";
spew("$tmp/src/go.mod", "module gocontend\n\ngo 1.19\n");
my %goenv = (HOME => $tmp, GOCACHE => "$tmp/cache", GOPATH => "$tmp/gopath", GOFLAGS => '-mod=mod',
             GOTOOLCHAIN => 'local', CGO_ENABLED => 0);
my $build_out = do {
    local @ENV{keys %goenv} = values %goenv;
    `cd '$tmp/src' && go build -o '$tmp/gocontend' . 2>&1`;
};
is($?, 0, 'the Go program builds') or BAIL_OUT("go build: $build_out");
my ($st, undef, $err) = run_cmd("$tmp/gocontend", "$tmp/p");
is($st, 0, 'it runs and writes its three profiles') or diag($err);
my ($cpu, $mutex, $block) = map { "$tmp/p.$_.pb.gz" } qw(cpu mutex block);

# The CPU profile and the block profile: one table.
my ($sst, $side) = run_cmd($lockprof, 'top', $cpu, $block);
is($sst, 0, 'top CPU BLOCK: exit 0');
like($side, qr/^CPU profile:   \Q$cpu\E\nBlock profile: \Q$block\E$/m,
     'top CPU BLOCK: side by side') or diag($side);
my ($waited) = $side =~ /^\s+\S+\s+\S+\s+(\S+)\s+\S+\s+sync\.\(\*Mutex\)\.Lock$/m;
ok(defined $waited && $waited ne '0', 'top CPU BLOCK: the goroutines waited in '
   . 'sync.(*Mutex).Lock (' . ($waited // 'no row') . ')') or diag($side);

# The CPU profile and the mutex profile, either order: each on its own, the mutex profile's
# delay at the unlock and never presented as time waited.
for my $order ([$cpu, $mutex], [$mutex, $cpu]) {
    my ($rst, $out) = run_cmd($lockprof, 'top', @$order);
    my $names = join(' ', map { s{.*/}{}r } @$order);
    is($rst, 0, "top $names: exit 0");
    unlike($out, qr/^Block profile:/m, "top $names: the mutex profile is not taken for a "
           . 'block profile') or diag($out);
    like($out, qr/^File: \Q$mutex\E$/m, "top $names: it is reported on its own");
    like($out, qr/^\s+\S+\s+100\.00%.*sync\.\(\*Mutex\)\.Unlock$/m,
         "top $names: its delay at sync.(*Mutex).Unlock");
}

# lockprof combine: the CPU and block profiles make one; the mutex profile is refused.
my ($cst, undef, $cerr) = run_cmd($lockprof, 'combine', $cpu, $block, '-o', "$tmp/time.pb.gz");
is($cst, 0, 'combine CPU BLOCK: exit 0') or diag($cerr);
ok(-s "$tmp/time.pb.gz", 'combine CPU BLOCK: the combined profile is written');
($cst, undef, $cerr) = run_cmd($lockprof, 'combine', $cpu, $mutex, '-o', "$tmp/bad.pb.gz");
is($cst >> 8, 2, 'combine CPU MUTEX: exit 2');
like($cerr, qr/^lockprof combine: expected a CPU profile and a block profile: the other is a mutex profile/,
     'combine CPU MUTEX: says the other is a mutex profile') or diag($cerr);
ok(!-e "$tmp/bad.pb.gz", 'combine CPU MUTEX: writes nothing');

done_testing();
