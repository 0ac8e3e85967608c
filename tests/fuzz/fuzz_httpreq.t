#!/bin/sh
exec "${BUILD:-build}/tests/fuzz_httpreq" -n 2000000 -t 20 tests/fuzz/corpus/httpreq
