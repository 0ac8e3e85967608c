/* library.c — pass-through wrappers, profiled in a later commit of issue 3. */
#include "resolve.h"

#include <dlfcn.h>

LP_EXPORT int dlclose(void * a0)
{
    return REAL(dlclose)(a0);
}
