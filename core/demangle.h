/*
 * demangle.h — C++ and Rust names as people read them, for every view lockprof prints (the
 * debug=1 text, `lockprof top`). The profiles themselves keep the names as the binaries have
 * them (DESIGN §3.5: pprof demangles).
 *
 * libiberty's demanglers, linked in from Debian's libiberty-dev (the Makefile takes their
 * objects out of libiberty.a): rust_demangle_callback first, which takes Rust's legacy
 * (_ZN…17h<16 hex digits>E) and v0 (_R…) names and refuses everything else, then
 * cplus_demangle_v3_callback for the rest of the _Z names, with DMGL_PARAMS | DMGL_ANSI: the
 * parameters and their qualifiers, as nm -C, objdump -C and gdb show them (c++filt adds
 * DMGL_VERBOSE by default, which spells std::string out as std::basic_string<char, …> and
 * keeps Rust's hash: c++filt -i shows what this shows).
 *
 * No malloc. The callbacks write into the caller's buffer; rust-demangle.c's one allocation
 * (the Unicode of a punycode identifier in a v0 name) and cp-demangle.c's (on paths not taken
 * here) are renamed at build time to lp_demangle_malloc, _realloc and _free, which hand out a
 * fixed region of the demangler's own mapping, never more.
 *
 * Bounded work. Both demanglers can be made to print exponentially in the length of a name
 * (a v0 backreference or a C++ substitution used twice, in a chain: 219 bytes of v0 name print
 * 100 MB in 1.2 s): the output stops, and the demangler with it, as soon as the buffer is
 * full. Names longer than LP_DEMANGLE_MAX_NAME stay as they are (see demangle.c).
 *
 * Bounded stack, on a stack of the demangler's own. Both demanglers recurse as deep as their
 * recursion limits (1024 levels), whatever the name's length (4 bytes of v0 name reach it),
 * and cp-demangle.c's arrays are variable-length arrays on the stack: measured, up to 438 KiB
 * for a C++ name and 152 KiB for a Rust one — more than lockprof's HTTP thread has (256 KiB),
 * and a thread of the program calling lockprof_write_profile may have less. So each name is
 * demangled on a stack mapped by lp_demangle_open (LP_DEMANGLE_STACK, under a guard page),
 * and the calling thread's stack is not used beyond a few hundred bytes.
 *
 * Context: any thread, an lp_demangler in one thread at a time; not a signal handler (the
 * demanglers format numbers with snprintf). Nothing here allocates but lp_demangle_open's
 * mmap.
 */
#ifndef LP_DEMANGLE_H
#define LP_DEMANGLE_H

#include <stddef.h>

/* Longer names stay mangled. */
#define LP_DEMANGLE_MAX_NAME 1024
/* The demangler's stack: twice the deepest measured (demangle.c). */
#define LP_DEMANGLE_STACK ((size_t)1 << 20)
/* The region for rust-demangle.c's allocation: a punycode identifier of at most
 * LP_DEMANGLE_MAX_NAME bytes needs 4 bytes per code point, in a buffer of up to twice that. */
#define LP_DEMANGLE_HEAP ((size_t)64 << 10)

struct lp_demangler {
    char *map;  /* guard page, stack, heap; NULL: not open, names stay as they are */
    size_t len;
};

/* Maps the demangler's stack and heap (touched only as used). 0, or -errno; either way d may
 * be passed to lp_demangle and lp_demangle_close. */
int lp_demangle_open(struct lp_demangler *d);
void lp_demangle_close(struct lp_demangler *d);

/*
 * name as people read it: buf (size bytes, NUL-terminated) holding the demangled name, or
 * name itself when it is not a C++ or Rust name, the demangler refuses it, it is longer than
 * LP_DEMANGLE_MAX_NAME, d is not open, or size is under 4. A demangled name that does not fit
 * is cut at a character boundary and ends with "…" (what lies beyond the cut is not read).
 */
const char *lp_demangle(struct lp_demangler *d, const char *name, char *buf, size_t size);

#endif
