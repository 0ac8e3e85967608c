#!/usr/bin/perl
# driver.t — tests/fuzz/driver.c itself: a run of -n mutants makes exactly that many, the same
# ones on every machine, and a run that its -t limit stops first still passes but says so in a
# "# cut short" line, so that a slow machine's smaller run is not mistaken for the full one.
# Run from the repository root:
#   prove --exec tests/lib/run-one tests/fuzz/driver.t
# BUILD overrides the build directory (default: build). Needs $BUILD/tests/fuzz_httpreq.
use strict;
use warnings;
use Test::More;
use lib 'tests/lib';
use LP qw(run_cmd build_dir);

my $fuzz = build_dir() . '/tests/fuzz_httpreq';
my $corpus = 'tests/fuzz/corpus/httpreq';
BAIL_OUT("$fuzz is not built (make tests)") unless -x $fuzz;

# 1000 mutants take milliseconds: far within -t 240.
my ($st, $out, $err) = run_cmd($fuzz, '-n', 1000, '-t', 240, $corpus);
is($st, 0, '-n 1000: exit 0') or diag($err);
my $ok = qr/ok 1 - fuzz_httpreq: \d+ corpus inputs and (\d+) mutants \(seed 1\) returned\n\z/;
like($out, qr/^1\.\.1\n$ok/, '-n 1000: ok, and no "cut short" line');
is(($out =~ $ok)[0], 1000, '-n 1000: all 1000 mutants run');

# Four billion mutants would take hours: -t 0.1 stops them.
($st, $out, $err) = run_cmd($fuzz, '-n', 4_000_000_000, '-t', '0.1', $corpus);
is($st, 0, 'cut short by -t: still exit 0') or diag($err);
like($out, qr/^1\.\.1\n# cut short by -t 0\.1 after \d+ of 4000000000 mutants\n$ok/,
     'cut short by -t: a "cut short" diagnostic line, then ok');
my @n = $out =~ /after (\d+) of .* and (\d+) mutants/s;
ok(@n == 2 && $n[0] == $n[1] && $n[0] < 4_000_000_000, 'both say how many ran, fewer than -n')
    or diag($out);

done_testing();
