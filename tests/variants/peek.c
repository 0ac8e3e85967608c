/* The bench's ablation of the event path (core/seam.h), stage 1: the wrappers peek and try,
 * nothing more. */
#include "seam.h"

struct lp_seams lp_seams = { .stage = 1 };
