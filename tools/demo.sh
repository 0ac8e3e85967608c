#!/bin/sh
# demo.sh — what `make demo` runs once everything is built: profiles the bundled demo
# (tests/demo/demo.c) and shows both of its profiles with `lockprof top`.
# BUILD overrides the build directory (default: build). Exits non-zero if a step fails.
set -eu

build=${BUILD:-build}
out=$build/demo-out
lockprof=$build/lockprof

for f in "$lockprof" "$build/demo" "$build/liblockprof.so"; do
    if [ ! -e "$f" ]; then
        echo "demo.sh: $f is missing; run 'make' first" >&2
        exit 1
    fi
done

mkdir -p "$out"
# Profiles of an earlier demo must not pass for this one's.
rm -f "$out/demo.block.pb.gz" "$out/demo.mutex.pb.gz"

echo "Running the demo under lockprof: $lockprof run -o $out/demo -- $build/demo"
"$lockprof" run -o "$out/demo" -- "$build/demo"

for kind in block mutex; do
    if [ ! -s "$out/demo.$kind.pb.gz" ]; then
        echo "demo.sh: the demo wrote no $kind profile ($out/demo.$kind.pb.gz)" >&2
        exit 1
    fi
done

echo
echo "Where threads waited (block profile):"
"$lockprof" top -n 8 --stacks "$out/demo.block.pb.gz"

echo
echo "Who made them wait (mutex profile):"
"$lockprof" top -n 8 --stacks "$out/demo.mutex.pb.gz"

echo
echo "Explore them further with Go's pprof, in a browser or as text:"
echo "  go tool pprof -http=: $out/demo.mutex.pb.gz"
echo "  go tool pprof -top $out/demo.block.pb.gz"
if ! command -v go >/dev/null 2>&1; then
    echo "  (go is not installed here: 'tools/install-deps test' installs golang-go)"
fi
