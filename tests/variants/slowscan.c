/* The fork test's library (core/seam.h): every scan of the loaded objects stops for 20 ms
 * inside dl_iterate_phdr, holding the loader's lock, so that a fork made while a profile is
 * written comes in the middle of one. */
#include "seam.h"

struct lp_seams lp_seams = { .stage = 4, .maps_scan_stall_ns = 20000000 };
