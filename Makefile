# calq - post-training quantization engine (C core, Lua 5.4 face).
#
#   make            build libcalq.a, libcalq.so, the Lua module and the calq command
#   make test       bootstrap, build, run the cmocka tests and the busted specs
#   make demo       bootstrap, build, run the main job on the default real data
#   make asan       the tests again under AddressSanitizer + UBSan (build-asan/)
#   make test-slow  the specs tagged #slow
#   make lint       the layering of core/ and bindings/, file lengths, dates (tools/lint.sh)
#   make bench      the benchmarks (bench/), results printed as ratios to anchors
#   make refs       ONNX Runtime reference data under $CALQ_CACHE/refs (tools/make_refs.sh)
#   make install    PREFIX=/usr/local (also used by the rockspec)
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
CFLAGS_BASE := $(OPT) -g -fPIC -D_GNU_SOURCE -fvisibility=hidden -pthread $(WARN) $(SAN) \
	-Icore -I$(BUILD)/gen $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
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

LIB_A    := $(BUILD)/libcalq.a
LIB_SO   := $(BUILD)/libcalq.so
LUA_MOD  := $(BUILD)/lua/calq/core.so
CALQ     := $(BUILD)/calq

PREFIX  ?= /usr/local
LUADIR  ?= $(PREFIX)/share/lua/5.4
LIBDIR  ?= $(PREFIX)/lib/lua/5.4
BINDIR  ?= $(PREFIX)/bin

export LUA_PATH  := $(CURDIR)/scripts/?.lua;$(CURDIR)/scripts/?/init.lua;;
export LUA_CPATH := $(CURDIR)/$(BUILD)/lua/?.so;;

.PHONY: all test ctest luatest demo asan bench bench-build bootstrap install clean lint refs test-slow ctest-asan luatest-asan
.DELETE_ON_ERROR:

all: $(LIB_A) $(LIB_SO) $(LUA_MOD) $(CALQ)

$(BUILD)/core/%_avx512.o: core/%_avx512.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(AVX512) -MMD -MP -c $< -o $@

$(BUILD)/core/%_amx.o: core/%_amx.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(AVX512) $(AMX) -MMD -MP -c $< -o $@

$(BUILD)/core/%_avx2.o: core/%_avx2.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) $(AVX2) -MMD -MP -c $< -o $@

$(BUILD)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) -MMD -MP -c $< -o $@

$(LIB_A): $(CORE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIB_SO): $(CORE_OBJ)
	$(CC) $(SAN) -shared -o $@ $^ $(EXT_LIBS)

# The Lua module: core + bindings, not linked against liblua (the host provides it).
$(LUA_MOD): $(BIND_OBJ) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(SAN) -shared -o $@ $(BIND_OBJ) $(LIB_A) $(EXT_LIBS)

# The Lua sources are compiled into the calq command, so it runs from anywhere.
$(BUILD)/gen/calq_scripts.c: $(LUA_SRC) tools/embed.lua
	@mkdir -p $(@D)
	lua5.4 tools/embed.lua $@ $(LUA_SRC)

$(CALQ): $(BUILD)/bindings/main.o $(BUILD)/gen/calq_scripts.o $(BIND_OBJ) $(LIB_A)
	$(CC) $(SAN) -rdynamic -o $@ $^ $(LUA_LIBS) $(EXT_LIBS) -ldl

$(BUILD)/gen/calq_scripts.o: $(BUILD)/gen/calq_scripts.c
	$(CC) $(CFLAGS_BASE) -w -c $< -o $@

# Benchmark drivers: every bench/NAME.c is a program $(BUILD)/bench/NAME. make test
# builds them all (bench-build), so a driver the library has outgrown fails there.
# bench/qgemm_dnnl.c needs oneDNN (libdnnl-dev): bench/qgemm.sh builds it.
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(filter-out bench/qgemm_dnnl.c,$(wildcard bench/*.c)))
bench-build: $(BENCH_BIN)
$(BUILD)/bench/%: bench/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) -Ibench $< -o $@ $(LIB_A) $(EXT_LIBS)

$(BUILD)/tests/%: tests/c/%.c $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_BASE) -Itests/c $< -o $@ $(LIB_A) $(EXT_LIBS) -lcmocka

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
	@$(MAKE) --no-print-directory all bench-build
	@$(MAKE) --no-print-directory refs
	@$(MAKE) --no-print-directory ctest
	@$(MAKE) --no-print-directory luatest

asan: bootstrap
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  ASAN=1 ctest-asan luatest-asan

ctest-asan: $(TEST_BIN)
	@ASAN_OPTIONS=detect_leaks=1 tools/run-ctests.sh $(TEST_BIN)

# The Lua module under ASan needs the runtime preloaded into the lua5.4 process;
# leaks are checked, except those of the node and python3 children the specs start
# (tools/lsan.supp).
luatest-asan: all
	@LD_PRELOAD="$$($(CC) -print-file-name=libasan.so) $$($(CC) -print-file-name=libubsan.so)" \
	  ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tools/lsan.supp:print_suppressions=0 \
	  busted --lua=lua5.4 tests/lua

# The specs tagged #slow (ONNX Runtime over every node model calq re-saves, ...).
test-slow: all
	@busted --lua=lua5.4 --tags=slow --exclude-tags= tests/lua

demo: bootstrap
	@$(MAKE) --no-print-directory all
	@tools/demo.sh

bench: bootstrap
	@$(MAKE) --no-print-directory all
	@bench/run.sh

install: all
	install -d $(DESTDIR)$(LIBDIR)/calq $(DESTDIR)$(BINDIR)
	for f in $(LUA_SRC); do install -D -m 644 $$f $(DESTDIR)$(LUADIR)/$${f#scripts/}; done
	for f in recipes/profiles/*.lua; do install -D -m 644 $$f $(DESTDIR)$(LUADIR)/calq/profiles/$${f#recipes/profiles/}; done
	install -m 755 $(LUA_MOD) $(DESTDIR)$(LIBDIR)/calq/core.so
	install -m 755 $(CALQ) $(DESTDIR)$(BINDIR)/calq

clean:
	rm -rf build build-asan

-include $(CORE_OBJ:.o=.d) $(BIND_OBJ:.o=.d) $(BUILD)/bindings/main.d

