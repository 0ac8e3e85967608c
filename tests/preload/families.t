#!/usr/bin/env perl
# The comments' counts by family: every family's waits count under that family. At rate 1 the
# block profile records every wait seen, so the waits seen (counted as each wait ends, under
# the family its wrapper names) and the contentions recorded (classified by leaf) agree, family
# by family, for a program of each family.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my @programs = (
    [ prog_convoy => [ 2, 20 ],             qr/\bmutex \d/ ],
    [ prog_cond   => [],                    qr/\bcondition \d/ ],
    [ prog_sem    => [],                    qr/\bsemaphore \d/ ],
    [ prog_join   => [],                    qr/\bthread \d/ ],
    [ prog_rwlock => [ 'convoy', 2, 20 ],   qr/\brwlock \d/ ],
    [ prog_pipe   => [ 'read', 2, 20 ],     qr/\bpipes and queues \d/ ],
    [ prog_queue  => [ 'msg', 2, 20 ],      qr/\bpipes and queues \d/ ],
    [ prog_futex  => [ 'convoy', 2, 20 ],   qr/\bfutex \d/ ],
);
for my $c (@programs) {
    my ($prog, $args, $family) = @$c;
    my $r = run_under(prog => $prog, args => $args, timeout => 60);
    is($r->{exit}, 0, "$prog: exits 0") or diag($r->{err});
    my ($agree, $rec, $seen) = families_agree(read_profile($r->{block}));
    ok($agree, "$prog: waits seen by family match the contentions recorded ($rec)")
        or diag("recorded: $rec\nseen:     $seen");
    like($seen, $family, "$prog: its own family saw waits");
}
done_testing();
