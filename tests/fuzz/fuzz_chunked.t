#!/bin/sh
exec tests/fuzz/run chunked 3000000
