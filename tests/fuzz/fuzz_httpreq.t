#!/bin/sh
exec tests/fuzz/run httpreq 15000000
