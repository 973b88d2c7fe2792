# calq - post-training quantization engine (C core, Lua 5.4 face).
#
#   make            build libcalq.a, libcalq.so, the Lua module and the calq command
#   make test       bootstrap, build, run the cmocka tests and the busted specs
#   make demo       bootstrap, build, run the main job on the default real data
#   make asan       the tests again under AddressSanitizer + UBSan (build-asan/; asan-lua: the Lua half)
#   make tsan       the threaded kernels and two host threads under ThreadSanitizer (build-tsan/)
#   make test-slow  the specs tagged #slow
#   make lint       the layering of core/ and bindings/, file lengths, dates (tools/lint.sh)
#   make bench      the benchmarks (bench/), results printed as ratios to anchors
#   make refs       ONNX Runtime reference data under $CALQ_CACHE/refs (tools/make_refs.sh)
#   make install    PREFIX=/usr/local [DESTDIR=]: library, headers, calq.pc, Lua module,
#                   command, profiles (install-lua: the Lua part only, as the rockspec does)
#   make fuzz       FUZZ_SECONDS=N [FUZZ_JOBS=J] [FUZZ_TARGETS="onnx pb"]: the libFuzzer
#                   harnesses (tests/fuzz/), clang + ASan + UBSan in build-fuzz/, N s each;
#                   FUZZ_CPU_MINUTES=M instead tops each up to M CPU minutes in all
#   make deb        the Debian packages, built by dpkg-buildpackage in $(BUILD)/deb (tools/deb.sh)
#   make examples   the embedding example (examples/embed/host.c, docs/embedding.md)
#
# Every core/<folder>/*.c goes into the library (docs/design.md: one folder per
# capability); core/kern/x86/*_avx512.c and *_avx2.c get the instruction-set
# flags they need (*_amx.c: AVX-512 and AMX) and are chosen at run time. Every
# tests/c/test_*.c is one cmocka program. Every tests/lua/*_spec.lua is a busted spec.

CC      ?= gcc
BUILD   ?= build
OPT     ?= -O2
WERROR  ?= $(if $(CI),-Werror,)
SAN     ?=
PKGS    := lua5.4 liblz4 openblas libjpeg libpng yajl expat zlib

WARN    := -std=c99 -Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes $(WERROR)
# Symbols keep the default visibility so that libcalq.so can export the public API;
# what each shared object exports is set by its version script (tools/*.map), and
# -fno-semantic-interposition keeps the calls inside the library as direct as hidden
# symbols would. CFLAGS_EXTRA / LDFLAGS_EXTRA: a packager's flags (debian/rules passes
# dpkg-buildflags'). LUA_INCDIR: where lua.h is, when not from pkg-config (LuaRocks).
CFLAGS_EXTRA  ?=
LDFLAGS_EXTRA ?=
# Loops start on 64-byte lines (gcc): the kernels' inner loops otherwise run at the
# speed of wherever the linker happens to put them. A commit that only added other
# kernels moved RegNetY's grouped stride-2 convs (im2col + sgemm) from 0.44 to 0.69 ms
# a node; with the alignment they run at 0.45 whatever comes before them (bench/NOTES.md).
ALIGN   := $(if $(findstring clang,$(CC)),,-falign-loops=64)
CFLAGS_BASE := $(OPT) $(ALIGN) -g -fPIC -D_GNU_SOURCE -fno-semantic-interposition -pthread $(WARN) $(SAN) \
	-Icore -I$(BUILD)/gen $(if $(LUA_INCDIR),-I$(LUA_INCDIR)) \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(CFLAGS_EXTRA)
EXT_LIBS := $(shell pkg-config --libs liblz4 openblas libjpeg libpng yajl expat zlib 2>/dev/null) -lm -pthread
LUA_LIBS := $(shell pkg-config --libs lua5.4 2>/dev/null)
AVX512  := -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx512vnni -mavx512bf16 -mfma -mf16c
AVX2    := -mavx2 -mfma -mf16c
AMX     := -mamx-tile -mamx-int8 -mamx-bf16

CORE_SRC := $(sort $(wildcard core/*/*.c core/*/*/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(BUILD)/%.o)
LUA_SRC  := $(sort $(wildcard scripts/calq/*.lua scripts/calq/*/*.lua))
BIND_SRC := $(sort $(filter-out bindings/main.c,$(wildcard bindings/*.c)))
BIND_OBJ := $(BIND_SRC:%.c=$(BUILD)/%.o)
TEST_SRC := $(sort $(wildcard tests/c/test_*.c))
TEST_BIN := $(TEST_SRC:tests/c/%.c=$(BUILD)/tests/%)
# Every tests/fuzz/fuzz_NAME.c is a libFuzzer harness; make test also links it with
# tests/fuzz/replay.c into $(BUILD)/tests/fuzz_NAME, a cmocka program replaying the
# crashes kept in tests/fuzz/regress/NAME/ and the seeds in tests/fuzz/NAME/.
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
TEST_BIN += $(FUZZ_NAMES:%=$(BUILD)/tests/fuzz_%)

LIB_A    := $(BUILD)/libcalq.a
LIB_SO   := $(BUILD)/libcalq.so
LUA_MOD  := $(BUILD)/lua/calq/core.so
CALQ     := $(BUILD)/calq

# The version of the library, calq.pc and the packages: calq.version
# (bindings/lcalq.c) says the same (tests/lua/install_spec.lua checks).
VERSION   := 0.1.0
SOVERSION := 0

# The public C API: every core/<folder>/*.h but the *_internal.h (the same rule as
# for bindings/, docs/design.md), installed as include/calq/<folder>/*.h so that
# their includes ("base/tensor.h") work with calq.pc's -I${includedir}/calq.
PUB_H    := $(sort $(filter-out %_internal.h,$(wildcard core/*/*.h)))

PREFIX  ?= /usr/local
LUADIR  ?= $(PREFIX)/share/lua/5.4
LIBDIR  ?= $(PREFIX)/lib/lua/5.4
BINDIR  ?= $(PREFIX)/bin
# the C library, its headers and calq.pc (LIBDIR above is Lua's C module folder)
CLIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(CLIBDIR)/pkgconfig

export LUA_PATH  := $(CURDIR)/scripts/?.lua;$(CURDIR)/scripts/?/init.lua;;
export LUA_CPATH := $(CURDIR)/$(BUILD)/lua/?.so;;

.PHONY: asan-build fuzz fuzz-build all test ctest luatest demo asan asan-lua bench bench-build bootstrap install install-lua install-lib deb examples clean lint refs test-slow ctest-asan luatest-asan tsan tsan-run
.DELETE_ON_ERROR:

all: $(LIB_A) $(LIB_SO) $(LUA_MOD) $(CALQ)

# KERN_SAN: the sanitizer flags of core/kern/x86/ (SAN unless told). make fuzz leaves
# those SIMD kernels uninstrumented: clang's ASan takes minutes a file on their
# intrinsics, and coverage inside a kernel does not guide a parser's fuzzer.
KERN_SAN ?= $(SAN)
KERN_CFLAGS = $(filter-out $(SAN),$(CFLAGS_BASE)) $(KERN_SAN)

$(BUILD)/core/%_avx512.o: core/%_avx512.c
	@mkdir -p $(@D)
	$(CC) $(KERN_CFLAGS) $(AVX512) -MMD -MP -c $< -o $@

$(BUILD)/core/%_amx.o: core/%_amx.c
	@mkdir -p $(@D)
	$(CC) $(KERN_CFLAGS) $(AVX512) $(AMX) -MMD -MP -c $< -o $@

$(BUILD)/core/%_avx2.o: core/%_avx2.c
	@mkdir -p $(@D)
	$(CC) $(KERN_CFLAGS) $(AVX2) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) -MMD -MP -c $< -o $@

$(LIB_A): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

# The shared library exports the public API (cq_*, not the cq__ helpers of a folder's
# *_internal.h): tools/libcalq.map. -Bsymbolic-functions binds the library's calls
# to its own functions inside it (no PLT hop per call).
$(LIB_SO): $(CORE_OBJ) tools/libcalq.map
	$(CC) $(SAN) -shared -Wl,-soname,libcalq.so.$(SOVERSION) -Wl,--version-script=tools/libcalq.map \
	  -Wl,-Bsymbolic-functions -o $@ $(CORE_OBJ) $(EXT_LIBS) $(LDFLAGS_EXTRA)

# The Lua module: core + bindings, not linked against liblua (the host provides it);
# it exports luaopen_calq_core only (tools/calq_core.map).
$(LUA_MOD): $(BIND_OBJ) $(LIB_A) tools/calq_core.map
	@mkdir -p $(@D)
	$(CC) $(SAN) -shared -Wl,--version-script=tools/calq_core.map -o $@ $(BIND_OBJ) $(LIB_A) \
	  $(EXT_LIBS) $(LDFLAGS_EXTRA)

# The Lua sources are compiled into the calq command, so it runs from anywhere.
$(BUILD)/gen/calq_scripts.c: $(LUA_SRC) tools/embed.lua
	@mkdir -p $(@D)
	lua5.4 tools/embed.lua $@ $(LUA_SRC)

$(CALQ): $(BUILD)/bindings/main.o $(BUILD)/gen/calq_scripts.o $(BIND_OBJ) $(LIB_A)
	$(CC) $(SAN) -rdynamic -o $@ $^ $(LUA_LIBS) $(EXT_LIBS) -ldl $(LDFLAGS_EXTRA)

$(BUILD)/gen/calq_scripts.o: $(BUILD)/gen/calq_scripts.c
	$(CC) $(CFLAGS_BASE) -w -c $< -o $@

# Benchmark drivers: every bench/NAME.c is a program $(BUILD)/bench/NAME. make test
# builds them all (bench-build), so a driver the library has outgrown fails there.
# bench/qgemm_dnnl.c needs oneDNN (libdnnl-dev): bench/qgemm.sh builds it.
# bench/cpuclock.c is a shared object for LD_PRELOAD (bench/exec.sh BENCH_CPU=1).
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(filter-out bench/qgemm_dnnl.c bench/cpuclock.c,$(wildcard bench/*.c)))
bench-build: $(BENCH_BIN) $(BUILD)/bench/cpuclock.so
$(BUILD)/bench/cpuclock.so: bench/cpuclock.c
	@mkdir -p $(@D)
	$(CC) -O2 -Wall -shared -fPIC $< -o $@ -ldl
$(BUILD)/bench/%: bench/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) -Ibench $< -o $@ $(LIB_A) $(EXT_LIBS)

# The embedding example (docs/embedding.md): a host with its own lua_State, the C
# module linked in, the Lua modules found by package.path.
EXAMPLES := $(BUILD)/examples/embed/host
examples: $(EXAMPLES)
$(BUILD)/examples/embed/host: examples/embed/host.c $(BIND_OBJ) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) -rdynamic -o $@ $< $(BIND_OBJ) $(LIB_A) $(LUA_LIBS) $(EXT_LIBS) -ldl

$(BUILD)/tests/%: tests/c/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) -Itests/c $< -o $@ $(LIB_A) $(EXT_LIBS) -lcmocka

# The fuzz harnesses link the bindings too (fuzz_profile runs scripts/calq/profile.lua
# in its own lua_State); CALQ_SRC_DIR is where it finds scripts/.
FUZZ_LINK = -DCALQ_SRC_DIR='"$(CURDIR)"' -Itests/fuzz $(BIND_OBJ) $(LIB_A) $(LUA_LIBS) $(EXT_LIBS) -ldl
$(BUILD)/tests/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/*.h $(BIND_OBJ) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) -DFUZZ_NAME='"$*"' $< tests/fuzz/replay.c -o $@ $(FUZZ_LINK) -lcmocka

# make fuzz: clang (Debian's, installed by the bootstrap's fuzz part only) with
# libFuzzer, ASan and UBSan, objects in $(FUZZ_BUILD); tools/fuzz.sh runs each harness
# FUZZ_SECONDS (FUZZ_JOBS at a time), corpora and crashes under $(CALQ_CACHE)/fuzz,
# one line per run in its runs.tsv (docs/reliability.md, "Fuzzing").
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 1
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
fuzz:
	@tools/bootstrap.sh fuzz
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang OPT=-O1 WERROR= \
	  SAN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" KERN_SAN= FUZZ_TARGETS="$(FUZZ_TARGETS)" fuzz-build
	@FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) \
	  FUZZ_CPU_MINUTES=$(FUZZ_CPU_MINUTES) tools/fuzz.sh $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
$(BUILD)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/*.h $(BIND_OBJ) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) -fsanitize=fuzzer $< -o $@ $(FUZZ_LINK)

bootstrap:
	@tools/bootstrap.sh

# Which folder may include which (docs/design.md), no .c file over 800 lines, no dates
# in core/, bindings/, scripts/. Needs no build; tests/lua/lint_spec.lua tests it.
lint:
	@tools/lint.sh

# ONNX Runtime reference inputs/outputs under $(CALQ_CACHE)/refs (skips what is done).
refs:
	@tools/make_refs.sh

ctest: $(TEST_BIN)
	@tools/run-ctests.sh $(TEST_BIN)

luatest: all
	@busted --lua=lua5.4 tests/lua

test: bootstrap
	@$(MAKE) --no-print-directory -j$(BUILD_JOBS) all bench-build examples
	@$(MAKE) --no-print-directory refs
	@$(MAKE) --no-print-directory ctest
	@$(MAKE) --no-print-directory luatest

# make asan: the C tests and then the Lua specs under ASan + UBSan, leaks
# included (in CI); make asan-lua: the Lua half alone.
ASAN_MAKE = $(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" ASAN=1
asan: bootstrap
	@$(ASAN_MAKE) -j$(BUILD_JOBS) asan-build
	@$(ASAN_MAKE) ctest-asan
	@$(ASAN_MAKE) luatest-asan

asan-lua: bootstrap
	@$(ASAN_MAKE) -j$(BUILD_JOBS) asan-build
	@$(ASAN_MAKE) luatest-asan

# make test and make asan build in parallel (the -O1 sanitized build is most of make asan's
# time when serial); the tests then run one at a time as before
BUILD_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
asan-build: all $(TEST_BIN)

ctest-asan: $(TEST_BIN)
	@ASAN_OPTIONS=detect_leaks=1 tools/run-ctests.sh $(TEST_BIN)

# The Lua module under ASan needs the runtime preloaded into the lua5.4 process;
# leaks are checked, except those of the node and python3 children the specs start
# (tools/lsan.supp). Specs tagged #noasan build and install packages (the
# compilers, sed and make they start would report their own leaks under the
# preload) or time SIGKILLs against the uninstrumented run time: make test runs them.
# intercept_tls_get_addr=0: gcc 12's runtime records a thread's dynamic TLS
# block (the Lua module's __thread variables) with a range it guesses from a
# "glibc 2.19 header" whenever the block's address is 16 past a page; it reads
# garbage there, and LeakSanitizer's check at exit dies scanning it ("Tracer
# caught signal 11", google/sanitizers#1322; compiler-rt has since dropped the
# guess). Without the interception the blocks are still scanned, as heap
# chunks the thread's descriptor reaches through its DTV.
luatest-asan: all
	@LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	  ASAN_OPTIONS=detect_leaks=1:intercept_tls_get_addr=0 \
	  LSAN_OPTIONS=suppressions=$(CURDIR)/tools/lsan.supp:print_suppressions=0 \
	  busted --lua=lua5.4 --exclude-tags=slow,noasan tests/lua

# make tsan: ThreadSanitizer (gcc -fsanitize=thread) in build-tsan/ over the cmocka
# programs that run the kernels at 2 and 3 threads, and tests/tsan/two_states.c (two
# host threads, each with its own lua_State and model, one at 1 kernel thread and one
# at 2, then both at 2). tools/tsan.supp: OpenBLAS, which is not instrumented.
TSAN_TESTS := test_kern test_kern_dw test_kern_bconv test_kern_bgemm test_kern_elt test_kern_gemv \
	test_kern_ops test_kern_qconv test_kern_qgemm test_exec test_exec_blocked test_ops_resize test_par
TSAN_ENV := TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$(CURDIR)/tools/tsan.supp"
tsan: bootstrap
	@$(MAKE) --no-print-directory BUILD=build-tsan OPT=-O1 SAN="-fsanitize=thread" tsan-run

tsan-run: $(TSAN_TESTS:%=$(BUILD)/tests/%) $(BUILD)/tests/two_states
	@$(TSAN_ENV) tools/run-ctests.sh $(TSAN_TESTS:%=$(BUILD)/tests/%)
	@$(TSAN_ENV) $(BUILD)/tests/two_states models/fashion_mnist/fmnist_cnn.onnx \
	  /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz 4 1 2
	@$(TSAN_ENV) $(BUILD)/tests/two_states models/fashion_mnist/fmnist_cnn.onnx \
	  /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz 4 2 2

$(BUILD)/tests/two_states: tests/tsan/two_states.c $(BIND_OBJ) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) -DCALQ_SRC_DIR='"$(CURDIR)"' $< -o $@ $(BIND_OBJ) $(LIB_A) \
	  $(LUA_LIBS) $(EXT_LIBS) -ldl

# The specs tagged #slow (ONNX Runtime over every node model calq re-saves, ...).
test-slow: all
	@busted --lua=lua5.4 --tags=slow --exclude-tags= tests/lua

demo: bootstrap
	@$(MAKE) --no-print-directory all
	@tools/demo.sh

bench: bootstrap
	@$(MAKE) --no-print-directory all
	@bench/run.sh

install: install-lua install-lib

# The Lua module (calq.core and scripts/calq), the calq command and the hardware
# profiles: what the rockspec installs. The recipes go to share/calq/recipes.
install-lua: all
	install -d $(DESTDIR)$(LIBDIR)/calq $(DESTDIR)$(BINDIR)
	for f in $(wildcard recipes/*.lua); do install -D -m 644 $$f $(DESTDIR)$(PREFIX)/share/calq/$$f; done
	for f in $(LUA_SRC); do install -D -m 644 $$f $(DESTDIR)$(LUADIR)/$${f#scripts/}; done
	for f in $(wildcard recipes/profiles/*.lua); do install -D -m 644 $$f $(DESTDIR)$(LUADIR)/calq/profiles/$${f#recipes/profiles/}; done
	install -m 755 $(LUA_MOD) $(DESTDIR)$(LIBDIR)/calq/core.so
	install -m 755 $(CALQ) $(DESTDIR)$(BINDIR)/calq

# The C library (shared, with its soname link, and static), the public headers with
# calq.h including them all, and calq.pc. The recipes go to share/calq/recipes.
install-lib: $(LIB_A) $(LIB_SO) $(BUILD)/gen/calq.h
	install -d $(DESTDIR)$(CLIBDIR) $(DESTDIR)$(INCLUDEDIR)/calq $(DESTDIR)$(PKGCONFIGDIR)
	install -m 644 $(LIB_A) $(DESTDIR)$(CLIBDIR)/libcalq.a
	install -m 755 $(LIB_SO) $(DESTDIR)$(CLIBDIR)/libcalq.so.$(SOVERSION)
	ln -sf libcalq.so.$(SOVERSION) $(DESTDIR)$(CLIBDIR)/libcalq.so
	for f in $(PUB_H); do install -D -m 644 $$f $(DESTDIR)$(INCLUDEDIR)/calq/$${f#core/}; done
	install -m 644 $(BUILD)/gen/calq.h $(DESTDIR)$(INCLUDEDIR)/calq/calq.h
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(CLIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	  -e 's|@VERSION@|$(VERSION)|' -e 's|@LIBS_PRIVATE@|$(strip $(EXT_LIBS))|' \
	  tools/calq.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/calq.pc
	chmod 644 $(DESTDIR)$(PKGCONFIGDIR)/calq.pc

# calq.h: one include for the whole public API.
$(BUILD)/gen/calq.h: $(PUB_H) Makefile
	@mkdir -p $(@D)
	{ echo '/* calq.h - the whole public C API of calq $(VERSION) (generated by the Makefile). */'; \
	  echo '#ifndef CALQ_H'; echo '#define CALQ_H'; echo '#define CALQ_VERSION "$(VERSION)"'; \
	  for f in $(PUB_H); do echo "#include \"$${f#core/}\""; done; echo '#endif'; } > $@

# The Debian packages (debian/), built out of the tree: tools/deb.sh copies the
# source to $(BUILD)/deb and runs dpkg-buildpackage there; the .deb files land in
# $(BUILD)/deb. CALQ_DEB_REUSE=1 links the objects of $(BUILD) instead of building
# them again (the test does).
deb: bootstrap
	@BUILD=$(BUILD) VERSION=$(VERSION) tools/deb.sh

clean:
	rm -rf build build-asan

-include $(CORE_OBJ:.o=.d) $(BIND_OBJ:.o=.d) $(BUILD)/bindings/main.d

