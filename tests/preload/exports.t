#!/usr/bin/perl
# exports.t — STYLE "Visibility" and DESIGN §2, §3.4: what liblockprof.so shows the process.
#
# It exports exactly the public API (lockprof_* in include/lockprof.h) and the interposed
# symbols (interpose/symbols.def), with the versions symbols.def gives; nothing internal
# (lp_*), nothing of libunwind's (unw_*, _U*, _Unwind_*) or of its static dependencies; its
# only version nodes are glibc's own; and libunwind is not a link dependency (it is dlopen'ed
# RTLD_LOCAL, else its _Unwind_* preempt libgcc's in the host).
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $so = build_dir() . '/liblockprof.so';
-e $so or BAIL_OUT("$so is missing: make $so");
my $expected_file = 'tests/preload/exports.txt';

# ---- check-exports against exports.txt (what `make check-exports` runs) -------------------
my $out = `tests/preload/check-exports '$so' '$expected_file' 2>&1`;
is($? >> 8, 0, "tests/preload/check-exports $so $expected_file: exit 0") or diag($out);
is($out, '', 'and says nothing');

# ---- the sources of truth ---------------------------------------------------------------------
my (%interposed, @want);
open my $def, '<', 'interpose/symbols.def' or die "interpose/symbols.def: $!";
while (<$def>) {
    if (/^\s*LP_SYM(?:_AS|_VF)?\(\s*[^,]+,\s*(\w+)\s*,/) {
        $interposed{$1} = 1;
        push @want, $1;
    } elsif (/^\s*LP_SYM_V\(\s*[^,]+,\s*(\w+)\s*,\s*\w+\s*,\s*"([^"]+)"/) {
        $interposed{$1} = 1;
        # The newest version is the default one (@@): GLIBC_2.3.2 for the condition variables.
        push @want, [$1, $2];
    }
}
close $def;
my %versions;
push @{ $versions{ $_->[0] } }, $_->[1] for grep { ref } @want;
@want = map {
    ref $_ ? do {
        my ($name, $v) = @$_;
        my ($newest) = sort { vcmp($b, $a) } @{ $versions{$name} };
        $v eq $newest ? "$name\@\@$v" : "$name\@$v";
    } : $_
} @want;
ok(scalar(keys %interposed) > 0, 'interpose/symbols.def lists interposed symbols');

my %public;
open my $h, '<', 'include/lockprof.h' or die "include/lockprof.h: $!";
while (<$h>) { $public{$1} = 1 if /\b(lockprof_\w+)\s*\(/ }
close $h;
ok(scalar(keys %public) > 0, 'include/lockprof.h declares lockprof_* functions');
push @want, keys %public;

sub vcmp { # GLIBC_2.3.2 vs GLIBC_2.2.5
    my @a = $_[0] =~ /(\d+)/g; my @b = $_[1] =~ /(\d+)/g;
    while (@a || @b) { my $c = (shift(@a) // 0) <=> (shift(@b) // 0); return $c if $c }
    return 0;
}

my @listed = grep { length } map { s/\s+$//r } split /\n/, (slurp($expected_file) // '');
is_deeply([sort @listed], [sort @want],
          "$expected_file is exactly symbols.def's interposed symbols and lockprof.h's API")
    or diag("listed: @listed\nfrom the sources: @want");

# ---- nm -D: nothing else is exported ---------------------------------------------------------
my @nm = `nm -D --defined-only '$so'`;
is($?, 0, 'nm -D --defined-only runs');
my (@names, @vernodes);
for (@nm) {
    my ($addr, $type, $name) = split;
    next unless defined $name;
    if ($type eq 'A' && $name !~ /@/) { push @vernodes, $name; next }
    push @names, $name;
}
is_deeply([sort @vernodes], ['GLIBC_2.2.5', 'GLIBC_2.3.2'],
          'the only version nodes (type A) are glibc\'s GLIBC_2.2.5 and GLIBC_2.3.2');

my @stray = grep { my $b = s/@.*//r; !$interposed{$b} && !$public{$b} } @names;
is_deeply(\@stray, [], 'every exported symbol is interposed or lockprof_* API')
    or diag("stray: @stray");
my @bad;
@bad = grep { /^lp_/ } @names;
is_deeply(\@bad, [], 'no lp_* internals exported');
@bad = grep { /^(unw_|_U[A-Z]|_Unwind_|__libunwind)/ } @names;
is_deeply(\@bad, [], 'no unw_*, _U*, _Unwind_* exported');
@bad = grep { /^(protobuf_c_|perftools__|deflate|inflate|gz|crc32|adler32)/ } @names;
is_deeply(\@bad, [], 'nothing of protobuf-c, the generated profile code or zlib exported');
my @api = map { s/@.*//r } grep { /^lockprof_/ } @names;
is_deeply([sort @api], [sort keys %public], 'every lockprof_* of lockprof.h is exported');

# Versioned wrappers: each version symbols.def names, the newest as the default.
for my $name (sort keys %versions) {
    my @got = sort grep { /^\Q$name\E@/ } @names;
    my @exp = sort grep { /^\Q$name\E@/ } @want;
    is_deeply(\@got, \@exp, "$name exported as @exp");
}

# ---- no libunwind at link time ---------------------------------------------------------------
my @dyn = `readelf -d '$so'`;
is($?, 0, 'readelf -d runs');
my @needed = map { /\(NEEDED\).*\[(.*)\]/ ? $1 : () } @dyn;
ok(scalar(@needed), 'it has NEEDED entries') or diag(@dyn);
is_deeply([grep { /libunwind/ } @needed], [], 'no NEEDED libunwind')
    or diag("NEEDED: @needed");
# Every library it needs is loaded into every process it is preloaded in, at every start:
# only the C library (zlib and protobuf-c are linked in, hidden; libgcc_s is the program's).
is_deeply([sort @needed], ['ld-linux-x86-64.so.2', 'libc.so.6'],
          'NEEDED: the C library only') or diag("NEEDED: @needed");
ok(!grep({ /^(deflate|inflate|crc32|adler32|protobuf_c_)/ } @names),
   'zlib and protobuf-c are not exported (a program\'s own copy is never preempted)');

# An undefined reference to libunwind would be bound from the host's global scope; one to
# libgcc_s's _Unwind_* would make every process load it (the cleanups' are lockprof's own).
my @undef = map { (split)[-1] } `nm -D --undefined-only '$so'`;
@bad = grep { /^(unw_|_U[A-Z]|__libunwind|_Unwind_|__gcc_personality)/ } @undef;
is_deeply(\@bad, [], 'no undefined reference to an unwinder') or diag("@bad");

# ---- version definitions: only glibc's nodes (DESIGN §2) ---------------------------------------
my ($in_verdef, @verdef) = (0);
for (`readelf -V '$so'`) {
    $in_verdef = 1, next if /^Version definition section/;
    $in_verdef = 0, next if /^Version \w+ section/;
    push @verdef, [$1, $2] if $in_verdef && /Flags: (\S+).*Name: (\S+)/;
}
my @nodes = sort map { $_->[1] } grep { $_->[0] ne 'BASE' } @verdef;
is_deeply(\@nodes, ['GLIBC_2.2.5', 'GLIBC_2.3.2'],
          'version definitions: glibc\'s nodes only, none of lockprof\'s own name');

done_testing();
