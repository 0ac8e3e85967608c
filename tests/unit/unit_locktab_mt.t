#!/bin/sh
exec "${BUILD:-build}/tests/unit_locktab_mt"
