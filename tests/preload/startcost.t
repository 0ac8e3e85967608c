#!/usr/bin/perl
# startcost: what a process that records nothing pays for lockprof. The bar (make bench's
# spawn workload) is on time: its start-up and exit cost at most 0.3 ms more than under a bare
# pass-through preload. Times on a shared machine vary too much for a test; the work that
# makes them does not. /bin/true runs as a process the run's first started (LOCKPROF_ORIGIN in
# its environment, LOCKPROF_OUT with %p), as make bench runs it, and as the same under the
# bench's bare pass-through (tests/passthru.so):
# - page faults (about 12 us each where this was measured): lockprof adds at most 4 to the mean
#   of 40 runs (3.5 measured: the second and third pages of relocated data (the demanglers' and
#   the profile format's tables of pointers), the second page of .data, a page of libc's code now
#   and then);
# - system calls (counted by strace, when it is installed): at most 6 more (5 measured: the
#   mapping of the library's .bss, fstat of standard error (where a warning may go), getcwd
#   (LOCKPROF_OUT is made absolute against it), getpid and gettid (the thread descriptor's
#   id); 19 before;
# - symbol lookups (LD_DEBUG=bindings: bindings of the library's own references, each a search
#   of the loaded objects' symbol tables, which showed among the costliest work at start): at
#   most 30 (24 measured: the functions a vfork child may call before it execs, and the libc
#   functions the start calls; the bare pass-through makes 18, and lockprof made 100 before);
# - it writes no file. The run's first process, which writes its two profiles at exit saying
#   nothing was contended, adds at most 50 page faults (35 measured; 97 before the writer sized
#   deflate's state to such a small profile).
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;
use Cwd ();

my $build = build_dir();
my $passthru = Cwd::abs_path("$build/tests/passthru.so") // "$build/tests/passthru.so";
my $helper = "$build/tests/helper_spawncost";
-e $passthru or BAIL_OUT("$passthru is missing: make tests");
-x $helper or BAIL_OUT("$helper is missing: make tests");
my $lib = lib_path();
my $dir = tmpdir() . '/startcost';
mkdir $dir;
local $ENV{LOCKPROF_ORIGIN} = 1;
local $ENV{LOCKPROF_OUT} = "$dir/p.%p";
delete local $ENV{LD_PRELOAD};

sub faults {
    my ($preload) = @_;
    my ($st, $out, $err) = LP::run_cmd($helper, 40, $preload, '/bin/true');
    is($st, 0, "40 runs of /bin/true under $preload") or diag($err);
    my ($f) = $out =~ /^faults ([\d.]+)$/m;
    return $f // 0;
}
my $floor = faults($passthru);
my $ours = faults($lib);
cmp_ok($ours - $floor, '<=', 4,
       "lockprof adds at most 4 page faults to /bin/true ($ours against $floor)");
{
    delete local $ENV{LOCKPROF_ORIGIN};
    mkdir "$dir-first";
    local $ENV{LOCKPROF_OUT} = "$dir-first/p.%p"; # (its files are not the others')
    my $first = faults($lib);
    cmp_ok($first - $floor, '<=', 50,
           "as the run's first process, writing its profiles: at most 50 ($first against $floor)");
}

SKIP: {
    my $strace = (grep { -x "$_/strace" } split /:/, $ENV{PATH} // '')[0];
    skip 'strace is not installed', 2 unless $strace;
    my %calls;
    for my $p ([floor => $passthru], [lockprof => $lib]) {
        my $log = "$dir/strace.$p->[0]";
        my ($st, $out, $err) = LP::run_cmd("$strace/strace", '-f', '-c', '-o', $log,
                                           '-E', "LD_PRELOAD=$p->[1]", '/bin/true');
        my ($n) = (slurp($log) // '') =~ /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?total$/m;
        $calls{ $p->[0] } = $n // -1;
        ok($st == 0 && defined $n, "strace counted $p->[0]'s system calls") or diag($err);
    }
    cmp_ok($calls{lockprof} - $calls{floor}, '<=', 6,
           "lockprof adds at most 6 system calls to /bin/true " .
           "($calls{lockprof} against $calls{floor})");
}

{
    local $ENV{LD_PRELOAD} = $lib;
    local $ENV{LD_DEBUG} = 'bindings';
    my ($st, $out, $err) = LP::run_cmd('/bin/true');
    my $n = () = $err =~ /binding file \Q$lib\E /g;
    is($st, 0, '/bin/true under LD_DEBUG=bindings');
    cmp_ok($n, '<=', 30, "lockprof looks up at most 30 symbols in /bin/true ($n)");
}

opendir(my $dh, $dir) or die "$dir: $!";
my @files = grep { /^p\./ } readdir $dh;
closedir $dh;
is("@files", '', 'no file written by the processes that recorded nothing');
done_testing();
