/* The scale test's library (core/seam.h): the writer stops for 1 s half-way through its walk
 * of the stack table, while the program's threads go on recording. */
#include "seam.h"

struct lp_seams lp_seams = { .stage = 4, .writer_stall_ns = 1000000000 };
