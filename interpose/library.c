/*
 * library.c — dlclose: the mapping registry sees a library before it is unloaded (DESIGN §3.5).
 *
 * Recorded stacks hold raw return addresses; they are named when a profile is written, through
 * the registry of executable mappings (core/maps.c), which keeps an unloaded object's entry.
 * The registry is refreshed at start and at each write, so a plugin dlopen'ed after the last
 * refresh and dlclose'd before the next one would never be registered: its frames would be
 * written as bare addresses with no mapping. Refreshing here, before the real dlclose, closes
 * that gap; the next refresh marks the entry unloaded and keeps it. A refresh with nothing
 * loaded or unloaded since the last one stops at the first object (dlpi_adds/dlpi_subs), so
 * the common dlclose of a library already seen costs one dl_iterate_phdr step.
 *
 * After the real dlclose, the unwinder forgets its cached rules (core/cfi.h).
 *
 * Lock order (core/sync.h): maps.c takes its own lock, then the loader's (dl_iterate_phdr); a
 * dlclose called
 * from a destructor, under dlclose's loader lock, takes them in the same order (dl_iterate_phdr
 * takes the loader's write lock, not the load lock dlclose holds while destructors run).
 * Measured: a destructor that dlcloses another library, in two threads looping dlopen/dlclose
 * while the periodic writer refreshes, 6,000 times without a hang.
 */
#include <dlfcn.h>
#include <errno.h>

#include "cfi.h"
#include "lifecycle.h"
#include "maps.h"
#include "wait.h"

LP_EXPORT int dlclose(void *handle)
{
    /* Before lockprof is ready nothing is recorded (and its first refresh sees every object
     * loaded then); when busy, the caller is lockprof itself. */
    if (!lp_wrap_off()) {
        /* (First: a new process's registry lock may be its parent's.) */
        if (lp_lifecycle_check()) {
            struct lp_guard g;
            lp_guard_enter(&g);
            lp_maps_refresh();
            lp_guard_leave(&g);
        }
    }
    int rc = REAL(dlclose)(handle);
    /* The unwinder's rules for the unloaded object's addresses would apply to whatever is
     * mapped there next. */
    if (rc == 0)
        lp_cfi_forget();
    return rc;
}
