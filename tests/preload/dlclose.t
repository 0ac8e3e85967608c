#!/usr/bin/perl
# dlclose.t — DESIGN §3.5: waits inside a dlopen'ed library are attributed to its functions,
# and keep their names after the library is dlclose'd before the profiles are written.
#
# prog_dlclose dlopens libplugin.so after lockprof's constructor has built the mapping
# registry, runs three convoys inside the plugin's own functions (waiters in plugin_wait, the
# holder's release in plugin_release), dlcloses it, and exits: the exit-time writer refreshes
# the registry only after the plugin is gone. The dlclose wrapper refreshes it before the
# unload; without that, the plugin's frames are bare addresses with no mapping (measured).
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;
use Cwd qw(abs_path);

my $lib = abs_path(build_dir() . '/tests/libplugin.so');
-e $lib or BAIL_OUT("$lib is missing: make tests");

my $plain = run_under(prog => 'prog_dlclose', args => [$lib], preload => 0);
my $r = run_under(prog => 'prog_dlclose', args => [$lib]);
is($plain->{exit}, 0, 'without the preload: exit 0');
same_as_plain($r, $plain, 'under the preload');
like($r->{out}, qr/^unloaded 1$/m, 'the plugin was really unloaded before exit');
my $m = $r->{measure};
is($m->{wait_count}, 6, 'the program measured 6 waits');

my $b = read_profile($r->{block});
my ($c, $d) = total($b, leaf => 'pthread_mutex_lock', top => 'plugin_wait');
is($c, 6, 'block: 6 waits at the plugin\'s plugin_wait');
within($d, $m->{wait_total}, 6, 'block: their delay is what the plugin measured');

my $x = read_profile($r->{mutex});
($c, $d) = total($x, leaf => 'pthread_mutex_unlock', top => 'plugin_release');
is($c, 3, 'mutex: 3 charges at the plugin\'s plugin_release');
within($d, $m->{holder_owed}, 6, 'mutex: the holder is charged what it caused');

# Every frame of every sample is named, and the plugin's functions are located in a mapping
# whose file is the plugin.
for my $p ([block => $b, 'plugin_wait'], [mutex => $x, 'plugin_release']) {
    my ($kind, $prof, $fn) = @$p;
    my @bare = grep { /^0x/ } map { @{ $_->{frames} } } @{ $prof->{samples} };
    is(scalar @bare, 0, "$kind: every frame is named after the dlclose") or diag("@bare");
    my %file = map { /^(\d+) \S+ \S+ \S+ \S+ (.*)$/ ? ($1 => $2) : () } @{ $prof->{mappings} };
    my @at = map { $file{$_} // '(none)' }
             grep { defined } map { /^location \d+ (\d+) \S+ (.*)$/ && $2 eq $fn ? $1 : undef }
             split /\n/, $prof->{raw};
    ok(@at && !grep({ $_ ne $lib } @at), "$kind: $fn is located in the mapping of $lib")
        or diag("mappings of $fn: @at\n" . join("\n", @{ $prof->{mappings} }));
}
done_testing();
