#!/usr/bin/perl
# A wait interrupted by a signal handler that takes locks does not deadlock:
# threads blocked in pthread_mutex_lock, pthread_cond_wait, sem_wait and read each receive
# SIGUSR1 many times; the handler locks a mutex another thread keeps busy. The program ends as
# without lockprof, every handler ran, and each wait is in the block profile as measured (a
# sem_wait interrupted by a handler returns EINTR: each of its calls is a wait of its own).
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $rounds = 20;
my $ref = run_under(prog => 'prog_sighandler', args => [$rounds], preload => 0);
is($ref->{exit}, 0, 'without lockprof: exit 0');
for my $run (1 .. 2) {
    my $r = run_under(prog => 'prog_sighandler', args => [$rounds], timeout => 60);
    my $m = $r->{measure};
    same_as_plain($r, $ref, "run $run (no deadlock: the run has a 60 s limit)",
                  normalize => sub { $_[0] =~ s/\d+//gr });
    is($m->{handled}, 4 * $rounds, "run $run: the handler ran ${\ (4 * $rounds)} times");
    my $b = read_profile($r->{block});
    for my $w (['mutex', 'pthread_mutex_lock', 'sig_mutex_wait'],
               ['cond', 'pthread_cond_wait', 'sig_cond_wait'],
               ['sem', 'sem_wait', 'sig_sem_wait'],
               ['read', 'read', 'sig_read_wait']) {
        my ($name, $leaf, $fn) = @$w;
        # top: the wait itself, not the handler's own lock calls that ran on top of it.
        my ($c, $d) = total($b, leaf => $leaf, top => $fn);
        is($c, $m->{"${name}_calls"}, "run $run: $name: one wait per call ($m->{\"${name}_calls\"})");
        within($d, $m->{"${name}_total"}, $c || 1, "run $run: $name: = the measured wait");
    }
}
done_testing();
