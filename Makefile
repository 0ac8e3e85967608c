# lockprof — build, test, bench, install.
#
#   make                 liblockprof.so and the lockprof command (in build/)
#   make demo            run the bundled demo under the profiler and show its profiles
#   make check           build everything and run the whole suite with prove
#   make bench           benchmarks (ratios with / without the profiler)
#   make variants        the bench's ablation builds and the tests' slowed-down builds
#   make check-exports   compare the exported symbols with tests/preload/exports.txt
#   make install         PREFIX=/usr/local by default: bin/, lib/, include/ and the manual
#                        in share/man/man1 and man3 (MANDIR=PREFIX/share/man)
#
# Knobs: V=1 shows full commands, WERROR=1 turns warnings into errors,
# CFLAGS/LDFLAGS are appended, never replace ours.
#
# SANITIZE=address|undefined|thread builds core/, the command and every test program that
# links them with that sanitizer, in a tree of its own: BUILD defaults to build-SANITIZE.
# `make clean` removes build/ and those trees, `make clean SANITIZE=x` build-x alone, and
# `make clean BUILD=DIR` DIR alone.
# Its `make check` runs the unit, fuzz and tool tests (tests/unit, tests/fuzz, tests/tool).
# Not the preload tests: liblockprof.so is loaded into programs built without a sanitizer,
# whose runtime would have to come first in their link order, so a sanitizer tree's library
# is a plain build of its own ($(BUILD)/plain), the one `lockprof run` preloads there.

PREFIX  ?= /usr/local
ifeq ($(SANITIZE),)
BUILD   ?= build
else
BUILD   ?= build-$(SANITIZE)
endif
CC      ?= cc
PROTOC_C ?= protoc-c

STD     = -std=gnu11
WARN    = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wformat=2 -Wvla -Wimplicit-fallthrough -fno-common
OPT     ?= -O2
DEBUG   ?= -g
ifeq ($(WERROR),1)
WARN   += -Werror
endif
# core/ with -iquote: its headers (threads.h) must not shadow the system's (<threads.h>).
ALL_CFLAGS = $(STD) $(WARN) $(OPT) $(DEBUG) -D_GNU_SOURCE -Iinclude -iquote core -I$(BUILD)/gen \
             -MMD -MP $(SAN_FLAGS) $(CFLAGS)

ifeq ($(SANITIZE),)
SAN_FLAGS =
else ifeq ($(SANITIZE),address)
SAN_FLAGS = -fsanitize=address -fno-omit-frame-pointer
else ifeq ($(SANITIZE),undefined)
SAN_FLAGS = -fsanitize=undefined -fno-sanitize-recover=all
else ifeq ($(SANITIZE),thread)
# ThreadSanitizer does not model a fence alone (gcc warns, -Wtsan). core/'s fences order
# relaxed atomic accesses only (inflight.c's seqlock), which it never reports as races.
SAN_FLAGS = -fsanitize=thread -Wno-tsan
else
$(error SANITIZE must be address, undefined or thread, not '$(SANITIZE)')
endif

# A tree never mixes objects built with and without a sanitizer, whatever BUILD says: every
# object compiled with ALL_CFLAGS depends on this file, which holds the tree's SANITIZE and
# is rewritten (so everything is rebuilt) only when that changes.
SAN_STAMP = $(BUILD)/sanitize

ifeq ($(V),1)
Q =
else
Q = @
endif

# core/ is position-independent so that one build serves the .so, the tools and the tests.
PIC     = -fPIC -fvisibility=hidden
# DESIGN §2/§6: no sibling calls (a tail-called dlsym(RTLD_NEXT) resolves relative to the
# loader), and -fexceptions so that cancellation unwinds through our frames.
INTERPOSE_FLAGS = -fno-optimize-sibling-calls -fexceptions

PROTO_C   = $(BUILD)/gen/profile.pb-c.c
PROTO_H   = $(BUILD)/gen/profile.pb-c.h
CORE_SRC  = $(sort $(wildcard core/*.c))
CORE_OBJ  = $(CORE_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/profile.pb-c.o
INTER_SRC = $(sort $(wildcard interpose/*.c))
INTER_OBJ = $(INTER_SRC:%.c=$(BUILD)/%.o)
CORE_LIB  = $(BUILD)/libcore.a
SO        = $(BUILD)/liblockprof.so
TOOL      = $(BUILD)/lockprof
TOOL_SRC  = $(sort $(wildcard tools/*.c))
TOOL_OBJ  = $(TOOL_SRC:%.c=$(BUILD)/%.o)
# The command's HTTP client, which the tests use too (unit_httpc, unit_httpd, helper_httpget).
HTTPC_OBJ = $(BUILD)/tools/httpc.o
# libiberty's demanglers (core/demangle.h), from Debian's libiberty-dev: the objects of
# cp-demangle.c, rust-demangle.c and the character table they use, taken out of libiberty.a
# with their malloc, realloc and free renamed to core/demangle.c's bounded allocator (core/
# never mallocs). An archive of their own, beside core/'s: they are not built with our flags.
LIBIBERTY ?= $(shell $(CC) -print-file-name=libiberty.a)
IBERTY_MEMBERS = cp-demangle.o rust-demangle.o safe-ctype.o
IBERTY_LIB = $(BUILD)/libiberty-demangle.a
LIBS      = $(IBERTY_LIB) -lprotobuf-c -lz
SOLIBS    = -Wl,--exclude-libs,libprotobuf-c.a:libz.a:$(notdir $(IBERTY_LIB)) $(IBERTY_LIB) \
            -l:libprotobuf-c.a -l:libz.a

# tests/ by kind: unit/ (core/ and the command's client, linked directly), preload/ (programs
# run under the preload, and what they check), tool/ (the lockprof command), bench/ (make
# bench), fuzz/ (the parsers a stranger can reach, under tests/fuzz/driver.c), lib/ (what all
# of them share). Every program is built into $(BUILD)/tests/.
TEST_KINDS = unit preload tool bench fuzz lib
vpath %.c $(TEST_KINDS:%=tests/%)
vpath %.cc tests/preload
UNIT_SRC  = $(sort $(wildcard tests/unit/unit_*.c))
UNIT_BIN  = $(patsubst %.c,$(BUILD)/tests/%,$(notdir $(UNIT_SRC)))
HELP_SRC  = $(sort $(wildcard tests/*/helper_*.c))
HELP_BIN  = $(patsubst %.c,$(BUILD)/tests/%,$(notdir $(HELP_SRC)))
PROG_SRC  = $(sort $(wildcard tests/preload/prog_*.c))
PROG_BIN  = $(patsubst %.c,$(BUILD)/tests/%,$(notdir $(PROG_SRC)))
PROGXX_SRC = $(sort $(wildcard tests/preload/prog_*.cc))
PROGXX_BIN = $(patsubst %.cc,$(BUILD)/tests/%,$(notdir $(PROGXX_SRC)))
# bench_glib.c needs GLib: built by a rule of its own, below, only where GLib is installed.
BENCH_SRC = $(filter-out tests/bench/bench_glib.c,$(sort $(wildcard tests/bench/bench_*.c)))
BENCH_BIN = $(patsubst %.c,$(BUILD)/tests/%,$(notdir $(BENCH_SRC)))
FUZZ_SRC  = $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN  = $(patsubst %.c,$(BUILD)/tests/%,$(notdir $(FUZZ_SRC)))
ifeq ($(SANITIZE),)
TEST_KINDS_RUN = unit preload tool fuzz
else
TEST_KINDS_RUN = unit tool fuzz
endif
TEST_FILES = $(sort $(wildcard $(TEST_KINDS_RUN:%=tests/%/*.t)))
DEMO      = $(BUILD)/demo

.PHONY: all check bench check-exports check-sanitized install clean demo deps test-deps tests \
        variants FORCE
all: $(SO) $(TOOL) $(DEMO)

$(PROTO_C) $(PROTO_H): core/profile.proto
	@mkdir -p $(BUILD)/gen
	@echo "  PROTOC  $<"
	$(Q)$(PROTOC_C) --c_out=$(BUILD)/gen -Icore $<

$(SAN_STAMP): FORCE
	@mkdir -p $(dir $@)
	$(Q)echo '$(SANITIZE)' | cmp -s - $@ || echo '$(SANITIZE)' > $@

$(BUILD)/gen/profile.pb-c.o: $(PROTO_C) $(SAN_STAMP)
	@echo "  CC      $@"
	$(Q)$(CC) $(STD) $(OPT) $(DEBUG) $(PIC) $(SAN_FLAGS) -I$(BUILD)/gen -c -o $@ $< $(CFLAGS)

$(BUILD)/core/%.o: core/%.c $(PROTO_H) $(SAN_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(PIC) -c -o $@ $<

$(BUILD)/interpose/%.o: interpose/%.c $(PROTO_H) $(SAN_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(PIC) $(INTERPOSE_FLAGS) -Iinterpose -c -o $@ $<

# A seams build (make variants): lp_seams is a variable, defined by the file SEAMS names.
ifneq ($(SEAMS),)
ALL_CFLAGS += -DLP_SEAMS
SEAMS_OBJ = $(BUILD)/seams.o
$(SEAMS_OBJ): $(SEAMS) core/seam.h $(SAN_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(PIC) -c -o $@ $<
endif

# Whatever links core/ links the demanglers after it ($(LIBS), $(SOLIBS)).
$(CORE_LIB): $(CORE_OBJ) $(IBERTY_LIB)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $(CORE_OBJ)

$(IBERTY_LIB): $(wildcard $(LIBIBERTY))
	@mkdir -p $(BUILD)/iberty
	@echo "  IBERTY  $@"
	$(Q)test -f '$(LIBIBERTY)' || { echo "libiberty.a not found: install libiberty-dev" >&2; \
	    exit 1; }
	$(Q)cd $(BUILD)/iberty && rm -f $(IBERTY_MEMBERS) && ar x '$(abspath $(LIBIBERTY))' \
	    $(IBERTY_MEMBERS)
	$(Q)for o in $(IBERTY_MEMBERS); do objcopy --redefine-sym malloc=lp_demangle_malloc \
	    --redefine-sym realloc=lp_demangle_realloc --redefine-sym free=lp_demangle_free \
	    $(BUILD)/iberty/$$o || exit 1; done
	$(Q)rm -f $@ && ar rcs $@ $(IBERTY_MEMBERS:%=$(BUILD)/iberty/%)

ifeq ($(SANITIZE),)
# -nostartfiles: the C runtime's start files add code run at load and at exit (on pages of
# their own, each a page fault in every process) that a library with only .init_array
# constructors does not need; lifecycle.c defines the __dso_handle they would.
$(SO): $(INTER_OBJ) $(CORE_LIB) $(SEAMS_OBJ) interpose/lockprof.map
	@echo "  LD      $@"
	$(Q)$(CC) -shared -nostartfiles -o $@ $(INTER_OBJ) $(SEAMS_OBJ) -Wl,--whole-archive $(CORE_LIB) -Wl,--no-whole-archive \
		-Wl,--version-script=interpose/lockprof.map -Wl,--no-undefined -Wl,-z,nodelete \
		$(SOLIBS) -ldl -lpthread $(LDFLAGS)
else
# The preload library of a sanitizer tree: a plain build, beside the command that preloads it.
$(SO): FORCE
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/plain SANITIZE= $(BUILD)/plain/liblockprof.so
	$(Q)ln -sf plain/liblockprof.so $@
endif

$(TOOL): $(TOOL_OBJ) $(CORE_LIB)
	@echo "  LD      $@"
	$(Q)$(CC) $(SAN_FLAGS) -o $@ $(TOOL_OBJ) $(CORE_LIB) $(LIBS) -lpthread -ldl $(LDFLAGS)

$(BUILD)/tools/%.o: tools/%.c $(PROTO_H) $(SAN_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

# The demo is an ordinary program: frame pointers and -g so every frame has a name and a line.
$(DEMO): tests/demo/demo.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(STD) -O1 -g -fno-omit-frame-pointer -o $@ $< -lpthread

$(BUILD)/tests/unit_%: unit_%.c $(CORE_LIB) tests/unit/tap.h $(SAN_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(CORE_LIB) $(LIBS) -lpthread -ldl \
		-lm $(LDFLAGS)

$(BUILD)/tests/helper_%: helper_%.c $(CORE_LIB) $(SAN_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(CORE_LIB) $(LIBS) -lpthread -ldl -lm $(LDFLAGS)

# The tests that talk HTTP do it through the command's own client.
HTTPC_UNITS = $(BUILD)/tests/unit_httpc $(BUILD)/tests/unit_httpd
$(HTTPC_UNITS): $(BUILD)/tests/%: %.c $(HTTPC_OBJ) $(CORE_LIB) tests/unit/tap.h $(SAN_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Itests/unit -Itools -o $@ $< $(HTTPC_OBJ) $(CORE_LIB) \
		$(LIBS) -lpthread -ldl -lm $(LDFLAGS)

# A fuzz target sees core/ and the command's modules (all but its main).
FUZZ_LINK = $(filter-out $(BUILD)/tools/main.o,$(TOOL_OBJ))
$(BUILD)/tests/fuzz_%: fuzz_%.c tests/fuzz/driver.c $(FUZZ_LINK) $(CORE_LIB) $(SAN_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Itools -o $@ $< tests/fuzz/driver.c $(FUZZ_LINK) \
		$(CORE_LIB) $(LIBS) -lpthread -ldl -lm $(LDFLAGS)

$(BUILD)/tests/helper_httpget: helper_httpget.c $(HTTPC_OBJ) $(CORE_LIB) $(SAN_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Itools -o $@ $< $(HTTPC_OBJ) $(CORE_LIB) $(LIBS) -lpthread \
		-ldl -lm $(LDFLAGS)

# Test programs are what users run under the preload: plain, -g, no knowledge of lockprof.
$(BUILD)/tests/prog_%: prog_%.c tests/preload/progutil.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(STD) -D_GNU_SOURCE -O1 -g -Wall -Itests/preload -Iinclude -o $@ $< -lpthread -ldl -lrt

# The C API linked (-llockprof) rather than preloaded: prog_api built against the library,
# found next to it at run time ($ORIGIN/..), so the test runs it without LD_PRELOAD.
LINKED_API = $(BUILD)/tests/linked_api
$(LINKED_API): tests/preload/prog_api.c tests/preload/progutil.h include/lockprof.h $(SO)
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(STD) -D_GNU_SOURCE -DLOCKPROF_LINKED -O1 -g -Wall -Itests/preload -Iinclude -o $@ \
		$< -L$(BUILD) -llockprof -Wl,-rpath,'$$ORIGIN/..' -lpthread -ldl -lrt

$(BUILD)/tests/prog_%: prog_%.cc
	@mkdir -p $(dir $@)
	@echo "  CXX     $@"
	$(Q)$(CXX) -O1 -g -Wall -o $@ $< -lpthread -ldl

$(BUILD)/tests/lib%.so: lib%.cc
	@mkdir -p $(dir $@)
	@echo "  CXX     $@"
	$(Q)$(CXX) -O1 -g -fPIC -shared -o $@ $<

$(BUILD)/tests/bench_%: bench_%.c tests/bench/benchutil.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(STD) -D_GNU_SOURCE -O2 -g -Wall -Itests/bench -o $@ $< -lpthread -lm

$(BUILD)/tests/passthru.so: tests/bench/passthru.c
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(STD) -D_GNU_SOURCE -O2 -fPIC -shared -fno-optimize-sibling-calls -o $@ $< -ldl

# Programs on real libraries from Debian that block through syscall() (tests/preload/reallibs.t)
# and the bench's workloads on them, each built when its toolchain or library is installed
# (.ci/run installs them all; the test skips a program that was not built, the bench says which
# rows it skipped). Debian's rustc before any other on the PATH.
RUSTC ?= $(firstword $(wildcard /usr/bin/rustc) rustc)
HAVE_RUSTC := $(if $(shell command -v $(RUSTC) 2>/dev/null),y)
HAVE_GLIB := $(shell pkg-config --exists glib-2.0 2>/dev/null && echo y)
REAL_BIN = $(BUILD)/tests/real_cxx20
BENCH_REAL_BIN =
ifeq ($(HAVE_RUSTC),y)
REAL_BIN += $(BUILD)/tests/real_rust
BENCH_REAL_BIN += $(BUILD)/tests/bench_rust
# The same program with Rust's v0 names (demangle.t), where rustc has them (1.59 and later).
ifeq ($(shell $(RUSTC) -C symbol-mangling-version=v0 --print sysroot >/dev/null 2>&1 && echo y),y)
REAL_BIN += $(BUILD)/tests/real_rust_v0
endif
endif
ifeq ($(HAVE_GLIB),y)
REAL_BIN += $(BUILD)/tests/real_glib
BENCH_REAL_BIN += $(BUILD)/tests/bench_glib
endif
ifeq ($(shell pkg-config --exists absl_synchronization 2>/dev/null && echo y),y)
REAL_BIN += $(BUILD)/tests/real_absl
endif
tests: $(REAL_BIN) $(BENCH_REAL_BIN)

$(BUILD)/tests/real_rust: tests/preload/real_rust.rs
	@mkdir -p $(dir $@)
	@echo "  RUSTC   $@"
	$(Q)$(RUSTC) -O -g -o $@ $<

$(BUILD)/tests/bench_rust: tests/bench/bench_rust.rs
	@mkdir -p $(dir $@)
	@echo "  RUSTC   $@"
	$(Q)$(RUSTC) -O -g --edition 2021 -o $@ $<

$(BUILD)/tests/bench_glib: tests/bench/bench_glib.c tests/bench/benchutil.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(STD) -D_GNU_SOURCE -O2 -g -Wall -Itests/bench -o $@ $< \
		$$(pkg-config --cflags --libs glib-2.0) -lpthread

$(BUILD)/tests/real_rust_v0: tests/preload/real_rust.rs
	@mkdir -p $(dir $@)
	@echo "  RUSTC   $@"
	$(Q)$(RUSTC) -O -g -C symbol-mangling-version=v0 -o $@ $<

$(BUILD)/tests/real_glib: tests/preload/real_glib.c tests/preload/progutil.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(CC) $(STD) -D_GNU_SOURCE -O1 -g -Wall -Itests/preload -o $@ $< \
		$$(pkg-config --cflags --libs glib-2.0) -lpthread

$(BUILD)/tests/real_cxx20: tests/preload/real_cxx20.cc tests/preload/progutil.h
	@mkdir -p $(dir $@)
	@echo "  CXX     $@"
	$(Q)$(CXX) -std=c++20 -O1 -g -Wall -Itests/preload -o $@ $< -lpthread

$(BUILD)/tests/real_absl: tests/preload/real_absl.cc tests/preload/progutil.h
	@mkdir -p $(dir $@)
	@echo "  CXX     $@"
	$(Q)$(CXX) -std=c++17 -O1 -g -Wall -Itests/preload -o $@ $< \
		$$(pkg-config --cflags --libs absl_synchronization) -lpthread

TEST_LIBS = $(patsubst tests/preload/lib%.cc,$(BUILD)/tests/lib%.so,$(wildcard tests/preload/lib*.cc))

ifeq ($(SANITIZE),)
tests: all variants $(UNIT_BIN) $(FUZZ_BIN) $(HELP_BIN) $(PROG_BIN) $(PROGXX_BIN) $(TEST_LIBS) $(LINKED_API) \
       $(BENCH_BIN) $(BUILD)/tests/passthru.so
else
tests: $(SO) $(TOOL) $(UNIT_BIN) $(FUZZ_BIN) $(HELP_BIN)
endif

# The suite: every test file of the kinds above under prove, one process each, each under a
# timeout (tests/lib/run-one), with BUILD in the environment (the tests' default is build).
# ThreadSanitizer reads its suppressions (deliberate races of the tests) from tests/lib.
check: deps test-deps
	$(MAKE) --no-print-directory tests
	$(MAKE) --no-print-directory check-exports $(if $(SANITIZE),check-sanitized)
	BUILD='$(BUILD)' TSAN_OPTIONS="suppressions=$(CURDIR)/tests/lib/tsan.supp $${TSAN_OPTIONS:-}" \
	    prove --exec tests/lib/run-one $(PROVE_FLAGS) $(TEST_FILES)

check-exports: $(SO)
	@tests/preload/check-exports $(SO) tests/preload/exports.txt

# What a sanitizer tree says it instruments: core/, the command, every program its tests run.
check-sanitized: tests
	@tests/lib/check-sanitized $(or $(SANITIZE),SANITIZE) $(CORE_LIB) $(TOOL_OBJ) $(TOOL) \
	    $(UNIT_BIN) $(FUZZ_BIN) $(HELP_BIN)

bench: all variants $(BENCH_BIN) $(BENCH_REAL_BIN) $(BUILD)/tests/passthru.so \
       $(BUILD)/tests/helper_recordcost
	tests/bench/run --build $(BUILD) $(BENCH_FLAGS)
	$(BUILD)/tests/helper_recordcost

# Variants of the library, each a full build of its own in $(BUILD)/variants/NAME with the
# seams of core/seam.h set by tests/variants/NAME.c: the bench's ablation of the lock path
# (peek, clock, register), the skew test's slow unwinder, the scale test's stalled writer and
# the fork test's slow scan of the loaded objects.
# Never installed; a release build has no seams to set (they are constants there).
VARIANTS = peek clock register slowunwind slowwriter slowscan
VARIANT_SO = $(VARIANTS:%=$(BUILD)/variants/%/liblockprof.so)

variants: $(PROTO_H)
	$(Q)$(foreach v,$(VARIANTS),$(MAKE) --no-print-directory BUILD=$(BUILD)/variants/$(v) \
	  SANITIZE= SEAMS=tests/variants/$(v).c $(BUILD)/variants/$(v)/liblockprof.so &&) true

demo: deps
	$(MAKE) --no-print-directory all
	tools/demo.sh

deps:
	@tools/install-deps build

test-deps:
	@tools/install-deps test

# The manual: lockprof(1), the command, and lockprof(3), the library (tests/tool/manpages.t
# renders both; tests/unit/unit_config.c holds lockprof(3)'s variables to core/config.c).
MANDIR  ?= $(PREFIX)/share/man

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include \
	    $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3
	install -m 0755 $(TOOL) $(DESTDIR)$(PREFIX)/bin/lockprof
	install -m 0644 $(SO) $(DESTDIR)$(PREFIX)/lib/liblockprof.so
	install -m 0644 include/lockprof.h $(DESTDIR)$(PREFIX)/include/lockprof.h
	install -m 0644 tools/lockprof.1 $(DESTDIR)$(MANDIR)/man1/lockprof.1
	install -m 0644 include/lockprof.3 $(DESTDIR)$(MANDIR)/man3/lockprof.3

# The sanitizer trees by their default names, removed with the default tree: they are made
# beside it by `make check SANITIZE=...`, and a clean checkout has none of them.
SAN_TREES = $(if $(SANITIZE)$(filter-out build,$(BUILD)),,build-address build-undefined \
            build-thread)

clean:
	rm -rf $(BUILD) $(SAN_TREES)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
