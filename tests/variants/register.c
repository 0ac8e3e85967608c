/* The bench's ablation of the event path (core/seam.h), stage 3: + the waiters' registration
 * and the charge (lock table, in-flight table); nothing is sampled, unwound or recorded. */
#include "seam.h"

struct lp_seams lp_seams = { .stage = 3 };
