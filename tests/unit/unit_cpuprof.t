#!/bin/sh
exec "${BUILD:-build}/tests/unit_cpuprof"
