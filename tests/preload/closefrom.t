#!/usr/bin/perl
# A program that closes every descriptor when it starts (DESIGN §6): its
# profiles are still correct, lockprof holds no descriptor of its own meanwhile (the program
# sees the same descriptors as without lockprof), and no byte of lockprof's lands in the
# program's files — not even a warning, when fd 2 has become one of the program's files.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

sub dir { my $d = tmpdir() . "/cf$_[0]"; mkdir $d; $d }

# closefrom(3): the data file is fd 3.
my $rd = dir('ref');
my $ref = run_under(prog => 'prog_closefrom', args => ['closefrom', $rd], preload => 0);
is($ref->{exit}, 0, 'closefrom, without lockprof: exit 0');
# Both unwinders: lockprof's own opens nothing; libunwind (LOCKPROF_LIBUNWIND=1) keeps a pipe
# of its own, which lockprof moves out of the program's way and guards (lockprof(3), SAFETY).
for my $uw (0, 1) {
    local $ENV{LOCKPROF_LIBUNWIND} = $uw;
    my $t = $uw ? 'closefrom, libunwind' : 'closefrom';
    my $d = dir("1-$uw");
    my $r = run_under(prog => 'prog_closefrom', args => ['closefrom', $d]);
    is($r->{exit}, 0, "$t: exit 0");
    is($r->{err}, '', "$t: nothing on stderr");
    is(slurp("$d/data"), "data\n", "$t: the program's file holds exactly what it wrote");
    is($r->{measure}{fds}, $ref->{measure}{fds},
       "$t: the program has the same descriptors open as without lockprof ($ref->{measure}{fds})");
    my ($c, $dl) = total(read_profile($r->{block}), leaf => 'pthread_mutex_lock',
                         frame => 'closefrom_waiter_wait');
    is($c, 2, "$t: block: 2 waits");
    within($dl, $r->{measure}{wait_total}, 2, "$t: block: = measured");
    my ($mc) = total(read_profile($r->{mutex}), leaf => 'pthread_mutex_unlock', frame => 'main');
    is($mc, 1, "$t: mutex: the release charged once");
}

# An unwritable LOCKPROF_OUT makes lockprof warn at exit: on the original stderr it does...
my $w = run_under(prog => 'prog_closefrom', args => ['closefrom', dir('2')],
                  env => { LOCKPROF_OUT => '/nonexistent/dir/p' });
is($w->{exit}, 0, 'unwritable LOCKPROF_OUT: exit 0');
like($w->{err}, qr/^lockprof: .*\/nonexistent\/dir\/p/m, 'unwritable LOCKPROF_OUT: one warning on stderr');

# ...but not when fd 2 is now one of the program's files.
my $ad = dir('3');
my $a = run_under(prog => 'prog_closefrom', args => ['all', $ad]);
is($a->{exit}, 0, 'close everything: exit 0');
is(slurp("$ad/data0"), "zero\n", 'close everything: data0 (fd 0) holds exactly the program\'s line');
is(slurp("$ad/data2"), "two\n", 'close everything: data2 (fd 2) holds exactly the program\'s line');
my %m = map { /^measure (\S+) (\d+)/ ? ($1 => $2) : () } split /\n/, slurp("$ad/data1") // '';
like(slurp("$ad/data1"), qr/\Ameasure wait_total \d+\nmeasure fds \d+\n\z/,
     'close everything: data1 (fd 1) holds exactly the program\'s lines');
my ($c, $dl) = total(read_profile($a->{block}), leaf => 'pthread_mutex_lock',
                  frame => 'closefrom_waiter_wait');
is($c, 2, 'close everything: block: 2 waits');
within($dl, $m{wait_total} // 0, 2, 'close everything: block: = measured');

my $bd = dir('4');
my $b = run_under(prog => 'prog_closefrom', args => ['all', $bd],
                  env => { LOCKPROF_OUT => '/nonexistent/dir/p' });
is($b->{exit}, 0, 'close everything, unwritable LOCKPROF_OUT: exit 0');
is(slurp("$bd/data2"), "two\n",
   'close everything, unwritable LOCKPROF_OUT: the warning did not land in the program\'s fd 2');
is(slurp("$bd/data0"), "zero\n", '... nor in its fd 0');
done_testing();
