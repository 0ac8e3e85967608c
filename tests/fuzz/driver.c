/*
 * driver.c — a fixed-seed mutation fuzzer for the fuzz targets in tests/fuzz/.
 *
 * A target is a file fuzz_NAME.c that defines LLVMFuzzerTestOneInput, the entry point that
 * clang's libFuzzer calls, so the same file runs under either:
 *
 *   make check                       this driver: every file of tests/fuzz/corpus/NAME, then
 *                                    a fixed number of mutants of them, the same ones each run
 *   clang -fsanitize=fuzzer,address  libFuzzer, without this file (tests/fuzz/README shows how)
 *
 * The mutants come from a xorshift generator seeded with -s (default 1): a failure seen once
 * is seen again with the same seed. A target reports a broken invariant by calling abort();
 * on a crash the driver writes the input that caused it to ./fuzz-crash-NAME and dies of the
 * same signal, so the test fails and the input can be replayed (`fuzz_NAME FILE`).
 *
 * Usage: fuzz_NAME [-n MUTANTS] [-s SEED] [-t SECONDS] CORPUS_DIR|FILE...
 *   -n  mutants to run after the corpus (default 20000)
 *   -t  stop making mutants after this many seconds (default 60): a safety net, so that a
 *       machine far slower than expected still ends; the count run is printed
 * Output is TAP: one test, ok when every input returned, after a "# cut short by -t" line
 * when the time limit stopped the run before its -n mutants (the test has then seen fewer
 * inputs than on other machines, which is worth knowing, though nothing failed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { FUZZ_MAX_INPUT = 1 << 20, FUZZ_MAX_MUTANT = 64 << 10, FUZZ_MAX_SEEDS = 4096 };

struct input {
    uint8_t *data;
    size_t size;
};

static struct input corpus[FUZZ_MAX_SEEDS];
static size_t ncorpus;

/* The input being run, for the crash handler. */
static const uint8_t *volatile current;
static volatile size_t current_size;
static char crash_path[256];

static uint64_t rng_state;

static uint64_t rng(void)
{
    uint64_t x = rng_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    rng_state = x;
    return x;
}

static size_t below(size_t n)
{
    return n ? (size_t)(rng() % n) : 0;
}

static void on_crash(int sig)
{
    int fd = open(crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    if (fd >= 0) {
        const uint8_t *p = current;
        size_t left = current_size;

        while (left > 0) {
            ssize_t n = write(fd, p, left);
            if (n <= 0)
                break;
            p += n;
            left -= (size_t)n;
        }
        close(fd);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void run(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so that a sanitizer sees any read past the end. */
    uint8_t *copy = malloc(size ? size : 1);

    if (!copy) {
        fprintf(stderr, "fuzz: out of memory\n");
        exit(2);
    }
    memcpy(copy, data, size);
    current = copy;
    current_size = size;
    LLVMFuzzerTestOneInput(copy, size);
    current = NULL;
    free(copy);
}

static int add_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    size_t n;

    if (!f) {
        fprintf(stderr, "fuzz: %s: %s\n", path, strerror(errno));
        return -1;
    }
    buf = malloc(FUZZ_MAX_INPUT);
    if (!buf) {
        fclose(f);
        return -1;
    }
    n = fread(buf, 1, FUZZ_MAX_INPUT, f);
    fclose(f);
    if (ncorpus == FUZZ_MAX_SEEDS) {
        free(buf);
        return 0;
    }
    corpus[ncorpus].data = buf;
    corpus[ncorpus].size = n;
    ncorpus++;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir, in name order, so that the mutants are the same on every
 * machine. */
static int add_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;

    if (!d) {
        fprintf(stderr, "fuzz: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            names = realloc(names, cap * sizeof *names);
            if (!names) {
                closedir(d);
                return -1;
            }
        }
        if (asprintf(&names[n], "%s/%s", dir, e->d_name) < 0) {
            closedir(d);
            return -1;
        }
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (rc == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            rc = add_file(names[i]);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* Values that parsers get wrong: bounds, signs, separators, digits. */
static const uint8_t interesting[] = {
    0x00, 0x01, 0x7f, 0x80, 0xff, '\r', '\n', ' ', '\t', ':', ';', '?', '&', '=', '%',
    '0', '9', 'a', 'f', 'F',
};

/* One mutant of a corpus entry in out (at most FUZZ_MAX_MUTANT bytes); returns its size. */
static size_t mutate(uint8_t *out)
{
    const struct input *in = &corpus[below(ncorpus)];
    size_t size = in->size < FUZZ_MAX_MUTANT ? in->size : FUZZ_MAX_MUTANT;
    int rounds = 1 + (int)below(8);

    memcpy(out, in->data, size);
    for (int r = 0; r < rounds; r++) {
        size_t at = below(size + 1), len;

        switch (below(7)) {
        case 0: /* flip a bit */
            if (size)
                out[below(size)] ^= (uint8_t)(1u << below(8));
            break;
        case 1: /* a random byte */
            if (size)
                out[below(size)] = (uint8_t)rng();
            break;
        case 2: /* an interesting byte */
            if (size)
                out[below(size)] = interesting[below(sizeof interesting)];
            break;
        case 3: /* insert random bytes */
            len = 1 + below(16);
            if (size + len > FUZZ_MAX_MUTANT)
                break;
            memmove(out + at + len, out + at, size - at);
            for (size_t i = 0; i < len; i++)
                out[at + i] = (uint8_t)rng();
            size += len;
            break;
        case 4: /* delete a range */
            len = below(size - at + 1);
            memmove(out + at, out + at + len, size - at - len);
            size -= len;
            break;
        case 5: /* repeat a range */
            len = below(size - at + 1) % 256;
            if (size + len > FUZZ_MAX_MUTANT)
                break;
            memmove(out + at + len, out + at, size - at);
            size += len;
            break;
        default: { /* splice in a piece of another entry */
            const struct input *o = &corpus[below(ncorpus)];
            size_t from = below(o->size + 1);
            len = below(o->size - from + 1) % 1024;
            if (size + len > FUZZ_MAX_MUTANT)
                break;
            memmove(out + at + len, out + at, size - at);
            memcpy(out + at, o->data + from, len);
            size += len;
            break;
        }
        }
    }
    return size;
}

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    unsigned long mutants = 20000, seed = 1;
    double limit = 60, start;
    unsigned long done = 0;
    uint8_t *buf;
    int opt;

    while ((opt = getopt(argc, argv, "n:s:t:")) != -1) {
        char *end;
        switch (opt) {
        case 'n': mutants = strtoul(optarg, &end, 10); break;
        case 's': seed = strtoul(optarg, &end, 10); break;
        case 't': limit = strtod(optarg, &end); break;
        default:
            fprintf(stderr, "usage: %s [-n MUTANTS] [-s SEED] [-t SECONDS] CORPUS...\n",
                    name);
            return 2;
        }
        if (*end) {
            fprintf(stderr, "%s: -%c: not a number: %s\n", name, opt, optarg);
            return 2;
        }
    }
    if (optind == argc) {
        fprintf(stderr, "usage: %s [-n MUTANTS] [-s SEED] [-t SECONDS] CORPUS...\n", name);
        return 2;
    }
    for (int i = optind; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "%s: %s: %s\n", name, argv[i], strerror(errno));
            return 2;
        }
        if ((S_ISDIR(st.st_mode) ? add_dir(argv[i]) : add_file(argv[i])) != 0)
            return 2;
    }
    if (ncorpus == 0) {
        fprintf(stderr, "%s: the corpus is empty\n", name);
        return 2;
    }

    snprintf(crash_path, sizeof crash_path, "fuzz-crash-%s", name);
    signal(SIGSEGV, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGABRT, on_crash);
    signal(SIGFPE, on_crash);
    signal(SIGILL, on_crash);

    printf("1..1\n");
    fflush(stdout);
    for (size_t i = 0; i < ncorpus; i++)
        run(corpus[i].data, corpus[i].size);

    rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
    buf = malloc(FUZZ_MAX_MUTANT);
    if (!buf)
        return 2;
    start = now();
    for (; done < mutants; done++) {
        size_t size;
        if ((done & 255) == 0 && now() - start > limit)
            break;
        size = mutate(buf);
        run(buf, size);
    }
    if (done < mutants)
        printf("# cut short by -t %g after %lu of %lu mutants\n", limit, done, mutants);
    printf("ok 1 - %s: %zu corpus inputs and %lu mutants (seed %lu) returned\n", name, ncorpus,
           done, seed);
    free(buf);
    for (size_t i = 0; i < ncorpus; i++)
        free(corpus[i].data);
    return 0;
}
