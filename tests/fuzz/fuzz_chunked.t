#!/bin/sh
exec "${BUILD:-build}/tests/fuzz_chunked" -n 2000000 -t 20 tests/fuzz/corpus/chunked
