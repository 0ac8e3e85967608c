#!/bin/sh
exec "${BUILD:-build}/tests/fuzz_profread" -n 2000000 -t 20 tests/fuzz/corpus/profread
