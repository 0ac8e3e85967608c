/* cfi.c — see cfi.h. x86-64 only (the ABI's register numbers and signal frame). */
#include "cfi.h"
#include "sys.h"

#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <pthread.h>

/* DWARF register numbers (x86-64 psABI). */
enum { REG_RBP_DW = 6, REG_RSP_DW = 7, REG_RA_DW = 16 };

/* ---- rules and their cache ------------------------------------------------------------- */

/* A rule packed in 64 bits:
 *   bits 0-2   kind: RULE_RSP / RULE_RBP (CFA = that register + cfa_off); RULE_SIGNAL (a signal
 *              trampoline: the interrupted context is saved at the stack pointer); RULE_END (the
 *              outermost frame: return address undefined); RULE_STOP (cannot be followed)
 *   bit  3     rbp is saved at CFA + rbp_off (else it is unchanged by the frame)
 *   bit  4     rbp is not known after this frame (a rule this walker does not model)
 *   bits 16-31 rbp_off / 8 (signed)
 *   bits 32-63 cfa_off (signed)
 * The return address is always at CFA − 8 (checked when the rule is made). 0 is no rule. */
enum { RULE_RSP = 1, RULE_RBP = 2, RULE_SIGNAL = 3, RULE_END = 4, RULE_STOP = 5 };
#define RULE_RBP_SAVED 8u
#define RULE_RBP_LOST 16u

static inline uint64_t rule_make(unsigned kind, unsigned flags, int64_t cfa_off, int64_t rbp_off)
{
    return (uint64_t)kind | flags | (uint64_t)(uint16_t)(int16_t)(rbp_off / 8) << 16 |
           (uint64_t)(uint32_t)(int32_t)cfa_off << 32;
}
static inline unsigned rule_kind(uint64_t r) { return (unsigned)(r & 7); }
static inline int64_t rule_cfa_off(uint64_t r) { return (int32_t)(uint32_t)(r >> 32); }
static inline int64_t rule_rbp_off(uint64_t r) { return (int64_t)(int16_t)(uint16_t)(r >> 16) * 8; }

/* Direct-mapped, lock-free: an entry is two words, the key XOR the rule and the rule, each
 * stored and loaded on its own; a torn pair (two threads filling one entry) fails the XOR check
 * and reads as a miss. Mapped by lp_cfi_init, NORESERVE: resident only as entries are used
 * (16 bytes each). Not in .bss, where its half MiB would sit between the library's other
 * variables and spread those that every process writes at start over more pages. */
#define CFI_CACHE_BITS 15
#define CFI_CACHE_N (1u << CFI_CACHE_BITS)
struct cfi_entry {
    uint64_t check; /* pc ^ rule */
    uint64_t rule;
};
LP_INIT_DATA static struct cfi_entry *cfi_cache; /* immutable after lp_cfi_init; NULL: no cache */
static uint64_t cfi_lookups, cfi_stops; /* atomic */

LP_INIT_TEXT int lp_cfi_init(void)
{
    if (cfi_cache)
        return 0;
    void *p = mmap(NULL, CFI_CACHE_N * sizeof(struct cfi_entry), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return -ENOMEM;
    cfi_cache = p;
    return 0;
}

static inline struct cfi_entry *cfi_slot(uintptr_t pc)
{
    return &cfi_cache[(pc * 0x9e3779b97f4a7c15ULL) >> (64 - CFI_CACHE_BITS)];
}

void lp_cfi_forget(void)
{
    for (size_t i = 0; cfi_cache && i < CFI_CACHE_N; i++)
        if (__atomic_load_n(&cfi_cache[i].rule, __ATOMIC_RELAXED))
            __atomic_store_n(&cfi_cache[i].rule, 0, __ATOMIC_RELAXED);
}

void lp_cfi_stats(struct lp_cfi_stats *s)
{
    s->lookups = __atomic_load_n(&cfi_lookups, __ATOMIC_RELAXED);
    s->stops = __atomic_load_n(&cfi_stops, __ATOMIC_RELAXED);
}

/* ---- reading .eh_frame_hdr, CIEs and FDEs ---------------------------------------------- */

/* A cursor over bytes the loader mapped (the object's own unwind tables, immutable). */
struct cfi_rd {
    const uint8_t *p, *end;
    bool bad;
};

static uint64_t rd_uleb(struct cfi_rd *r)
{
    uint64_t v = 0;
    unsigned shift = 0;
    while (r->p < r->end) {
        uint8_t b = *r->p++;
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80))
            return v;
    }
    r->bad = true;
    return 0;
}

static int64_t rd_sleb(struct cfi_rd *r)
{
    int64_t v = 0;
    unsigned shift = 0;
    uint8_t b = 0x80;
    while (r->p < r->end) {
        b = *r->p++;
        if (shift < 64)
            v |= (int64_t)((uint64_t)(b & 0x7f) << shift);
        shift += 7;
        if (!(b & 0x80))
            break;
    }
    if (b & 0x80) {
        r->bad = true;
        return 0;
    }
    if (shift < 64 && (b & 0x40))
        v |= -((int64_t)1 << shift);
    return v;
}

static uint64_t rd_fixed(struct cfi_rd *r, unsigned n)
{
    if ((size_t)(r->end - r->p) < n) {
        r->bad = true;
        return 0;
    }
    uint64_t v = 0;
    memcpy(&v, r->p, n); /* little-endian */
    r->p += n;
    return v;
}

/* DW_EH_PE_* pointer encodings. */
#define PE_OMIT 0xff
#define PE_ABSPTR 0x00
#define PE_ULEB 0x01
#define PE_UDATA2 0x02
#define PE_UDATA4 0x03
#define PE_UDATA8 0x04
#define PE_SLEB 0x09
#define PE_SDATA2 0x0a
#define PE_SDATA4 0x0b
#define PE_SDATA8 0x0c
#define PE_PCREL 0x10
#define PE_DATAREL 0x30
#define PE_INDIRECT 0x80

/* Reads a pointer in encoding enc; datarel is relative to `data` (the .eh_frame_hdr). Indirect
 * pointers (personality routines) are skipped, not followed: the value is not needed. */
static uint64_t rd_encoded(struct cfi_rd *r, uint8_t enc, uintptr_t data)
{
    if (enc == PE_OMIT)
        return 0;
    uintptr_t here = (uintptr_t)r->p;
    uint64_t v;
    switch (enc & 0x0f) {
    case PE_ABSPTR: v = rd_fixed(r, 8); break;
    case PE_ULEB: v = rd_uleb(r); break;
    case PE_UDATA2: v = rd_fixed(r, 2); break;
    case PE_UDATA4: v = rd_fixed(r, 4); break;
    case PE_UDATA8: v = rd_fixed(r, 8); break;
    case PE_SLEB: v = (uint64_t)rd_sleb(r); break;
    case PE_SDATA2: v = (uint64_t)(int64_t)(int16_t)rd_fixed(r, 2); break;
    case PE_SDATA4: v = (uint64_t)(int64_t)(int32_t)rd_fixed(r, 4); break;
    case PE_SDATA8: v = rd_fixed(r, 8); break;
    default: r->bad = true; return 0;
    }
    switch (enc & 0x70) {
    case 0: break;
    case PE_PCREL: v += here; break;
    case PE_DATAREL: v += data; break;
    default: r->bad = true; return 0; /* textrel, funcrel, aligned: not used on x86-64 Linux */
    }
    return v;
}

/* The FDE of pc through the object's .eh_frame_hdr binary-search table, or NULL. */
static const uint8_t *cfi_find_fde(uintptr_t pc)
{
    struct dl_find_object dlfo;
    if (_dl_find_object((void *)pc, &dlfo) != 0 || !dlfo.dlfo_eh_frame)
        return NULL;
    const uint8_t *hdr = dlfo.dlfo_eh_frame;
    if (hdr[0] != 1)
        return NULL;
    uint8_t ptr_enc = hdr[1], count_enc = hdr[2], table_enc = hdr[3];
    struct cfi_rd r = { hdr + 4, hdr + 4 + 24, false };
    rd_encoded(&r, ptr_enc, (uintptr_t)hdr);
    uint64_t count = rd_encoded(&r, count_enc, (uintptr_t)hdr);
    /* The table the linker writes: pairs of datarel sdata4, sorted by initial location. */
    if (r.bad || count_enc == PE_OMIT || table_enc != (PE_DATAREL | PE_SDATA4) || count == 0)
        return NULL;
    const int32_t *table = (const int32_t *)(const void *)r.p;
    int64_t rel = (int64_t)(pc - (uintptr_t)hdr);
    uint64_t lo = 0, hi = count; /* find the last entry with start <= pc */
    if (table[0] > rel)
        return NULL;
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (table[2 * mid] <= rel)
            lo = mid;
        else
            hi = mid;
    }
    return hdr + table[2 * lo + 1];
}

/* The register state the CFA program describes, for the registers a walk uses. */
enum { LOC_SAME = 0, LOC_OFFSET, LOC_UNDEF, LOC_OTHER };
struct cfi_state {
    uint8_t cfa_reg;
    bool cfa_expr;
    int64_t cfa_off;
    uint8_t rbp_loc, ra_loc;
    int64_t rbp_off, ra_off;
};

struct cfi_cie {
    uint64_t code_align;
    int64_t data_align;
    uint64_t ra_reg;
    uint8_t fde_enc;
    bool aug_z;
    bool signal;
    struct cfi_rd insns;
};

/* Parses the CIE at p (its length field). */
static bool cfi_parse_cie(const uint8_t *p, struct cfi_cie *c)
{
    struct cfi_rd r = { p, p + 12, false };
    uint64_t len = rd_fixed(&r, 4);
    if (len == 0 || len == 0xffffffffu) /* a terminator, or 64-bit DWARF (never in .eh_frame) */
        return false;
    r.end = p + 4 + len;
    if (rd_fixed(&r, 4) != 0) /* CIE id */
        return false;
    uint8_t version = (uint8_t)rd_fixed(&r, 1);
    if (version != 1 && version != 3)
        return false;
    const char *aug = (const char *)r.p;
    size_t auglen = strnlen(aug, (size_t)(r.end - r.p));
    r.p += auglen + 1;
    if (aug[0] == 'e' && aug[1] == 'h')
        return false; /* the pre-GCC 3 form: never seen on x86-64 */
    c->code_align = rd_uleb(&r);
    c->data_align = rd_sleb(&r);
    c->ra_reg = version == 1 ? rd_fixed(&r, 1) : rd_uleb(&r);
    c->fde_enc = PE_ABSPTR;
    c->aug_z = aug[0] == 'z';
    c->signal = strchr(aug, 'S') != NULL;
    if (c->aug_z) {
        uint64_t alen = rd_uleb(&r);
        const uint8_t *after = r.p + alen;
        for (const char *a = aug + 1; *a && !r.bad; a++) {
            if (*a == 'R')
                c->fde_enc = (uint8_t)rd_fixed(&r, 1);
            else if (*a == 'P') {
                uint8_t penc = (uint8_t)rd_fixed(&r, 1);
                rd_encoded(&r, penc & (uint8_t)~PE_INDIRECT, 0);
            } else if (*a == 'L')
                rd_fixed(&r, 1);
            else if (*a != 'S' && *a != 'B' && *a != 'G')
                break; /* unknown: the length lets us skip the rest */
        }
        r.p = after;
    }
    if (r.bad || r.p > r.end)
        return false;
    c->insns = (struct cfi_rd){ r.p, r.end, false };
    return true;
}

#define CFI_STATE_STACK 8

/* Runs a CFA program until the row that covers target; false on an instruction it cannot model
 * or malformed input. `initial` is the state after the CIE's program (DW_CFA_restore). */
static bool cfi_run(struct cfi_rd *r, const struct cfi_cie *c, uintptr_t loc, uintptr_t target,
                    struct cfi_state *s, const struct cfi_state *initial)
{
    struct cfi_state stack[CFI_STATE_STACK];
    unsigned depth = 0;
    while (r->p < r->end && !r->bad) {
        uint8_t op = *r->p++;
        uint64_t reg = 0, delta = 0;
        int64_t off = 0;
        switch (op >> 6) {
        case 1: /* DW_CFA_advance_loc */
            delta = (op & 0x3f) * c->code_align;
            goto advance;
        case 2: /* DW_CFA_offset */
            reg = op & 0x3f;
            off = (int64_t)rd_uleb(r) * c->data_align;
            goto offset;
        case 3: /* DW_CFA_restore */
            reg = op & 0x3f;
            goto restore;
        default:
            break;
        }
        switch (op) {
        case 0x00: /* nop */
            break;
        case 0x01: /* set_loc */
            loc = rd_encoded(r, c->fde_enc, 0);
            if (loc > target)
                return true;
            break;
        case 0x02: delta = rd_fixed(r, 1) * c->code_align; goto advance;
        case 0x03: delta = rd_fixed(r, 2) * c->code_align; goto advance;
        case 0x04: delta = rd_fixed(r, 4) * c->code_align; goto advance;
        case 0x05: /* offset_extended */
            reg = rd_uleb(r);
            off = (int64_t)rd_uleb(r) * c->data_align;
            goto offset;
        case 0x11: /* offset_extended_sf */
            reg = rd_uleb(r);
            off = rd_sleb(r) * c->data_align;
            goto offset;
        case 0x06: /* restore_extended */
            reg = rd_uleb(r);
            goto restore;
        case 0x07: /* undefined */
            reg = rd_uleb(r);
            if (reg == REG_RBP_DW)
                s->rbp_loc = LOC_UNDEF;
            else if (reg == c->ra_reg)
                s->ra_loc = LOC_UNDEF;
            break;
        case 0x08: /* same_value */
            reg = rd_uleb(r);
            if (reg == REG_RBP_DW)
                s->rbp_loc = LOC_SAME;
            else if (reg == c->ra_reg)
                s->ra_loc = LOC_OTHER;
            break;
        case 0x09: /* register */
            reg = rd_uleb(r);
            rd_uleb(r);
            goto other;
        case 0x0a: /* remember_state */
            if (depth == CFI_STATE_STACK)
                return false;
            stack[depth++] = *s;
            break;
        case 0x0b: /* restore_state: the CFA too, as GCC and libgcc read it */
            if (depth == 0)
                return false;
            *s = stack[--depth];
            break;
        case 0x0c: /* def_cfa */
            s->cfa_reg = (uint8_t)rd_uleb(r);
            s->cfa_off = (int64_t)rd_uleb(r);
            s->cfa_expr = false;
            break;
        case 0x12: /* def_cfa_sf */
            s->cfa_reg = (uint8_t)rd_uleb(r);
            s->cfa_off = rd_sleb(r) * c->data_align;
            s->cfa_expr = false;
            break;
        case 0x0d: /* def_cfa_register */
            s->cfa_reg = (uint8_t)rd_uleb(r);
            s->cfa_expr = false;
            break;
        case 0x0e: /* def_cfa_offset */
            s->cfa_off = (int64_t)rd_uleb(r);
            break;
        case 0x13: /* def_cfa_offset_sf */
            s->cfa_off = rd_sleb(r) * c->data_align;
            break;
        case 0x0f: { /* def_cfa_expression */
            uint64_t n = rd_uleb(r);
            if (n > (uint64_t)(r->end - r->p))
                return false;
            r->p += n;
            s->cfa_expr = true;
            break;
        }
        case 0x10:   /* expression */
        case 0x16: { /* val_expression */
            reg = rd_uleb(r);
            uint64_t n = rd_uleb(r);
            if (n > (uint64_t)(r->end - r->p))
                return false;
            r->p += n;
            goto other;
        }
        case 0x14: /* val_offset */
            reg = rd_uleb(r);
            rd_uleb(r);
            goto other;
        case 0x15: /* val_offset_sf */
            reg = rd_uleb(r);
            rd_sleb(r);
            goto other;
        case 0x2e: /* GNU_args_size */
            rd_uleb(r);
            break;
        case 0x2f: /* GNU_negative_offset_extended */
            reg = rd_uleb(r);
            off = -(int64_t)rd_uleb(r) * c->data_align;
            goto offset;
        default:
            return false;
        }
        continue;
    advance:
        loc += delta;
        if (loc > target)
            return true;
        continue;
    offset:
        if (reg == REG_RBP_DW) {
            s->rbp_loc = LOC_OFFSET;
            s->rbp_off = off;
        } else if (reg == c->ra_reg) {
            s->ra_loc = LOC_OFFSET;
            s->ra_off = off;
        }
        continue;
    restore:
        if (!initial)
            return false; /* restore inside the CIE's own program */
        if (reg == REG_RBP_DW) {
            s->rbp_loc = initial->rbp_loc;
            s->rbp_off = initial->rbp_off;
        } else if (reg == c->ra_reg) {
            s->ra_loc = initial->ra_loc;
            s->ra_off = initial->ra_off;
        }
        continue;
    other:
        if (reg == REG_RBP_DW)
            s->rbp_loc = LOC_OTHER;
        else if (reg == c->ra_reg)
            s->ra_loc = LOC_OTHER;
        continue;
    }
    return !r->bad;
}

/* The rule for the instruction at pc (for a return address: the call, at pc − 1). */
static uint64_t cfi_compute(uintptr_t pc)
{
    __atomic_fetch_add(&cfi_lookups, 1, __ATOMIC_RELAXED);
    const uint8_t *fde = cfi_find_fde(pc);
    if (!fde)
        return rule_make(RULE_STOP, 0, 0, 0);
    struct cfi_rd r = { fde, fde + 8, false };
    uint64_t len = rd_fixed(&r, 4);
    if (len == 0 || len == 0xffffffffu)
        return rule_make(RULE_STOP, 0, 0, 0);
    r.end = fde + 4 + len;
    const uint8_t *id_at = r.p;
    uint32_t cie_off = (uint32_t)rd_fixed(&r, 4);
    if (cie_off == 0)
        return rule_make(RULE_STOP, 0, 0, 0); /* a CIE, not an FDE */
    struct cfi_cie cie;
    if (!cfi_parse_cie(id_at - cie_off, &cie) || cie.code_align == 0)
        return rule_make(RULE_STOP, 0, 0, 0);
    uint64_t start = rd_encoded(&r, cie.fde_enc, 0);
    uint64_t range = rd_encoded(&r, cie.fde_enc & 0x0f, 0);
    if (cie.aug_z) {
        uint64_t alen = rd_uleb(&r);
        r.p += alen;
    }
    if (r.bad || r.p > r.end || pc < start || pc - start >= range)
        return rule_make(RULE_STOP, 0, 0, 0);
    if (cie.signal)
        return rule_make(RULE_SIGNAL, 0, 0, 0); /* glibc's __restore_rt */

    struct cfi_state s = { .cfa_reg = REG_RSP_DW, .rbp_loc = LOC_SAME, .ra_loc = LOC_SAME };
    if (!cfi_run(&cie.insns, &cie, start, UINTPTR_MAX, &s, NULL))
        return rule_make(RULE_STOP, 0, 0, 0);
    struct cfi_state initial = s;
    if (!cfi_run(&r, &cie, start, pc, &s, &initial))
        return rule_make(RULE_STOP, 0, 0, 0);

    /* What a walk can follow: CFA = rsp or rbp + offset, the return address at CFA − 8. */
    if (s.ra_loc == LOC_UNDEF || cie.ra_reg != REG_RA_DW)
        return rule_make(RULE_END, 0, 0, 0); /* the outermost frame (_start, clone) */
    if (s.cfa_expr || (s.cfa_reg != REG_RSP_DW && s.cfa_reg != REG_RBP_DW) ||
        s.ra_loc != LOC_OFFSET || s.ra_off != -8 || s.cfa_off < 8 || s.cfa_off > INT32_MAX)
        return rule_make(RULE_STOP, RULE_RBP_LOST, 0, 0);
    unsigned flags = 0;
    int64_t rbp_off = 0;
    if (s.rbp_loc == LOC_OFFSET) {
        if (s.rbp_off % 8 || s.rbp_off < -32768 || s.rbp_off >= 0)
            return rule_make(RULE_STOP, RULE_RBP_LOST, 0, 0);
        flags |= RULE_RBP_SAVED;
        rbp_off = s.rbp_off;
    } else if (s.rbp_loc != LOC_SAME) {
        flags |= RULE_RBP_LOST;
    }
    return rule_make(s.cfa_reg == REG_RSP_DW ? RULE_RSP : RULE_RBP, flags, s.cfa_off, rbp_off);
}

static uint64_t cfi_rule(uintptr_t pc)
{
    if (!cfi_cache)
        return cfi_compute(pc);
    struct cfi_entry *e = cfi_slot(pc);
    uint64_t rule = __atomic_load_n(&e->rule, __ATOMIC_RELAXED);
    uint64_t check = __atomic_load_n(&e->check, __ATOMIC_RELAXED);
    if (rule && (check ^ rule) == pc)
        return rule;
    rule = cfi_compute(pc);
    __atomic_store_n(&e->rule, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&e->check, pc ^ rule, __ATOMIC_RELAXED);
    __atomic_store_n(&e->rule, rule, __ATOMIC_RELAXED);
    return rule;
}

/* ---- the walk -------------------------------------------------------------------------- */

extern void *__libc_stack_end;

/* The top (exclusive) of the stack sp is on: a walk reads only [sp, top). */
static uintptr_t cfi_stack_top(uintptr_t sp)
{
    /* A pthread: glibc puts the thread's descriptor (pthread_self) at the top of its stack
     * block, above its static TLS, for stacks it allocates and for stacks the program gives. */
    uintptr_t self = (uintptr_t)pthread_self();
    if (self > sp && self - sp < ((uintptr_t)1 << 32))
        return self;
    /* The main thread: its frames lie below the stack pointer _start saw; the page holding it is
     * mapped (argv, the environment and the auxiliary vector lie above). */
    uintptr_t end = (uintptr_t)__libc_stack_end;
    if (end > sp && end - sp < ((uintptr_t)1 << 32))
        return (end | 4095) + 1;
    /* A signal handler on an alternate stack. */
    stack_t ss;
    if (sigaltstack(NULL, &ss) == 0 && !(ss.ss_flags & SS_DISABLE) &&
        sp >= (uintptr_t)ss.ss_sp && sp - (uintptr_t)ss.ss_sp < ss.ss_size)
        return (uintptr_t)ss.ss_sp + ss.ss_size;
    /* A stack of unknown bounds (a coroutine's): only the page sp is in. */
    return (sp | 4095) + 1;
}

/* At a signal trampoline the stack pointer is the ucontext_t the kernel saved: the interrupted
 * pc (exact, not a return address), rsp and rbp are read from it. */
static bool cfi_signal_frame(uintptr_t *pc, uintptr_t *sp, uintptr_t *rbp, uintptr_t top)
{
    uintptr_t uc = *sp;
    if (uc + sizeof(ucontext_t) > top)
        return false;
    const greg_t *g = ((const ucontext_t *)uc)->uc_mcontext.gregs;
    *pc = (uintptr_t)g[REG_RIP];
    *sp = (uintptr_t)g[REG_RSP];
    *rbp = (uintptr_t)g[REG_RBP];
    return true;
}

#define CFI_MAX_SIGNAL_FRAMES 4
#define CFI_MAX_FRAME ((uintptr_t)64 << 20) /* a frame larger than this is taken for garbage */

/* The walk from a frame whose pc, stack pointer and rbp are known. exact: pc is where the
 * frame is executing (an interrupted instruction), not a return address. mark_exact: such a
 * pc is stored + 1, as if it were a return address (whoever reads the stack subtracts 1). */
static int cfi_walk_from(uintptr_t *pcs, int max, uintptr_t pc, uintptr_t sp, uintptr_t rbp,
                         uintptr_t top, bool exact, bool mark_exact)
{
    bool rbp_known = true;
    unsigned signals = 0;
    int n = 0;
    while (n < max && pc) {
        pcs[n++] = exact && mark_exact ? pc + 1 : pc;
        uint64_t rule = cfi_rule(exact ? pc : pc - 1);
        unsigned kind = rule_kind(rule);
        if (kind == RULE_SIGNAL) {
            uintptr_t uc = sp;
            if (++signals > CFI_MAX_SIGNAL_FRAMES || !cfi_signal_frame(&pc, &uc, &rbp, top))
                goto stopped;
            sp = uc;
            top = cfi_stack_top(sp);
            rbp_known = true;
            exact = true;
            continue;
        }
        if (kind == RULE_END)
            break;
        if ((kind != RULE_RSP && kind != RULE_RBP) || (kind == RULE_RBP && !rbp_known))
            goto stopped;
        uintptr_t cfa = (kind == RULE_RSP ? sp : rbp) + (uintptr_t)rule_cfa_off(rule);
        if (cfa < sp + 8 || cfa > top || (cfa & 7) || cfa - sp > CFI_MAX_FRAME)
            goto stopped;
        uintptr_t ra = *(const uintptr_t *)(cfa - 8);
        if (rule & RULE_RBP_SAVED) {
            uintptr_t at = cfa + (uintptr_t)rule_rbp_off(rule);
            if (at < sp || at + 8 > top)
                goto stopped;
            rbp = *(const uintptr_t *)at;
        } else if (rule & RULE_RBP_LOST) {
            rbp_known = false;
        }
        sp = cfa;
        pc = ra;
        exact = false;
    }
    return n;
stopped: /* a frame it could not follow */
    __atomic_fetch_add(&cfi_stops, 1, __ATOMIC_RELAXED);
    return n;
}

__attribute__((used)) int lp_cfi_walk(uintptr_t *pcs, int max, uintptr_t entry_sp, uintptr_t rbp);

/* Called (tail-jumped) from lp_cfi_backtrace's entry with its stack pointer there (pointing at
 * the return address into the caller) and the caller's rbp. */
int lp_cfi_walk(uintptr_t *pcs, int max, uintptr_t entry_sp, uintptr_t rbp)
{
    uintptr_t top = cfi_stack_top(entry_sp);
    if (entry_sp + 8 > top)
        return 0;
    return cfi_walk_from(pcs, max, *(const uintptr_t *)entry_sp, entry_sp + 8, rbp, top, false,
                         false);
}

int lp_cfi_backtrace_context_sigsafe(uintptr_t *pcs, int max, const void *ucontext)
{
    const greg_t *g = ((const ucontext_t *)ucontext)->uc_mcontext.gregs;
    uintptr_t sp = (uintptr_t)g[REG_RSP];
    return cfi_walk_from(pcs, max, (uintptr_t)g[REG_RIP], sp, (uintptr_t)g[REG_RBP],
                         cfi_stack_top(sp), true, true);
}

/* The entry: the stack pointer at a call's target is the most exact start a walk can have (the
 * caller's stack pointer + the return address), and rbp is still the caller's. */
__asm__("    .text\n"
        "    .p2align 4\n"
        "    .globl lp_cfi_backtrace\n"
        "    .hidden lp_cfi_backtrace\n"
        "    .type lp_cfi_backtrace, @function\n"
        "lp_cfi_backtrace:\n"
        "    .cfi_startproc\n"
        "    movq %rsp, %rdx\n"
        "    movq %rbp, %rcx\n"
        "    jmp lp_cfi_walk\n"
        "    .cfi_endproc\n"
        "    .size lp_cfi_backtrace, .-lp_cfi_backtrace\n");
