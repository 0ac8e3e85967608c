#!/usr/bin/perl
# Fork while another thread dlopens and dlcloses a library in a loop (DESIGN §5, core/sync.h's
# lock order): every dlclose makes lockprof rescan the loaded objects, and the fork handlers
# take the mapping registry's lock, so no child inherits a rescan half-done. Before each of
# the 60 forks the parent opens a plugin never loaded before (a copy of libplugin.so); the
# child waits once inside it and exits: it ends normally (nothing hangs), and its profile has
# that wait at the new plugin's plugin_wait, with the plugin among its mappings.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;
use Cwd qw(abs_path);

use File::Copy qw(copy);

my $plugin = abs_path(build_dir() . '/tests/libplugin.so');
my $churn = abs_path(build_dir() . '/tests/libthrower.so');
my $forks = 60;
my $dir = tmpdir() . '/forkdl';
mkdir $dir;
copy($plugin, "$dir/plugin$_.so") or die "copy: $!" for 0 .. $forks - 1;
my $r = run_under(prog => 'prog_forkdl', args => [$churn, "$dir/plugin", $forks], timeout => 120,
                  env => { LOCKPROF_OUT => "$dir/p.%p" });
is($r->{exit}, 0, 'the parent exits 0') or diag($r->{err});
is($r->{err}, '', 'nothing on stderr');
like($r->{out}, qr/^forks $forks done$/m, "the parent forked $forks times");
my @children = $r->{out} =~ /^child (\d+) status (\d+)$/mg;
my %status = @children;
is(scalar(keys %status), $forks, "$forks children reported");
my ($bad, $unnamed, $nomap) = (0, 0, 0);
my $i = 0;
for my $pid (map { $children[2 * $_] } 0 .. $#children / 2) {
    my $n = $i++;
    $bad++, next if $status{$pid} != 0;
    my $p = read_profile("$dir/p.$pid.block.pb.gz");
    my ($c) = total($p, leaf => 'pthread_mutex_lock', frame => 'plugin_wait');
    $unnamed++, diag("child $n (pid $pid): plugin_wait not in its profile") if $c != 1;
    $nomap++, diag("child $n (pid $pid): plugin$n.so not mapped")
        unless grep { m{/plugin$n\.so\b} } @{ $p->{mappings} };
}
is($bad, 0, 'every child exited 0 (none hung, none crashed)');
is($unnamed, 0, "every child's profile has its wait at plugin_wait");
is($nomap, 0, "every child's profile maps the plugin");

done_testing();
