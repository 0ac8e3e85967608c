#!/bin/sh
exec "${BUILD:-build}/tests/unit_config" include/lockprof.3 tools/lockprof.1
