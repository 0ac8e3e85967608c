/* The bench's ablation of the event path (core/seam.h), stage 2: the wrappers peek and try,
 * and read the clock around each wait. */
#include "seam.h"

struct lp_seams lp_seams = { .stage = 2 };
