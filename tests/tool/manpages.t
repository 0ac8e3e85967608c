#!/usr/bin/perl
# manpages.t — the manual: lockprof(1) (tools/lockprof.1) and lockprof(3) (include/lockprof.3)
# render without a warning under groff's man macros (and under man-db's `man --warnings -l`
# where man-db is installed), hold only ASCII, are what `make install` puts in
# share/man/man1 and man3, and are what the command's --help points to. That lockprof(3)
# documents every variable the library reads is unit_config's. Run from the repository root:
#   prove --exec tests/lib/run-one tests/tool/manpages.t
use strict;
use warnings;
use Test::More;
use lib 'tests/lib';
use LP qw(run_cmd);

my @pages = ('tools/lockprof.1', 'include/lockprof.3');

sub have { my ($cmd) = @_; my ($st) = run_cmd('sh', '-c', "command -v $cmd"); return $st == 0 }

# groff comes with groff-base (.ci/run and tools/install-deps test install it).
ok(have('groff'), 'groff is installed (Debian: groff-base)') or BAIL_OUT('no groff');
my $man_db = have('man') && (run_cmd('man', '--version'))[1] =~ /^man /;

for my $page (@pages) {
    my $text = LP::slurp($page);
    ok(defined $text, "$page: read") or next;
    my @bad = grep { /[^\x00-\x7f]/ } split /\n/, $text;
    is(scalar @bad, 0, "$page: ASCII only (roff escapes for the rest)") or diag($bad[0]);

    # -ww: every warning; -z: no output, only the diagnostics.
    local $ENV{LC_ALL} = 'C.UTF-8';
    my ($st, $out, $err) = run_cmd('groff', '-man', '-ww', '-z', $page);
    is($st, 0, "$page: groff -man exits 0");
    is($err, '', "$page: groff -man -ww warns of nothing") or diag($err);
    ($st, $out, $err) = run_cmd('groff', '-man', '-Tutf8', '-P-cbou', $page);
    like($out, qr/^SYNOPSIS/m, "$page: renders, with a SYNOPSIS");
    like($out, qr/^ENVIRONMENT/m, "$page: renders, with an ENVIRONMENT");
  SKIP: {
        skip "man-db's man is not installed", 2 unless $man_db;
        local $ENV{MANWIDTH} = 80;
        ($st, $out, $err) = run_cmd('man', '--warnings', '-l', $page);
        is($st, 0, "$page: man -l exits 0");
        is($err, '', "$page: man --warnings -l warns of nothing") or diag($err);
    }
}

# make install: both pages, where man looks for them (a dry run: nothing is built or copied).
{
    # A make run by `make check` inherits its command line (MAKEFLAGS) and BUILD: not this one.
    local @ENV{qw(MAKEFLAGS MFLAGS MAKEOVERRIDES MAKELEVEL BUILD SANITIZE MANDIR)};
    delete @ENV{qw(MAKEFLAGS MFLAGS MAKEOVERRIDES MAKELEVEL BUILD SANITIZE MANDIR)};
    my ($st, $out, $err) = run_cmd('make', '--no-print-directory', '-n', 'install',
                                   'DESTDIR=/nonexistent', 'PREFIX=/usr/local');
    is($st, 0, 'make -n install: exit 0') or diag($err);
    my $man = '/nonexistent/usr/local/share/man';
    like($out, qr{^install -m 0644 tools/lockprof\.1 \Q$man\E/man1/lockprof\.1$}m,
         'make install puts lockprof(1) in share/man/man1');
    like($out, qr{^install -m 0644 include/lockprof\.3 \Q$man\E/man3/lockprof\.3$}m,
         'make install puts lockprof(3) in share/man/man3');
}

# --help points to both.
{
    my $lockprof = LP::build_dir() . '/lockprof';
    my ($st, $out) = run_cmd($lockprof, '--help');
    is($st, 0, 'lockprof --help: exit 0');
    like($out, qr/'man lockprof'/, '--help points to lockprof(1)');
    like($out, qr/'man 3 lockprof'/, '--help points to lockprof(3)');
    ($st, $out) = run_cmd($lockprof, 'run', '--help');
    like($out, qr/'man 3 lockprof'/, 'run --help points to lockprof(3) for the variables');
}

done_testing();
