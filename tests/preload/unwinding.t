#!/usr/bin/perl
# unwinding.t — DESIGN §3.4: the host's own unwinding is untouched by the preload.
#
# lockprof unwinds with its own unwinder (core/cfi.c) by default, and with libunwind on request
# (LOCKPROF_LIBUNWIND=1), dlopen'ed RTLD_LOCAL in its constructor and never linked: as a link
# dependency, libunwind's _Unwind_* came before libgcc's in the host's global scope and C++
# exceptions became 10.8× slower (measured). prog_unwind (C) dlopens libthrower (C++) and reports
# where the unwinder's symbols resolve and how long 200000 throws take. The preloaded runs load
# libunwind (the case with something to get wrong); one more run checks the default loads none.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $build = build_dir();
my $lib = "$build/tests/libthrower.so";
for my $f ("$build/tests/prog_unwind", $lib, lib_path()) {
    -e $f or BAIL_OUT("$f is missing: make $f");
}

my $N = 200000;
my $PAIRS = 5;

# The lines that must not depend on the preload: everything but the measure lines.
sub shown { join '', grep { !/^measure / } split /^/m, $_[0] }

my (@plain, @pre, @runs);
for my $i (1 .. $PAIRS) {
    # Interleaved, and alternating which goes first, so that a slow drift of the machine's
    # load or clock speed falls on both sides alike.
    for my $preload ($i % 2 ? (0, 1) : (1, 0)) {
        my $r = run_under(prog => 'prog_unwind', args => [$lib, $N], preload => $preload,
                          env => { LOCKPROF_LIBUNWIND => 1 }, timeout => 200);
        push @runs, [$preload, $r];
        push @{ $preload ? \@pre : \@plain }, $r->{measure}{throw_ns} // 0;
    }
}

my ($first_plain) = map { $_->[1] } grep { !$_->[0] } @runs;
my ($first_pre) = map { $_->[1] } grep { $_->[0] } @runs;
my $ok_runs = grep { defined $_->[1]{exit} && $_->[1]{exit} == 0 && $_->[1]{err} eq '' } @runs;
is($ok_runs, 2 * $PAIRS, 'every run exited 0 with nothing on stderr')
    or diag(join "\n", map { "preload=$_->[0] status=$_->[1]{status} err=$_->[1]{err}" } @runs);

my $out = shown($first_pre->{out});
like($out, qr/\Aunw_backtrace: NULL\nunw_backtrace: NULL\n/,
     'under the preload dlsym(RTLD_DEFAULT, "unw_backtrace") is NULL, before and after the dlopen');
like($out, qr/^unw_getcontext: NULL$/m, 'no unw_getcontext either');
like($out, qr/^_ULx86_64_init_local: NULL$/m, 'no _ULx86_64_init_local either');
for my $sym (qw(_Unwind_RaiseException _Unwind_Resume _Unwind_Backtrace _Unwind_GetIP)) {
    like($out, qr/^\Q$sym\E: libgcc_s\.so\.1$/m,
         "under the preload dlsym(RTLD_DEFAULT, \"$sym\") resolves into libgcc_s.so.1");
}
like($out, qr/^thrower binds _Unwind_RaiseException: libgcc_s\.so\.1$/m,
     'the dlopened C++ library binds _Unwind_RaiseException to libgcc_s.so.1');
like($out, qr/^caught $N of $N /m, "all $N exceptions were caught");
like($out, qr/^cleanups ${\ (3 * $N)}$/m, 'and every frame\'s destructor ran while unwinding');
is($first_pre->{measure}{libunwind_mapped}, 1,
   'libunwind.so.8 is loaded under the preload (so the comparison means something)')
    or diag('is libunwind8 installed?');

my $dflt = run_under(prog => 'prog_unwind', args => [$lib, 1000], timeout => 60);
is($dflt->{measure}{libunwind_mapped}, 0,
   'by default (lockprof\'s own unwinder) libunwind.so.8 is not loaded at all');
like(shown($dflt->{out}), qr/^_Unwind_RaiseException: libgcc_s\.so\.1$/m,
     'and _Unwind_RaiseException resolves into libgcc_s.so.1');

my $same = grep { shown($_->[1]{out}) eq shown($first_plain->{out}) } @runs;
is($same, 2 * $PAIRS, 'stdout (but the measure lines) identical with and without the preload')
    or diag("without:\n" . $first_plain->{out} . "with:\n" . $first_pre->{out});

# Minima, not medians or means. On a loaded machine interference only ever adds time (a
# preempted or cache-thrashed run is slower, never faster than the undisturbed cost), so
# each side's fastest run is its best estimate of that cost: a false failure needs all five
# runs with the preload to be slowed by half while one run without is not, where the median
# needs only three of five. The regression this guards against is 10× and more, which no
# choice of statistic can hide.
sub min { my $m = shift; $_ < $m and $m = $_ for @_; $m }
sub median { my @s = sort { $a <=> $b } @_; $s[$#s / 2] }
my ($min_plain, $min_pre) = (min(@plain), min(@pre));
my $ratio = $min_plain > 0 ? $min_pre / $min_plain : 9e9;
my $fast = ok($min_plain > 0 && $ratio <= 1.5,
   sprintf('C++ exceptions under the preload within 1.5x: %.3f (best of %d each)', $ratio, $PAIRS));
my $say = $fast ? \&note : \&diag;
$say->(sprintf('throw_ns without: %s', join ' ', map { sprintf '%.1fms', $_ / 1e6 } @plain));
$say->(sprintf('throw_ns with:    %s', join ' ', map { sprintf '%.1fms', $_ / 1e6 } @pre));
$say->(sprintf('ratio of minima %.3f, of medians %.3f', $ratio,
               median(@plain) > 0 ? median(@pre) / median(@plain) : 0));

done_testing();
