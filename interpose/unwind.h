/* unwind.h — loading libunwind (constructor only) and naming lockprof's own text ranges. */
#ifndef LP_UNWIND_H
#define LP_UNWIND_H

/* dlopens libunwind and installs it as lp_unwinder; 0 or -1 (stacks stay empty, said once). */
int lp_unwind_load(void);
/* Registers the executable segment that holds addr as lockprof's own (never in a stack). */
void lp_unwind_add_self_range(const void *addr);

#endif
