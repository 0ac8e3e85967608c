#!/bin/sh
exec tests/fuzz/run profread 80000
