#!/usr/bin/perl
# top_hostile.t — `lockprof top` on profiles made to hurt it: a small gzip file of millions of
# empty samples, files over the limit on a profile's memory (stated in `top --help`),
# allocation failure under `ulimit -v`, sample values near INT64_MAX and negative ones, and
# names carrying terminal escape sequences. The profiles are written here, field by field
# (profile.proto's numbers), so that they can be what no encoder would write. Run from the
# repository root:
#   prove --exec tests/lib/run-one tests/tool/top_hostile.t
# BUILD overrides the build directory (default: build). Needs $BUILD/lockprof (make).
use strict;
use warnings;
use File::Temp qw(tempdir);
use Time::HiRes qw(time);
use IO::Compress::Gzip qw(gzip $GzipError);
use Test::More;
use lib 'tests/lib';
use LP qw(spew count_lines run_cmd memory_unmeasurable);

my $build    = $ENV{BUILD} // 'build';
my $lockprof = "$build/lockprof";
my $tmp      = tempdir('lockprof-top-XXXXXX', TMPDIR => 1, CLEANUP => 1);

BAIL_OUT("$lockprof is not built (make)") unless -x $lockprof;

# run_cmd, with the address space limited to $kib KiB if $kib is defined (the shell's ulimit
# -v, then exec). Not in an ASan or TSan tree, whose runtime reserves terabytes of address
# space: there the limit is lockprof top's own accounting alone.
sub run_limited {
    my ($kib, @argv) = @_;
    @argv = ('/bin/sh', '-c', 'ulimit -v "$0" && exec "$@"', $kib, @argv)
        if defined $kib && !memory_unmeasurable();
    return run_cmd(@argv);
}

# run_cmd under ulimit -t $cpu (CPU seconds) and a limit of 4 MiB on what it writes, so that a
# command that runs on or prints on and on is stopped (SIGXCPU, SIGXFSZ) before it holds up the
# suite or fills the disk; returns the wall time taken as well.
sub run_bounded {
    my ($cpu, @argv) = @_;
    my $t0 = time;
    my @r = run_cmd('/bin/sh', '-c', 'ulimit -t "$0" && ulimit -f 8192 && exec "$@"', $cpu,
                    @argv);
    return (@r, time - $t0);
}

# `lockprof top $tmp/FILE` (under ulimit -v $kib KiB if defined): exit status 2, no signal,
# nothing on stdout, and one line on stderr, "lockprof top: $tmp/FILE: " then what $tail
# matches.
sub fails_with {
    my ($kib, $file, $tail, $name) = @_;
    my ($st, $out, $err) = run_limited($kib, $lockprof, 'top', "$tmp/$file");
    subtest $name => sub {
        is($st >> 8, 2, 'exit status 2') or diag("status $st");
        is($st & 127, 0, 'no signal');
        is(count_lines($err), 1, 'one line on stderr') or diag("stderr: $err");
        like($err, qr/^lockprof top: \Q$tmp\/$file\E: $tail$/, 'the message');
        is($out, '', 'nothing on stdout');
    };
}

# ---------------------------------------------------------------------------- profile.proto

# A varint; negative numbers as int64 (ten bytes, two's complement), as protobuf writes them.
sub varint {
    my ($v) = @_;
    $v = unpack('Q', pack('q', $v)) if $v < 0;
    my $s = '';
    while ($v >= 0x80) {
        $s .= chr(($v & 0x7f) | 0x80);
        $v >>= 7;
    }
    return $s . chr($v);
}
sub vfield { my ($f, $v) = @_; return varint($f << 3) . varint($v) }
sub bfield { my ($f, $b) = @_; return varint(($f << 3) | 2) . varint(length $b) . $b }
sub packed { my ($f, @v) = @_; return bfield($f, join('', map { varint($_) } @v)) }

# A profile: strings (string_table, "" first), types ([type, unit] indices), samples
# ([[location ids], [values]]), locations ([id, mapping id, address, [[function id, line]]]),
# functions ([id, name, file]), mappings ([id, file]), comments (indices).
sub profile {
    my (%o) = @_;
    my $p = '';
    $p .= bfield(1, vfield(1, $_->[0]) . vfield(2, $_->[1])) for @{ $o{types} };
    $p .= bfield(2, packed(1, @{ $_->[0] }) . packed(2, @{ $_->[1] })) for @{ $o{samples} || [] };
    $p .= bfield(3, vfield(1, $_->[0]) . vfield(5, $_->[1])) for @{ $o{mappings} || [] };
    for my $l (@{ $o{locations} || [] }) {
        my ($id, $map, $addr, $lines) = @$l;
        $p .= bfield(4, vfield(1, $id) . vfield(2, $map) . vfield(3, $addr) .
                     join('', map { bfield(4, vfield(1, $_->[0]) . vfield(2, $_->[1])) } @$lines));
    }
    $p .= bfield(5, vfield(1, $_->[0]) . vfield(2, $_->[1]) . vfield(4, $_->[2]))
        for @{ $o{functions} || [] };
    $p .= bfield(6, $_) for @{ $o{strings} };
    $p .= vfield(13, $_) for @{ $o{comments} || [] };
    return $p;
}

sub gz { my ($data) = @_; my $z; gzip(\$data => \$z, -Level => 9) or die $GzipError; return $z }

# Strings 1..4 and the two sample types every contention profile here has.
my @base = ('', 'contentions', 'count', 'delay', 'nanoseconds');
my @types = ([1, 2], [3, 4]);

# ---------------------------------------------------------------------------- the limit

my ($st, $out, $err) = run_cmd($lockprof, 'top', '--help');
like($out, qr/within 512 MiB/, 'top --help states the limit on a profile\'s memory');

my $over = qr/exceeds lockprof top's limit of 512 MiB per profile/;

# Ten million empty samples: 2 bytes each on the wire, 20 MB decompressed, 19 KB compressed.
# Decoded, each is a struct, its pointer and a record of the field (131 bytes in all): 1.3 GB
# unbounded. Refused at the limit, the command stays within the limit plus its own code and
# the compressed file: 640 MiB of address space leaves 128 MiB for those.
my $empty = profile(strings => \@base, types => \@types) . ("\x12\x00" x 10_000_000);
spew("$tmp/empty.pb.gz", gz($empty));
ok(-s "$tmp/empty.pb.gz" < 20_000, 'ten million empty samples fit in 20 KB of gzip');
fails_with(640 << 10, 'empty.pb.gz', qr/$over \(decoding it: 10000000 samples, 0 locations, /
                                     . qr/0 functions, 5 strings in 20000054 bytes\)/,
           'ten million empty samples: refused at the limit, within 640 MiB');

# The same under an address space too small for the limit: out of memory, said as such.
SKIP: {
    skip memory_unmeasurable(), 1 if memory_unmeasurable();
    fails_with(64 << 10, 'empty.pb.gz',
               qr/out of memory after \d+ MiB \(the limit per profile is 512 MiB\)/,
               'out of memory under ulimit -v 64 MiB: said so, not "not a profile"');
}

# 600 MiB decompressed from 600 gzip members of 1 MiB each (gzip allows members to follow
# one another): refused once the limit is decompressed.
my $mib = gz("\0" x (1 << 20));
spew("$tmp/big.pb.gz", gz(profile(strings => \@base, types => \@types)) . ($mib x 600));
fails_with(640 << 10, 'big.pb.gz', qr/$over \(it decompresses to more\)/,
           '600 MiB decompressed: refused at the limit, within 640 MiB');

# A file larger than the limit as it is (sparse: no disk used).
open(my $fh, '>', "$tmp/huge.pb") or die;
truncate($fh, 600 << 20) or die "truncate: $!";
close($fh);
fails_with(640 << 10, 'huge.pb', qr/$over \(the file is larger\)/,
           'a 600 MiB file: refused at the limit, within 640 MiB');

# ---------------------------------------------------------------------------- frames

like($out, qr/and\s+67108864 frames/, 'top --help states the limit on a profile\'s frames');

# A profile of one location of $lines lines of one function (named $name, in a file of that
# name), listed $refs times by one sample, and $comments comments that are that name too.
sub lines_profile {
    my ($lines, $refs, $name, $comments) = @_;
    return gz(profile(strings => [@base, $name // 'fn'], types => \@types,
                      locations => [[1, 0, 0, [([1, 7]) x $lines]]], functions => [[1, 5, 5]],
                      samples => [[[(1) x $refs], [1, 100]]],
                      comments => [(5) x ($comments // 0)]));
}

# One location of 20,000 lines listed 20,000 times: 400 million frames from a few hundred
# bytes, which took 47 s to print as 7.6 GB when every frame was expanded. Refused once the
# limit is counted (at most the work of the largest profile accepted, about a second; allow
# ten on a loaded machine, and the sanitizers), before anything is printed.
spew("$tmp/lines.pb.gz", lines_profile(20_000, 20_000));
ok(-s "$tmp/lines.pb.gz" < 400, '400 million frames fit in 400 bytes of gzip');
my $secs;
($st, $out, $err, $secs) = run_bounded(60, $lockprof, 'top', "$tmp/lines.pb.gz");
subtest 'a location of 20,000 lines listed 20,000 times: refused, at once' => sub {
    is($st >> 8, 2, 'exit status 2') or diag("status $st");
    is($st & 127, 0, 'no signal (SIGXCPU, SIGXFSZ: it ran or printed on)');
    is(count_lines($err), 1, 'one line on stderr') or diag("stderr: $err");
    my $msg = qr/exceeds lockprof top's limit of 67108864 frames per profile \(its samples /
            . qr/list 20000 locations, each a frame per line; the longest has 20000 lines\)/;
    like($err, qr/^lockprof top: \Q$tmp\E\/lines\.pb\.gz: $msg$/, 'the message');
    is($out, '', 'nothing on stdout');
    cmp_ok($secs, '<', 10, 'within 10 s');
};

# Just under the limit, 67,100,000 frames (20,000 lines listed 3,355 times) of a function with a
# name (and file) of 2,000 bytes, and 100,000 comments that are that name too: 270 GB to print
# whole. Read, and printed within the report's bounds: 64 comments and 1024 frames a stack, each
# name, file or comment there cut to 1024 bytes (1027 with "…"). So 64 x 1037 bytes of comments,
# 1024 x 2076 of the stack's frames (8 blanks, name, " (inline)", 2 blanks, file, ":7", newline),
# the name whole once in the table of functions, and a kilobyte of the rest: 2.2 MB.
# The name: x, 999 µ, x (UTF-8 bytes). Byte 1024 is the second of a µ, so the cut is at 1023.
my $long = 'x' . ("\xc2\xb5" x 999) . 'x';
spew("$tmp/near.pb.gz", lines_profile(20_000, 3_355, $long, 100_000));
($st, $out, $err, $secs) = run_bounded(60, $lockprof, 'top', "$tmp/near.pb.gz");
subtest 'just under the frame limit, a long name, 100,000 comments: a bounded report' => sub {
    is($st, 0, 'exit 0 (no SIGXFSZ: what it printed stayed under 4 MiB)') or diag("status $st");
    is($err, '', 'nothing on stderr');
    cmp_ok(length $out, '<=', 64 * 1037 + 1024 * 2076 + 2000 + 1024, 'at most 2.2 MB printed');
    cmp_ok($secs, '<', 10, 'within 10 s');
    my $cut = substr($long, 0, 1023) . "\x{e2}\x{80}\x{a6}";
    is(scalar(() = $out =~ /^Comment: \Q$cut\E$/mg), 64,
       '64 comments, each cut to 1024 bytes at a character\'s start');
    like($out, qr/^Comment: \x{e2}\x{80}\x{a6} 99936 more$/m, 'then how many more');
    like($out, qr/^\s+100ns\s.*\s\Q$long\E$/m, 'the table of functions: the name whole');
    is(scalar(() = $out =~ /^        \Q$cut\E \(inline\)  \Q$cut\E:7$/mg), 1024,
       'the stack: 1024 frames, the name and file cut to 1024 bytes');
    like($out, qr/:7\n        \x{e2}\x{80}\x{a6} 67098976 more frames\n/, 'then how many more');
};

# A string named many times is looked at once. A function with a name of 1 MB named by the
# 50,000 lines of a location: the name was hashed and compared for each line (50 GB of work,
# over a minute). A mapping with a file name of 1 MB and 50,000 locations without lines at one
# address in it: the "0x1234 (file)" of each was made, hashed and compared (over 3 minutes).
my $mb = 'f' x (1 << 20);
spew("$tmp/longfn.pb.gz", lines_profile(50_000, 1, $mb));
($st, $out, $err, $secs) = run_bounded(60, $lockprof, 'top', "$tmp/longfn.pb.gz");
subtest 'a name of 1 MB on 50,000 lines: read at once' => sub {
    is($st, 0, 'exit 0 (no SIGXCPU)') or diag("status $st");
    cmp_ok($secs, '<', 10, 'within 10 s');
    like($out, qr/^\s+100ns\s.*\s$mb$/m, 'the table of functions: the name whole');
};
spew("$tmp/longmap.pb.gz",
     gz(profile(strings => [@base, "/lib/$mb"], types => \@types, mappings => [[1, 5]],
                locations => [map { [$_, 1, 0x1234, []] } 1 .. 50_000],
                samples => [[[1], [1, 100]]])));
($st, $out, $err, $secs) = run_bounded(60, $lockprof, 'top', "$tmp/longmap.pb.gz");
subtest 'a mapping\'s file name of 1 MB in 50,000 locations: read at once' => sub {
    is($st, 0, 'exit 0 (no SIGXCPU)') or diag("status $st");
    cmp_ok($secs, '<', 10, 'within 10 s');
    my $base = 'f' x 255;
    like($out, qr/^        0x1234 \($base\)$/m,
         'the frame: its address and the base name, of at most 255 bytes as a file\'s');
};

# 10,000 sample types, each a name of 1 MB: the message naming them was 20 GB long. It names
# 8, each cut to 256 bytes, and says how many more.
spew("$tmp/types10k.pb.gz", gz(profile(strings => ['', $mb, 'ns'], types => [([1, 2]) x 10_000])));
my $t256 = ('f' x 256) . "\x{e2}\x{80}\x{a6}";
fails_with(640 << 10, 'types10k.pb.gz',
           qr/not a contention or CPU profile \(sample types: (?:$t256\/ns, ){8}\x{e2}\x{80}\x{a6} / .
           qr/9992 more\)/, '10,000 sample types of 1 MB names: a message of one short line');

# ---------------------------------------------------------------------------- values

my $max = 9223372036854775807;
my @fns = (@base, 'lock_a', 'lock_b', 'seconds');
my %one = (strings => \@fns, types => \@types,
           locations => [[1, 0, 0, [[1, 0]]], [2, 0, 0, [[2, 0]]]],
           functions => [[1, 5, 0], [2, 6, 0]]);

# Two samples of INT64_MAX contentions and delay: the sums saturate, nothing is negative.
spew("$tmp/max.pb.gz", gz(profile(%one, samples => [[[1], [$max, $max]], [[2], [$max, $max]]])));
($st, $out, $err) = run_cmd($lockprof, 'top', "$tmp/max.pb.gz");
subtest 'sample values of INT64_MAX: totals saturate' => sub {
    is($st, 0, 'exit 0') or diag($err);
    is($err, '', 'nothing on stderr');
    like($out, qr/^Total: 9223372036854775807 contentions, 2562048h delay, in 2 samples$/m,
         'the totals stop at INT64_MAX');
    like($out, qr/^Note: the values add up to more than 9223372036854775807; the sums stop there$/m,
         'and the report says so');
    unlike($out, qr/(?<![\w.])-\d/, 'no negative number anywhere');
    my $counts = qr/9223372036854775807\s+9223372036854775807/;
    like($out, qr/^\s+2562048h\s+100\.00%\s+100\.00%\s+2562048h\s+100\.00%\s+$counts\s+lock_a$/m,
         'a function of INT64_MAX: 100 %, and the running sum stops at 100 %');
};

# A delay in seconds: INT64_MAX / 1e9 + 1 s converted to nanoseconds saturates too.
spew("$tmp/secs.pb.gz", gz(profile(%one, types => [[1, 2], [3, 7]],
                                   samples => [[[1], [1, 9223372037]]])));
($st, $out, $err) = run_cmd($lockprof, 'top', "$tmp/secs.pb.gz");
subtest 'a delay in seconds beyond INT64_MAX ns: saturates' => sub {
    is($st, 0, 'exit 0') or diag($err);
    like($out, qr/^Total: 1 contention, 2562048h delay, in 1 sample$/m, 'the delay stops there');
    unlike($out, qr/(?<![\w.])-\d/, 'no negative number anywhere');
};

# Contentions and delays cannot be negative: such a profile (a difference of two profiles,
# as pprof -diff_base makes) is not one lockprof top reads.
spew("$tmp/neg.pb.gz", gz(profile(%one, samples => [[[1], [5, 100]], [[2], [-3, 50]]])));
fails_with(undef, 'neg.pb.gz', qr/not a contention profile: a sample's contentions or delay /
                               . qr/is negative \(as in a difference of two profiles\)/,
           'a negative value: refused');

# ---------------------------------------------------------------------------- names

# Every string a hostile profile can put on the screen carries a control sequence: the
# function's name and file, a comment, an unnamed frame's mapping, and the file's own name.
my @evil = (@base, "evil\e[2J\a_fn", "src/\e]0;pwned\a.c", "comment \e[31mred\e[0m",
            "/lib/x\x9b1mbad.so", "na\xc3\xafve_\xc2\xb5s\xc2\x9b6n");
my $evilname = "$tmp/name\e[1m.pb.gz";
spew($evilname, gz(profile(strings => \@evil, types => \@types, comments => [7],
                           mappings => [[1, 8]],
                           locations => [[1, 0, 0, [[1, 12]]], [2, 1, 0x1234, []],
                                         [3, 0, 0, [[2, 0]]]],
                           functions => [[1, 5, 6], [2, 9, 0]],
                           samples => [[[1, 2], [3, 300]], [[3], [1, 100]]])));
($st, $out, $err) = run_cmd($lockprof, 'top', '--stacks', $evilname);
subtest 'names with control characters are printed escaped' => sub {
    is($st, 0, 'exit 0') or diag($err);
    my $text = $out;
    ok(utf8::decode($text), 'the output is UTF-8');
    unlike($text, qr/[\x00-\x09\x0b-\x1f\x7f-\x9f]/, 'no control character but newlines');
    like($out, qr/^File: \Q$tmp\E\/name\\x1b\[1m\.pb\.gz$/m, 'the file name');
    like($out, qr/^Comment: comment \\x1b\[31mred\\x1b\[0m$/m, 'a comment');
    like($out, qr/\s+evil\\x1b\[2J\\x07_fn$/m, 'a function\'s name');
    like($out, qr/^\s+evil\\x1b\[2J\\x07_fn  \\x1b\]0;pwned\\x07\.c:12$/m, 'its file');
    like($out, qr/^\s+0x1234 \(x\\x9b1mbad\.so\)$/m, 'an unnamed frame\'s mapping');
    like($out, qr/\s+na\x{c3}\x{af}ve_\x{c2}\x{b5}s\\xc2\\x9b6n$/m,
         'UTF-8 letters kept, a UTF-8 C1 control escaped');
};

# Names also reach stderr, in the messages about a file that is not a contention profile.
spew("$tmp/types.pb.gz", gz(profile(strings => ['', "cpu\e[5m", 'ns'], types => [[1, 2]])));
fails_with(undef, 'types.pb.gz', qr/not a contention or CPU profile \(sample types: cpu\\x1b\[5m\/ns\)/,
           'a sample type\'s name, escaped in the message');

done_testing();
