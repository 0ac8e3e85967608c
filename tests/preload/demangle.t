#!/usr/bin/perl
# Names as people read them: the views lockprof prints — `lockprof top` and the debug=1 text of
# the live endpoint — show C++ and Rust functions demangled, as `c++filt -i` shows them, while
# the profiles keep the names as the binaries have them (DESIGN §3.5: pprof demangles). Real
# programs, real compilers: real_rust built by Debian's rustc with its default (legacy) names
# and with v0 names, real_cxx20 by g++ (libstdc++'s templates in its stacks). A program whose
# toolchain is missing is skipped, with the package to install.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use LP qw(run_cmd);
use Test::More;

my $LOCKPROF = build_dir() . '/lockprof';

my @progs = (
    { prog => 'real_rust', package => 'rustc', what => 'Rust, legacy names',
      mangled => qr/^_ZN9real_rust18convoy_waiter_wait17h[0-9a-f]{16}E$/,
      readable => ['real_rust::convoy_waiter_wait',
                   'std::sys::unix::locks::futex::Mutex::lock_contended'] },
    { prog => 'real_rust_v0', package => 'rustc 1.59 or later', what => 'Rust, v0 names',
      mangled => qr/^_RNvCs\w+_9real_rust18convoy_waiter_wait$/,
      readable => ['real_rust::convoy_waiter_wait',
                   'std::sys_common::backtrace::__rust_begin_short_backtrace::<real_rust::'
                   . 'condvar_handoff::{closure#0}, ()>'] },
    { prog => 'real_cxx20', package => 'g++', what => 'C++',
      mangled => qr/^_ZN12_GLOBAL__N_118atomic_waiter_waitEi$/,
      readable => ['(anonymous namespace)::atomic_waiter_wait(int)',
                   'void std::__detail::__platform_wait<int>(int const*, int)'] },
);

# The function column of `lockprof top`'s table.
sub top_functions {
    my ($out) = @_;
    my @f;
    for (split /\n/, $out) {
        last if /^Heaviest stacks/;
        push @f, $1 if /^\s*\S+\s+[\d.]+%\s+[\d.]+%\s+\S+\s+[\d.]+%\s+\S+\s+\S+  (.*)$/;
    }
    return @f;
}

for my $p (@progs) {
    my $what = $p->{what};
    unless (-x prog_path($p->{prog})) {
        SKIP: { skip("$p->{prog} was not built (install $p->{package})", 1) }
        next;
    }
    my $h = start_under(prog => $p->{prog}, args => [2, 20, 'linger'], stdin_pipe => 1,
                        env => { LOCKPROF_HTTP => '127.0.0.1:0' });
    ok(wait_output($h, qr/^lingering$/m, 60), "$what: the program waited, and lingers");

    # The debug=1 text, from the live endpoint.
    my ($status, undef, $text) = http_get($h, '/debug/pprof/block?debug=1');
    is($status, 200, "$what: /debug/pprof/block?debug=1 answers");
    my @named = $text =~ /^#\t0x[0-9a-f]+\t(.*)\+0x[0-9a-f]+\t$/mg;
    for my $name (@{ $p->{readable} }) {
        ok((grep { $_ eq $name } @named), "$what: the debug=1 text names $name");
    }
    my @mangled = grep { /^_[ZR]/ } @named;
    ok(@named && !@mangled, "$what: no mangled name in the debug=1 text ("
       . scalar(@named) . ' frames named)') or diag("  mangled: @mangled[0 .. $#mangled]");

    my $r = finish($h);
    is($r->{exit}, 0, "$what: the program exits 0") or diag($r->{err});

    # The profile keeps the names as they are.
    my $prof = read_profile($r->{block});
    my %frames = map { $_ => 1 } map { @{ $_->{frames} } } @{ $prof->{samples} };
    ok((grep { $_ =~ $p->{mangled} } keys %frames),
       "$what: the .pb.gz names convoy_waiter_wait / atomic_waiter_wait mangled");
    ok(!(grep { $frames{$_} } @{ $p->{readable} }), "$what: and holds no demangled name");

    # lockprof top shows what c++filt -i makes of every name in the profile.
    my ($st, $out, $err) = run_cmd($LOCKPROF, 'top', '-n', '0', $r->{block});
    is($st, 0, "$what: lockprof top reads the profile") or diag($err);
    my %top = map { $_ => 1 } top_functions($out);
    my @names = sort grep { /^_[ZR]/ } keys %frames;
    my ($fst, $filtered) = run_cmd('c++filt', '-i', @names);
    my @want = split /\n/, $filtered;
    is(scalar(@want), scalar(@names), "$what: c++filt -i demangles the profile's "
       . scalar(@names) . ' mangled names');
    my @missing = grep { !$top{$_} } @want;
    ok(@want && !@missing, "$what: lockprof top shows each as c++filt -i does")
        or diag(join('', map { "  missing: $_\n" } @missing));
    ok(!(grep { /^_[ZR]/ } keys %top), "$what: and no name mangled");
    ok($top{ $p->{readable}[0] }, "$what: lockprof top names $p->{readable}[0]");
}
done_testing();
