#!/usr/bin/perl
# tool_errors.t — the lockprof command: help, usage errors, `top` on good and bad files, and
# `run`'s exit status, signals and stdout. Run from the repository root:
#   prove --exec tests/lib/run-one tests/tool/tool_errors.t
# BUILD overrides the build directory (default: build). Needs $BUILD/lockprof,
# $BUILD/tests/helper_mkprof and, for the `run` tests, $BUILD/liblockprof.so (make tests).
use strict;
use warnings;
use File::Temp qw(tempdir);
use IO::Compress::Gzip qw(gzip $GzipError);
use POSIX qw(SIGTERM);
use Test::More;
use lib 'tests/lib';
use LP qw(spew count_lines run_cmd);

my $build    = $ENV{BUILD} // 'build';
my $lockprof = "$build/lockprof";
my $mkprof   = "$build/tests/helper_mkprof";
my $tmp      = tempdir('lockprof-tool-XXXXXX', TMPDIR => 1, CLEANUP => 1);

BAIL_OUT("$lockprof is not built (make tests)") unless -x $lockprof;

sub slurp { my ($f) = @_; return LP::slurp($f) // '' }


# One clear line on stderr, exit status 2, nothing on stdout.
sub fails_with {
    my ($args, $want_re, $name) = @_;
    my ($st, $out, $err) = run_cmd($lockprof, @$args);
    subtest $name => sub {
        is($st >> 8, 2, 'exit status 2') or diag("status $st");
        is($st & 127, 0, 'no signal');
        is(count_lines($err), 1, 'one line on stderr') or diag("stderr: $err");
        like($err, $want_re, 'the message');
        is($out, '', 'nothing on stdout');
    };
}

# ---------------------------------------------------------------------------- help, usage

{
    my ($st, $out, $err) = run_cmd($lockprof, '--help');
    is($st, 0, '--help exits 0');
    like($out, qr/\brun\b/, '--help mentions run');
    like($out, qr/\btop\b/, '--help mentions top');
    like($out, qr/--version/, '--help mentions --version');

    ($st, $out, $err) = run_cmd($lockprof, 'run', '--help');
    is($st, 0, 'run --help exits 0');
    like($out, qr/--block-rate/, 'run --help mentions --block-rate');
    like($out, qr/--mutex-fraction/, 'run --help mentions --mutex-fraction');
    like($out, qr/-o\b/, 'run --help mentions -o');
    like($out, qr/--cpu\[=HZ\]/, 'run --help mentions --cpu[=HZ]');

    ($st, $out, $err) = run_cmd($lockprof, 'top', '--help');
    is($st, 0, 'top --help exits 0');
    like($out, qr/-n N/, 'top --help mentions -n');
    like($out, qr/--by/, 'top --help mentions --by');
    like($out, qr/--stacks/, 'top --help mentions --stacks');

    ($st, $out, $err) = run_cmd($lockprof, '--version');
    is($st, 0, '--version exits 0');
    is($out, "lockprof 0.1.0\n", '--version prints the version');

    ($st, $out, $err) = run_cmd($lockprof);
    is($st >> 8, 2, 'no arguments: exit 2');
    like($err, qr/usage: lockprof/, 'no arguments: usage on stderr');
    is($out, '', 'no arguments: nothing on stdout');
}

fails_with(['--bogus'], qr/^lockprof: unknown option '--bogus'.*lockprof --help/, 'unknown flag');
fails_with(['bogus'], qr/^lockprof: unknown command 'bogus'.*lockprof --help/,
           'unknown command');
fails_with(['top', '--bogus', 'x'], qr/^lockprof top: unknown option '--bogus'.*--help/,
           'top: unknown flag');
fails_with(['run', '--bogus', 'true'], qr/^lockprof run: unknown option '--bogus'.*--help/,
           'run: unknown flag');
fails_with(['top', '--by', 'weight', 'x'], qr/--by 'weight'/, 'top: bad --by');
fails_with(['top', '-n', 'ten', 'x'], qr/-n 'ten'/, 'top: bad -n');
fails_with(['top'], qr/no profile/, 'top without a file');
fails_with(['run'], qr/no program/, 'run without a program');

# ---------------------------------------------------------------------------- top

SKIP: {
    skip("$mkprof is not built (make tests)", 9) unless -x $mkprof;

    for my $kind (qw(block raw empty cpu)) {
        my ($st, undef, $err) = run_cmd($mkprof, $kind, "$tmp/$kind.pb.gz");
        $st == 0 or BAIL_OUT("helper_mkprof $kind: $err");
    }

    # The known profile (helper_mkprof.c): 100 contentions, 1 s; flat pthread_mutex_lock 900 ms
    # (90 %), pthread_cond_wait 100 ms; cum main 1 s, handle_request 600 ms, rebuild_cache 300.
    my ($st, $out, $err) = run_cmd($lockprof, 'top', "$tmp/block.pb.gz");
    subtest 'top of a known profile' => sub {
        is($st, 0, 'exit 0') or diag($err);
        is($err, '', 'nothing on stderr');
        like($out, qr/^File: \Q$tmp\E\/block\.pb\.gz$/m, 'file');
        like($out, qr/^Comment: lockprof test helper$/m, 'comment');
        like($out, qr/^Total: 100 contentions, 1\.00s delay/m, 'totals');
        like($out, qr/^\s+900ms\s+90\.00%\s+90\.00%\s+900ms\s+90\.00%\s+40\s+40\s+pthread_mutex_lock$/m,
             'pthread_mutex_lock row');
        like($out, qr/^\s+100ms\s+10\.00%\s+100\.00%\s+100ms\s+10\.00%\s+60\s+60\s+pthread_cond_wait$/m,
             'pthread_cond_wait row');
        like($out, qr/^\s+0\s+0\.00%\s+100\.00%\s+1\.00s\s+100\.00%\s+0\s+100\s+main$/m, 'main row');
        like($out, qr/^\s+0\s+0\.00%\s+100\.00%\s+600ms\s+60\.00%\s+0\s+30\s+handle_request$/m,
             'handle_request row');
        like($out, qr/^\s+0\s+0\.00%\s+100\.00%\s+300ms\s+30\.00%\s+0\s+10\s+rebuild_cache$/m,
             'rebuild_cache row');
        like($out, qr/0x1234 \(libfoo\.so\)$/m, 'an unnamed frame: address and mapping');
        my @rows = $out =~ /^\s+\S+\s+[\d.]+%\s+[\d.]+%\s+\S+\s+[\d.]+%\s+\d+\s+\d+\s+(\S.*)$/mg;
        is($rows[0], 'pthread_mutex_lock', 'sorted by flat delay: the heaviest first');
        is($rows[1], 'pthread_cond_wait', 'then the next');
        like($out, qr/^Heaviest stacks/m, 'a stacks section by default');
        like($out, qr/1\. 600ms \(60\.00%\), 30 contentions \(30\.00%\)\n\s+pthread_mutex_lock\n\s+handle_request  demo\.c:42\n\s+worker_main\n\s+main\n/,
             'the heaviest stack, leaf first');
    };

    ($st, $out, $err) = run_cmd($lockprof, 'top', '--by', 'contentions', '-n', '1', '--stacks',
                                "$tmp/raw.pb.gz");
    subtest 'top --by contentions -n 1 --stacks, of an uncompressed profile' => sub {
        is($st, 0, 'exit 0') or diag($err);
        like($out, qr/^Total: 100 contentions, 1\.00s delay/m, 'totals');
        like($out, qr/top 1 of 7 functions, by flat contentions/, 'one function shown');
        like($out, qr/^\s+60\s+60\.00%\s+60\.00%\s+60\s+60\.00%\s+100ms\s+100ms\s+pthread_cond_wait$/m,
             'pthread_cond_wait first by contentions');
        unlike($out, qr/^\s.*\spthread_mutex_lock$/m, 'only one row');
        like($out, qr/top 1 of 3, by contentions/, 'stacks limited by -n');
    };

    ($st, $out, $err) = run_cmd($lockprof, 'top', "$tmp/empty.pb.gz");
    subtest 'top of a profile without samples' => sub {
        is($st, 0, 'exit 0') or diag($err);
        like($out, qr/^Total: 0 contentions/m, 'zero totals');
        like($out, qr/No samples/, 'says so');
    };

    ($st, $out, $err) = run_cmd($lockprof, 'top', "$tmp/cpu.pb.gz");
    subtest 'top of a CPU profile' => sub {
        is($st, 0, 'exit 0') or diag($err);
        like($out, qr/^Total: 30 samples, 600ms CPU time, in 1 stack$/m, 'samples and CPU time');
        like($out, qr/^\s+600ms\s+100\.00%\s+100\.00%\s+600ms\s+100\.00%\s+30\s+30\s+pthread_mutex_lock$/m,
             'the function, by CPU time, with its samples');
        like($out, qr/^    1\. 600ms \(100\.00%\), 30 samples \(100\.00%\)$/m, 'its stack');
    };

    # lockprof combine: one CPU profile and one block profile, in either order.
    ($st, $out, $err) = run_cmd($lockprof, 'combine', '--help');
    ok($st == 0 && $out =~ /^usage: lockprof combine \[-o FILE\] CPU\.pb\.gz BLOCK\.pb\.gz$/m,
       'combine --help');
    fails_with(['combine', "$tmp/cpu.pb.gz"],
               qr/^lockprof combine: expected a CPU profile and a block profile; try 'lockprof combine --help'$/,
               'combine with one file');
    fails_with(['combine', "$tmp/block.pb.gz", "$tmp/raw.pb.gz"],
               qr/^lockprof combine: expected a CPU profile and a block profile: neither is a CPU profile$/,
               'combine of two contention profiles');
    fails_with(['combine', "$tmp/cpu.pb.gz", "$tmp/cpu.pb.gz"],
               qr/^lockprof combine: expected a CPU profile and a block profile: both are CPU profiles$/,
               'combine of two CPU profiles');
    fails_with(['combine', "$tmp/cpu.pb.gz", "$tmp/nosuch.pb.gz"],
               qr/^lockprof combine: \Q$tmp\E\/nosuch\.pb\.gz: /, 'combine of a missing file');
    ($st, $out, $err) = run_cmd($lockprof, 'combine', '-o', "$tmp/t.pb.gz", "$tmp/block.pb.gz",
                                "$tmp/cpu.pb.gz");
    ok($st == 0 && -s "$tmp/t.pb.gz", 'combine BLOCK CPU -o FILE: written') or diag($err);
    ($st, $out, $err) = run_cmd($lockprof, 'combine', '-o', "$tmp/no/such/dir/t.pb.gz",
                                "$tmp/block.pb.gz", "$tmp/cpu.pb.gz");
    ok($st >> 8 == 1 && $err =~ /^lockprof combine: cannot write \Q$tmp\E\/no\/such\/dir\/t\.pb\.gz: No such file or directory$/,
       'combine into a missing directory: exit 1, one line') or diag($err);

    my $good = slurp("$tmp/block.pb.gz");
    spew("$tmp/trunc.pb.gz", substr($good, 0, int(length($good) / 2)));
    fails_with(['top', "$tmp/trunc.pb.gz"], qr/: truncated or corrupt gzip data$/,
               'top of a truncated gzip file');
    spew("$tmp/trailer.pb.gz", substr($good, 0, length($good) - 4));
    fails_with(['top', "$tmp/trailer.pb.gz"], qr/: truncated or corrupt gzip data$/,
               'top of a gzip file without its trailer');

    # Both files fail or succeed independently; the status says whether any failed.
    ($st, $out, $err) = run_cmd($lockprof, 'top', "$tmp/block.pb.gz", "$tmp/missing");
    subtest 'top of a good file and a missing one' => sub {
        is($st >> 8, 2, 'exit 2');
        like($out, qr/pthread_mutex_lock/, 'the good file is shown');
        is(count_lines($err), 1, 'one line on stderr');
    };
}

fails_with(['top', "$tmp/missing.pb.gz"],
           qr/^lockprof top: \Q$tmp\E\/missing\.pb\.gz: No such file or directory$/,
           'top of a missing file');
spew("$tmp/empty", '');
fails_with(['top', "$tmp/empty"], qr/^lockprof top: \Q$tmp\E\/empty: empty file/,
           'top of an empty file');
spew("$tmp/image.png", "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0");
fails_with(['top', "$tmp/image.png"], qr/: not a pprof profile/, 'top of a PNG header');
spew("$tmp/hostname", "localhost\n");
fails_with(['top', "$tmp/hostname"], qr/: not a pprof profile/, 'top of a text file');
my $gz;
gzip(\"this is not a profile\n" => \$gz) or die $GzipError;
spew("$tmp/text.gz", $gz);
fails_with(['top', "$tmp/text.gz"], qr/: not a pprof profile/, 'top of gzip\'d text');
fails_with(['top', $tmp], qr/: Is a directory$/, 'top of a directory');

# ---------------------------------------------------------------------------- run

SKIP: {
    skip("$build/liblockprof.so is not built (make)", 13) unless -e "$build/liblockprof.so";
    my $prefix = "$tmp/run.%p";

    fails_with(['run', '--block-rate', 'abc', '--', 'true'],
               qr/^lockprof run: --block-rate 'abc': expected a whole number of nanoseconds from 0 to 1000000000000$/,
               'run --block-rate abc');
    fails_with(['run', '--mutex-fraction', '-3', 'true'], qr/--mutex-fraction '-3'/,
               'run --mutex-fraction -3');
    # -o is checked by the library's own rule for LOCKPROF_OUT, and the message is its words.
    fails_with(['run', '-o', "$tmp/a%q", 'true'],
               qr/^lockprof run: -o '\Q$tmp\E\/a%q': expected a path prefix shorter than 512 bytes, with only %p, %t or %% after a %$/,
               'run -o with %q');
    fails_with(['run', '-o', "$tmp/" . ('x' x 600), 'true'],
               qr/^lockprof run: -o '[^']+': expected a path prefix shorter than 512 bytes/,
               'run -o too long');

    my ($st, $out, $err) = run_cmd($lockprof, 'run', '-o', $prefix, '--',
                                   "$tmp/no-such-program");
    subtest 'run of a nonexistent program' => sub {
        is($st >> 8, 127, 'exit 127');
        like($err, qr/^lockprof run: \Q$tmp\E\/no-such-program: No such file or directory$/m,
             'the reason');
        is(count_lines($err), 1, 'one line on stderr');
    };

    ($st, $out, $err) = run_cmd($lockprof, 'run', '-o', $prefix, '--', '/bin/sh', '-c',
                                'exit 7');
    is($st >> 8, 7, "run -- sh -c 'exit 7': exit 7") or diag($err);

    ($st, $out, $err) = run_cmd($lockprof, 'run', '-o', $prefix, '--', '/bin/sh', '-c',
                                'kill -TERM $$');
    subtest 'run of a program that dies of SIGTERM' => sub {
        is($st & 127, SIGTERM, 'lockprof dies of SIGTERM too') or diag("status $st: $err");
        is($st & 128, 0, 'without a core dump');
    };

    ($st, $out, $err) = run_cmd($lockprof, 'run', '-o', $prefix, '--', '/bin/echo', 'hello');
    subtest 'run -- /bin/echo hello' => sub {
        is($st, 0, 'exit 0') or diag($err);
        is($out, "hello\n", 'stdout is exactly the program\'s');
        like($err, qr/^lockprof: (block profile: |no block profile)/m, 'a report on stderr');
    };

    fails_with(['run', '--cpu=abc', 'true'],
               qr/^lockprof run: --cpu='abc': expected a whole number from 0 to 1000$/,
               'run --cpu=abc');
    fails_with(['run', '--cpu=1001', 'true'], qr/^lockprof run: --cpu='1001': expected/,
               'run --cpu=1001');
    ($st, $out, $err) = run_cmd($lockprof, 'run', '--cpu', '-o', "$tmp/cpu", '--', '/bin/echo',
                                'cpu');
    subtest 'run --cpu -- /bin/echo cpu' => sub {
        is($st, 0, 'exit 0') or diag($err);
        is($out, "cpu\n", 'stdout is exactly the program\'s');
        ok(-s "$tmp/cpu.cpu.pb.gz", 'a CPU profile is written (--cpu alone: 100 Hz)');
        like($err,
             qr/^lockprof: cpu profile: \Q$tmp\E\/cpu\.cpu\.pb\.gz \(where the CPU time went\)$/m,
             'the report names it');
    };
    ($st, $out, $err) = run_cmd($lockprof, 'run', '--cpu=0', '-o', "$tmp/nocpu", '--',
                                '/bin/true');
    ok($st == 0 && !-e "$tmp/nocpu.cpu.pb.gz" && $err !~ /cpu profile/,
       'run --cpu=0: no CPU profile, none looked for') or diag($err);

    # Without --: the first word that is not an option is the program; its options are its.
    ($st, $out, $err) = run_cmd($lockprof, 'run', '-o', $prefix, '/bin/echo', '-o', 'x');
    is($out, "-o x\n", 'run without --: the options after the program are the program\'s');
}

done_testing();
