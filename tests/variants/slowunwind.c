/* The skew test's library (core/seam.h): every stack capture takes 2 ms more, so that work
 * done inside a critical section would show in the hand-offs. */
#include "seam.h"

struct lp_seams lp_seams = { .stage = 4, .unwind_delay_ns = 2000000 };
