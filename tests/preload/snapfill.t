#!/usr/bin/perl
# snapfill (DESIGN §5): snapshots under LOCKPROF_KEEP on a disk that fills up. A snapshot that
# cannot be written whole leaves nothing behind and takes no number; the one KEEP pushes out
# goes only once its replacement is complete, so the newest complete snapshots survive the
# failures; each distinct failure is warned about once, and the final profile's is reported.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $prefix = tmpdir() . '/fill';
my $r = run_under(prog => 'prog_snapfill', env => { LOCKPROF_OUT => $prefix, LOCKPROF_KEEP => 3 });
is($r->{exit}, 0, 'exit 0');
my %rc = $r->{out} =~ /^snapshot (\d) (-?\d+)$/mg;
is_deeply([map { $rc{$_} } 1 .. 4], [1, 2, 3, 4], 'snapshots 1 to 4 written, numbered 1 to 4')
    or diag($r->{out});
my $efbig = -27; # EFBIG on Linux
is_deeply([map { $rc{$_} } 5 .. 7], [$efbig, $efbig, $efbig],
          'on the full disk, lockprof_snapshot() says EFBIG each time');

my %on_disk;
for my $f (glob("$prefix.snapshot-*")) {
    my ($n, $what) = $f =~ /\.snapshot-(\d+)\.(.*)$/ or next;
    $on_disk{$n}{$what} = -s $f;
}
is_deeply([sort { $a <=> $b } keys %on_disk], [2, 3, 4],
          'the three newest complete snapshots are still there (KEEP=3)')
    or diag(join(' ', sort keys %on_disk));
for my $n (2 .. 4) {
    is_deeply([sort keys %{ $on_disk{$n} || {} }], ['block.pb.gz', 'mutex.pb.gz', 'threads.txt'],
              "snapshot $n is complete");
}
my ($c) = total(read_profile("$prefix.snapshot-4.block.pb.gz"), frame => 'fill_wait');
is($c, 4, 'snapshot 4 has the 4 waits recorded before it');
is_deeply([glob("$prefix*.tmp.*")], [], 'no temporary file left');
ok(!-e "$prefix.block.pb.gz", 'the final profile could not be written (too large) ...');

my @warn = grep { /^lockprof: cannot write/ } split /\n/, $r->{err};
is(scalar(@warn), 2, 'two warnings: the snapshots\' failure once, the final profile\'s')
    or diag($r->{err});
like($warn[0] // '', qr/snapshot-5\.block\.pb\.gz \(lockprof_snapshot\): File too large/,
     'the first names snapshot 5 and the error');
like($warn[1] // '', qr/\Q$prefix\E\.block\.pb\.gz \(exit\): File too large/,
     'the second the final profile');
done_testing();
