/* elfnote.c — see elfnote.h. */
#include "elfnote.h"

#include <elf.h>
#include <stdint.h>
#include <string.h>

bool lp_elfnote_build_id(const void *notes, size_t len, size_t align, char out[65])
{
    const unsigned char *p = notes;
    size_t left = len;
    if (align != 8)
        align = 4;
    while (left >= sizeof(Elf64_Nhdr)) {
        Elf64_Nhdr nh;
        memcpy(&nh, p, sizeof nh); /* notes need not be aligned for us */
        uint64_t name_sz = ((uint64_t)nh.n_namesz + align - 1) & ~(uint64_t)(align - 1);
        uint64_t desc_sz = ((uint64_t)nh.n_descsz + align - 1) & ~(uint64_t)(align - 1);
        uint64_t total = sizeof nh + name_sz + desc_sz;
        if (total > left)
            return false;
        const unsigned char *name = p + sizeof nh;
        if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
            nh.n_descsz > 0) {
            const unsigned char *d = name + name_sz;
            size_t n = nh.n_descsz > 32 ? 32 : nh.n_descsz;
            for (size_t k = 0; k < n; k++) {
                out[2 * k] = "0123456789abcdef"[d[k] >> 4];
                out[2 * k + 1] = "0123456789abcdef"[d[k] & 15];
            }
            out[2 * n] = '\0';
            return true;
        }
        p += total;
        left -= total;
    }
    return false;
}
