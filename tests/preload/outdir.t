#!/usr/bin/perl
# outdir: LOCKPROF_OUT naming a directory (ending in "/", or an existing directory without a %)
# means the default name in it, DIR/lockprof.%p, as `lockprof run -o DIR` does — never hidden
# files named ".block.pb.gz" in it, nor files beside it.
use strict;
use warnings;
use lib 'tests/lib';
use LP;
use Test::More;

my $dir = tmpdir();
for my $case (['slash', "$dir/slash/", 1], ['existing', "$dir/existing", 1],
              ['missing', "$dir/missing/", 0]) {
    my ($name, $out, $exists) = @$case;
    mkdir("$dir/$name") or die "mkdir: $!" if $exists;
    my $r = run_under(prog => '/bin/true', env => { LOCKPROF_OUT => $out });
    is($r->{exit}, 0, "$name: exit 0");
    my $want = "$dir/$name/lockprof.$r->{pid}";
    if ($exists) {
        ok(-s "$want.block.pb.gz" && -s "$want.mutex.pb.gz",
           "$name: LOCKPROF_OUT=$out wrote $want.{block,mutex}.pb.gz");
        is($r->{err}, '', "$name: nothing on stderr");
    } else {
        like($r->{err}, qr/cannot write \Q$want\E\.block\.pb\.gz .*No such file or directory/,
             "$name: a directory that does not exist is named in the warning");
    }
    is_deeply([glob("$dir/$name/.*.pb.gz"), glob("$dir/$name.*.pb.gz")], [],
              "$name: no hidden file in it, nothing beside it");
}
done_testing();
