#!/usr/bin/perl
# planted (DESIGN §6: never lose data, never be turned against the user): what somebody else
# puts in the output directory is never written through. The temporary file a profile is
# written to has a name nobody can guess and is created exclusively (never through a symlink,
# never a FIFO that would block the exit); a symlink, FIFO or directory at a profile's own name
# is refused with one warning and left as it is.
use strict;
use warnings;
use lib 'tests/lib';
use LP qw(:DEFAULT spew);
use POSIX qw(mkfifo);
use Test::More;

my $dir = tmpdir();

sub victim {
    my ($name) = @_;
    my $f = "$dir/$name";
    spew($f, "the user's own data\n");
    return $f;
}

# Runs prog_live (at rate 1, so that the profiles have its convoy), lets $plant put things in
# place once its pid is known, and lets it exit.
sub run_planted {
    my ($name, $plant) = @_;
    my $h = start_under(prog => 'prog_live', stdin_pipe => 1,
                        env => { LOCKPROF_OUT => "$dir/$name", LOCKPROF_IO => 'none' });
    my $pid = wait_output($h, qr/^ready (\d+)$/m, 30);
    ok($pid, "$name: the program started");
    send_cmd($h, 'convoy 20');
    ok(wait_output($h, qr/^convoy \d+ 2 \d+$/m, 30), "$name: its convoy ran");
    $plant->($pid);
    $h->{timeout} = 30;
    my $t0 = time;
    my $r = finish($h);
    cmp_ok(time - $t0, '<', 20, "$name: the exit did not wait on anything planted");
    is($r->{exit}, 0, "$name: exit 0");
    return $r;
}

# ---- names a pid would have predicted --------------------------------------------------------
{
    my $victim = victim('victim-tmp');
    my $r = run_planted('tmpname', sub {
        my ($pid) = @_;
        symlink($victim, "$dir/tmpname.block.pb.gz.tmp.$pid") or die "symlink: $!";
        mkfifo("$dir/tmpname.mutex.pb.gz.tmp.$pid", 0600) or die "mkfifo: $!";
    });
    is(slurp($victim), "the user's own data\n", 'tmpname: a symlink at PREFIX.block.pb.gz.tmp.PID '
       . 'was not written through');
    is($r->{err}, '', 'tmpname: nothing on stderr (those names are not lockprof\'s)');
    for my $kind (qw(block mutex)) {
        my $f = "$dir/tmpname.$kind.pb.gz";
        ok(-f $f && !-l $f, "tmpname: the $kind profile was written, a regular file");
    }
    my (undef, $d) = total(read_profile("$dir/tmpname.block.pb.gz"), frame => 'live_convoy_wait');
    cmp_ok($d, '>', 0, 'tmpname: with the convoy in it');
    my @left = glob("$dir/tmpname.*.tmp.*");
    is_deeply([sort grep { !-l $_ && !-p $_ } @left], [], 'tmpname: no temporary file left');
}

# ---- a profile's own name taken by a symlink, a FIFO, a directory --------------------------
{
    my $victim = victim('victim-final');
    my $r = run_planted('final', sub {
        symlink($victim, "$dir/final.block.pb.gz") or die "symlink: $!";
        mkfifo("$dir/final.mutex.pb.gz", 0600) or die "mkfifo: $!";
    });
    is(slurp($victim), "the user's own data\n", 'final: the symlink\'s target is untouched');
    ok(-l "$dir/final.block.pb.gz", 'final: the symlink is still there (refused, not replaced)');
    ok(-p "$dir/final.mutex.pb.gz", 'final: the FIFO is still there');
    my @warn = grep { /lockprof/ } split /\n/, $r->{err};
    is(scalar(@warn), 1, 'final: one warning') or diag($r->{err});
    like($warn[0] // '', qr/cannot write \Q$dir\E\/final\.block\.pb\.gz .*other than a regular file/,
         'final: it names the file and says why') or diag($r->{err});
    is_deeply([glob("$dir/final.*.tmp.*")], [], 'final: no temporary file left');

    mkdir("$dir/asdir.block.pb.gz") or die "mkdir: $!";
    my $d = run_planted('asdir', sub { });
    ok(-d "$dir/asdir.block.pb.gz", 'asdir: a directory at the name stays a directory');
    like($d->{err}, qr/cannot write .*asdir\.block\.pb\.gz/, 'asdir: and is warned about');
    ok(-f "$dir/asdir.mutex.pb.gz", 'asdir: the other profile is written');
}

done_testing();
