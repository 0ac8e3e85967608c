#!/usr/bin/perl
# A real program from Debian, as a user runs it: a GStreamer pipeline (gst-launch-1.0 from
# gstreamer1.0-tools, audiotestsrc and audioconvert from gstreamer1.0-plugins-base) whose
# threads block on GLib's GCond and GStreamer's clock, both through libc's syscall(). Under
# `lockprof run` it writes the same bytes and exits the same way as without it; its block
# profile names the waiting functions above the futex_wait leaf, the sink's clock waits add up
# to the pipeline's play time, the three streaming threads wait about that long each, and the
# mutex profile charges the wakes that ended the waits that did not time out.
use strict;
use warnings;
use lib 'tests/lib';
use LP qw(:DEFAULT run_cmd);
use Test::More;

my $GST = '/usr/bin/gst-launch-1.0';
# N buffers of S samples at RATE Hz: T = S / RATE seconds of sound each, N·T in all.
my ($N, $S, $RATE) = (10, 4410, 44100);
my $T = $S / $RATE * 1e9; # ns
my @pipeline = ('audiotestsrc', "num-buffers=$N", "samplesperbuffer=$S", '!',
                "audio/x-raw,format=S16LE,rate=$RATE,channels=1", '!',
                'queue', '!', 'audioconvert', '!', 'queue', 'max-size-buffers=1', '!',
                'fdsink', 'fd=1', 'sync=true');

my $INSPECT = '/usr/bin/gst-inspect-1.0';
plan skip_all => 'GStreamer is not installed (install gstreamer1.0-tools and '
    . 'gstreamer1.0-plugins-base)' unless -x $GST && -x $INSPECT;
# GStreamer's plugin registry in the test's own directory: built by the first command, so that
# no run scans plugins (or forks a scanner) while it is measured.
$ENV{GST_REGISTRY} = tmpdir() . '/gst-registry.bin';
$ENV{GST_REGISTRY_FORK} = 'no';
my @missing = grep { (run_cmd($INSPECT, '--exists', $_))[0] != 0 }
    qw(audiotestsrc audioconvert queue fdsink);
plan skip_all => "GStreamer elements missing: @missing (install gstreamer1.0-plugins-base)"
    if @missing;

my ($st0, $out0, $err0) = run_cmd($GST, '-q', @pipeline);
is($st0, 0, 'the pipeline without lockprof: exit 0') or diag($err0);
is(length($out0), $N * $S * 2, "the pipeline writes its $N buffers of $S 16-bit samples");

my $prefix = tmpdir() . '/gst';
my ($st, $out, $err) = run_cmd(build_dir() . '/lockprof', 'run', '--block-rate', 1,
                               '--mutex-fraction', 1, '-o', $prefix, '--', $GST, '-q', @pipeline);
is($st, $st0, 'under lockprof run: the same exit status');
ok($out eq $out0, 'under lockprof run: the same bytes on stdout');
is($err =~ s/^lockprof: .*\n//mgr, $err0,
   'under lockprof run: stderr as without it, but for lockprof\'s own lines');

my $b = read_profile("$prefix.block.pb.gz");
my ($fc, $fd) = total($b, leaf => 'futex_wait');
my ($family) = map { /^contentions by family: .*\bfutex (\d+)/ ? $1 : () } @{ $b->{comments} };
ok(($family // 0) > 0, 'block: the comments count futex waits')
    or diag(join("\n", @{ $b->{comments} }));
is($family, $fc, 'block: as many as the futex_wait samples count (every wait recorded)');

# The names: the queues' waits for room or data (GLib's g_cond_wait, called from the queue
# element), and the sink's waits for each buffer's time on the clock.
my @cond = grep {
    my @f = @{ $_->{frames} };
    $f[0] eq 'futex_wait' && ($f[1] // '') eq 'g_cond_wait'
        && grep { /\@libgstcoreelements\.so$/ } @f
} @{ $b->{samples} };
ok(scalar(@cond), 'block: futex_wait under g_cond_wait, called from the queue element');
my ($cc, $cd) = total($b, leaf => 'futex_wait', frame => 'gst_clock_id_wait');
my $sink = total($b, leaf => 'futex_wait', frame => 'gst_base_sink_wait_clock');
ok($cc > 0 && $sink == $cd,
   'block: futex_wait under gst_clock_id_wait, called from gst_base_sink_wait_clock')
    or diag(join("\n", map { "  $_->{delay} ns: @{ $_->{frames} }" } grep {
        my @f = @{ $_->{frames} };
        $f[0] eq 'futex_wait' && (grep { $_ eq 'gst_clock_id_wait' } @f)
            && !(grep { $_ eq 'gst_base_sink_wait_clock' } @f)
    } @{ $b->{samples} }));

# The sink (sync=true) renders buffer k when the clock reaches the pipeline's base time + k·T,
# and the end of stream at N·T: its thread waits on the clock for all of N·T but for the time it
# runs between two waits (a wake-up, one buffer taken from the queue and written), which the
# rule of 5 % + 1 ms per event covers.
within($cd, $N * $T, $cc, 'block: the sink\'s clock waits add up to the N·T the pipeline plays');
# Upstream, the first queue's thread waits for room in the second queue (one buffer), which the
# sink makes once a buffer; the source's thread, done in a few milliseconds, waits in its paused
# task; neither goes on before the sink has played N·T, so each of the three streaming threads
# waits N·T but for its runs. (The main thread's and GLib's pool threads' waits come on top.)
my $floor = 3 * $N * $T - (0.05 * 3 * $N * $T + 1e6 * $fc);
cmp_ok($fd, '>=', $floor, 'block: the three streaming threads waited about N·T each')
    or diag(sprintf('  %.3f ms of futex waits in %d events', $fd / 1e6, $fc));

# Every wait but the clock's (which time out) and GLib's pool threads' (g_cond_wait_until, which
# mostly time out) ended at a wake through syscall(): the mutex profile holds them all.
my (undef, $until) = total($b, leaf => 'futex_wait', frame => 'g_cond_wait_until');
my (undef, $wd) = total(read_profile("$prefix.mutex.pb.gz"), leaf => 'futex_wake');
within($wd, $fd - $cd - $until, $fc, 'mutex: the wakes are charged the waits they ended');
done_testing();
