/* prog_longjmp built with _FORTIFY_SOURCE (as Debian builds its programs): its siglongjmp is
 * glibc's __longjmp_chk. */
#undef _FORTIFY_SOURCE
#define _FORTIFY_SOURCE 2
#include "prog_longjmp.c"
