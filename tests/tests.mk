# tests.mk: the Criterion suites (plain and ASan+UBSan) and their test guests; included by ../Makefile.
#
#   make test         the layering check, then both runs below, plain first; the API tests;
#                     make install/uninstall (test-install); the libraries' exports
#                     (test-symbols); last, that nothing would be built again (test-rebuild)
#   make test-plain   every build/tests/LAYER/test_* against build/mvmm
#   make test-asan    every build/tests/asan/LAYER/test_* against build/mvmm-asan
#
# The suites mirror vmm/: tests/core/ tests vmm/core/, and so on (tests/lua/ the Lua guest,
# tests/api/ and tests/harness/ the installed library); a new tests/DIR/test_*.c is picked up
# without an edit here.
# Suites run one after another (each with --jobs $(TEST_JOBS)); a failing suite fails the target
# after the others have run. Paths in the tests are relative to the repository root.

TEST_JOBS ?= 2
# tests/api and tests/harness build against the installed library (below), not the internals.
TEST_SRCS  := $(sort $(filter-out tests/api/% tests/harness/% tests/host/%,$(wildcard tests/*/test_*.c)))
TEST_NAMES := $(TEST_SRCS:tests/%.c=%)
TEST_BINS      := $(TEST_NAMES:%=$(BUILD)/tests/%)
TEST_SAN_BINS  := $(TEST_NAMES:%=$(BUILD)/tests/asan/%)
# Suites that change host settings (huge pages) run alone, after all the others, one test at a time.
HOST_TEST_SRCS := $(sort $(wildcard tests/host/test_*.c))
HOST_TESTS     := $(HOST_TEST_SRCS:tests/%.c=$(BUILD)/tests/%)
HOST_SAN_TESTS := $(HOST_TEST_SRCS:tests/%.c=$(BUILD)/tests/asan/%)

TEST_GUEST_SRCS := $(wildcard tests/guests/*.c)
TEST_GUESTS     := $(TEST_GUEST_SRCS:tests/guests/%.c=$(BUILD)/tests/guests/%.elf) \
		   $(BUILD)/tests/guests/hello-pie.elf $(BUILD)/tests/guests/where-pie.elf \
		   $(BUILD)/tests/guests/hello-exec.elf
# Unmodified Linux programs (tests/linux/*.c), each built three times: musl-gcc -static,
# gcc -static, and mvmm-cc (NAME-sdk: the SDK's build of an ordinary program, tests/sdk).
TEST_LINUX_SRCS := $(wildcard tests/linux/*.c)
TEST_LINUX      := $(TEST_LINUX_SRCS:tests/linux/%.c=$(BUILD)/tests/linux/%-musl) \
		   $(TEST_LINUX_SRCS:tests/linux/%.c=$(BUILD)/tests/linux/%-glibc) \
		   $(TEST_LINUX_SRCS:tests/linux/%.c=$(BUILD)/tests/linux/%-sdk) \
		   $(BUILD)/tests/linux/libc-sdk-pie $(BUILD)/tests/linux/gdbme-debug
# The SDK's own hello, built as a PIE for the loader and run tests.
TEST_HELLO_SRC  := $(firstword $(wildcard guest/examples/hello.c guest/hello.c))

$(BUILD)/tests/obj/%.o: tests/%.c | $(BUILD)/.deps-TEST
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) -c $< -o $@

$(BUILD)/tests/asan-obj/%.o: tests/%.c | $(BUILD)/.deps-TEST
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -Itests $(CFLAGS) $(SAN_FLAGS) -c $< -o $@

# The option parsers live with the command, not in the library: link their object too.
$(TEST_BINS) $(HOST_TESTS): $(BUILD)/tests/%: $(BUILD)/tests/obj/%.o $(BUILD)/obj/vmm/cli/cli_parse.o \
			       $(LIB_INT)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $^ -lcriterion $(LDLIBS)

$(TEST_SAN_BINS) $(HOST_SAN_TESTS): $(BUILD)/tests/asan/%: $(BUILD)/tests/asan-obj/%.o \
				    $(BUILD)/asan/vmm/cli/cli_parse.o $(BUILD)/libmvmm-asan.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $^ -lcriterion $(LDLIBS)

$(BUILD)/tests/guests/%.elf: tests/guests/%.c $(GUEST_SDK_DEPS)
	@mkdir -p $(@D)
	$(BUILD)/bin/mvmm-cc $< -o $@

$(BUILD)/tests/guests/where-pie.elf: tests/guests/where.c $(GUEST_SDK_DEPS)
	@mkdir -p $(@D)
	$(BUILD)/bin/mvmm-cc -static-pie $< -o $@

# mvmm-cc builds static PIEs by default; the loader's ET_EXEC path gets a -no-pie hello.
$(BUILD)/tests/guests/hello-exec.elf: $(TEST_HELLO_SRC) $(GUEST_SDK_DEPS)
	@mkdir -p $(@D)
	$(BUILD)/bin/mvmm-cc -no-pie $< -o $@

$(BUILD)/tests/guests/hello-pie.elf: $(TEST_HELLO_SRC) $(GUEST_SDK_DEPS)
	@mkdir -p $(@D)
	$(BUILD)/bin/mvmm-cc -static-pie $< -o $@

$(BUILD)/tests/linux/%-musl: tests/linux/%.c | $(BUILD)/.deps-TEST
	@mkdir -p $(@D)
	musl-gcc -static -O2 -Wall -Wextra -Werror -o $@ $< -lm

$(BUILD)/tests/linux/%-glibc: tests/linux/%.c | $(BUILD)/.deps-TEST
	@mkdir -p $(@D)
	$(CC) -static -O2 -Wall -Wextra -Werror -o $@ $< -lm

$(BUILD)/tests/linux/%-sdk: tests/linux/%.c $(GUEST_SDK_DEPS)
	@mkdir -p $(@D)
	$(GUEST_CC) -O2 -Wall -Wextra -Werror -o $@ $< -lm

$(BUILD)/tests/linux/libc-sdk-pie: tests/linux/libc.c $(GUEST_SDK_DEPS)
	@mkdir -p $(@D)
	$(GUEST_CC) -static-pie -O2 -Wall -Wextra -Werror -o $@ $< -lm

# Programs built with debug information (tests/debugged), for backtraces and core files:
# static with musl, and dynamic with glibc (its libraries' frames come from the host's files).
TEST_DEBUGGED_SRCS := $(wildcard tests/debugged/*.c)
TEST_DEBUGGED := $(TEST_DEBUGGED_SRCS:tests/debugged/%.c=$(BUILD)/tests/debugged/%-musl) \
		 $(TEST_DEBUGGED_SRCS:tests/debugged/%.c=$(BUILD)/tests/debugged/%-dyn)

$(BUILD)/tests/debugged/%-musl: tests/debugged/%.c | $(BUILD)/.deps-TEST
	@mkdir -p $(@D)
	musl-gcc -static -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror -o $@ $<

$(BUILD)/tests/debugged/%-dyn: tests/debugged/%.c | $(BUILD)/.deps-TEST
	@mkdir -p $(@D)
	$(CC) -g -O1 -fno-omit-frame-pointer -Wall -Wextra -Werror -o $@ $<

# The guest gdb debugs in tests/cli/test_gdb.c: with its source lines, no optimisation.
$(BUILD)/tests/linux/gdbme-debug: tests/linux/gdbme.c | $(BUILD)/.deps-TEST
	@mkdir -p $(@D)
	musl-gcc -static -g -O0 -Wall -Wextra -Werror -o $@ $<

# Dynamically linked programs (tests/dynamic): glibc's loader and libc.so come from the host.
# dep.c is built under a sound name found through $ORIGIN/lib, and under hostile sonames
# that the programs linked against it then name in DT_NEEDED; notelf/libdep.so is no ELF.
TEST_DYN_DIR := $(BUILD)/tests/dynamic
TEST_DYN     := $(TEST_DYN_DIR)/origin $(TEST_DYN_DIR)/needs-dotdot $(TEST_DYN_DIR)/needs-abs \
		$(TEST_DYN_DIR)/needs-notelf $(TEST_DYN_DIR)/notelf/libdep.so \
		$(TEST_DYN_DIR)/lib43/libdep.so

$(TEST_DYN_DIR)/lib/libdep.so: tests/dynamic/dep.c
	@mkdir -p $(@D)
	$(CC) -shared -fPIC -O2 -Wall -Wextra -Werror -Wl,-soname,libdep.so -o $@ $<

$(TEST_DYN_DIR)/lib43/libdep.so: tests/dynamic/dep.c
	@mkdir -p $(@D)
	$(CC) -shared -fPIC -O2 -Wall -Wextra -Werror -DDEP_VALUE=43 -Wl,-soname,libdep.so -o $@ $<

$(TEST_DYN_DIR)/origin: tests/dynamic/main.c $(TEST_DYN_DIR)/lib/libdep.so
	$(CC) -O2 -Wall -Wextra -Werror -o $@ $< -L$(TEST_DYN_DIR)/lib -ldep -Wl,-rpath,'$$ORIGIN/lib'

$(TEST_DYN_DIR)/hostile/dotdot/libdep.so: tests/dynamic/dep.c
	@mkdir -p $(@D)
	$(CC) -shared -fPIC -O2 -Wl,-soname,../../etc/shadow -o $@ $<

$(TEST_DYN_DIR)/hostile/abs/libdep.so: tests/dynamic/dep.c
	@mkdir -p $(@D)
	$(CC) -shared -fPIC -O2 -Wl,-soname,/etc/shadow -o $@ $<

$(TEST_DYN_DIR)/needs-dotdot: tests/dynamic/main.c $(TEST_DYN_DIR)/hostile/dotdot/libdep.so
	$(CC) -O2 -o $@ $^

$(TEST_DYN_DIR)/needs-abs: tests/dynamic/main.c $(TEST_DYN_DIR)/hostile/abs/libdep.so
	$(CC) -O2 -o $@ $^

$(TEST_DYN_DIR)/needs-notelf: tests/dynamic/main.c $(TEST_DYN_DIR)/lib/libdep.so
	$(CC) -O2 -o $@ $< -L$(TEST_DYN_DIR)/lib -ldep -Wl,-rpath,'$$ORIGIN/notelf'

$(TEST_DYN_DIR)/notelf/libdep.so:
	@mkdir -p $(@D)
	printf 'not an ELF, a text file named like a library\n' > $@

.PHONY: test-build test-build-plain test-build-asan
test-build-plain: all $(TEST_BINS) $(TEST_GUESTS) $(TEST_LINUX) $(TEST_DYN) $(TEST_DEBUGGED)
test-build-asan: all $(TEST_SAN_BINS) $(TEST_GUESTS) $(TEST_LINUX) $(TEST_DYN) $(TEST_DEBUGGED) \
		 $(BUILD)/mvmm-asan
test-build: test-build-plain test-build-asan

# Runs each suite in $(1) with MVMM_BIN=$(2) and the environment $(3); Criterion prints each
# suite's synthesis line; fails at the end if any suite failed.
# The image cache goes to a directory of the run's own, not the user's ~/.cache.
define test_run_suites
	@failed=""; cache=$$(mktemp -d /tmp/mvmm-test-cache.XXXXXX); \
	for t in $(1); do \
		echo "== $$t"; \
		env MVMM_BIN=$(2) XDG_CACHE_HOME=$$cache $(3) $$t --jobs $(or $(4),$(TEST_JOBS)) --short-filename || failed="$$failed $${t##*/}"; \
	done; \
	rm -rf "$$cache"; \
	if [ -n "$$failed" ]; then echo "FAILED suites:$$failed"; exit 1; fi; \
	echo "all $(words $(1)) suites passed"
endef

# LeakSanitizer: the suites check the heap explicitly where they mean to (t_lsan_check), not at
# exit, where Criterion's runner leaks a little of its own; the mvmm-asan commands they start
# check at exit (T_CHILD_ASAN_OPTIONS, applied by the harness), so a leak fails that run.
TEST_SAN_OPTS := abort_on_error=1:halt_on_error=1:detect_leaks=1
TEST_SAN_ENV  := ASAN_OPTIONS=$(TEST_SAN_OPTS):leak_check_at_exit=0 \
		 T_CHILD_ASAN_OPTIONS=$(TEST_SAN_OPTS) \
		 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# The layering rule of vmm/ (see the Makefile's LAYERS), checked against the #include lines.

.PHONY: test-host
test: test-host
test-host: test-plain test-asan test-api test-api-asan $(HOST_TESTS) $(HOST_SAN_TESTS)
	$(call test_run_suites,$(HOST_TESTS),$(BUILD)/mvmm,,1)
	$(call test_run_suites,$(HOST_SAN_TESTS),$(BUILD)/mvmm-asan,$(TEST_SAN_ENV),1)

.PHONY: test-layers
test-layers:
	@bash tests/layers.sh $(LAYERS) cli

# make install then make uninstall under a scratch DESTDIR (tests/install.sh).
.PHONY: test-install
test: test-install
test-install: all $(LIB_SO) guest-sdk $(MAN_PAGES) $(COMPLETION)
	@bash tests/install.sh

test: test-layers test-plain test-asan

test-plain: all test-build-plain
	$(call test_run_suites,$(TEST_BINS),$(BUILD)/mvmm,)

test-asan: all test-build-asan
	$(call test_run_suites,$(TEST_SAN_BINS),$(BUILD)/mvmm-asan,$(TEST_SAN_ENV))

# The package check's stamp is only an order-only prerequisite here; keep make from deleting it.
.PRECIOUS: $(BUILD)/.deps-TEST

# The public API (tests/api) and the harness example (tests/harness), built the way a user
# would: against a `make install` into $(API_PREFIX), with pkg-config and the installed
# mvmm-cc. test-api-asan links the same tests against libmvmm-asan.a (installed header only).
API_PREFIX  := $(abspath $(BUILD)/prefix)
API_PKG     := PKG_CONFIG_PATH=$(API_PREFIX)/lib/pkgconfig pkg-config
API_SUITES  := $(patsubst tests/api/%.c,%,$(sort $(wildcard tests/api/test_*.c)))
API_TESTS   := $(API_SUITES:%=$(BUILD)/tests/api/%) $(BUILD)/tests/harness/test_harness
API_SAN_TESTS := $(API_SUITES:%=$(BUILD)/tests/asan/api/%) $(BUILD)/tests/asan/harness/test_harness
API_CASES   := $(BUILD)/tests/harness/cases.elf

$(API_PREFIX)/.installed: $(LIB_SO) $(BUILD)/libmvmm.a $(BUILD)/mvmm vmm/api/mvmm.h $(GUEST_SDK_DEPS)
	$(MAKE) --no-print-directory install PREFIX=$(API_PREFIX) >/dev/null
	touch $@

$(BUILD)/tests/api/%: tests/api/%.c $(API_PREFIX)/.installed | $(BUILD)/.deps-TEST
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $$($(API_PKG) --cflags --libs mvmm) -Wl,-rpath,$(API_PREFIX)/lib \
		-lcriterion -lpthread
$(BUILD)/tests/harness/%: tests/harness/%.c $(API_PREFIX)/.installed | $(BUILD)/.deps-TEST
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $$($(API_PKG) --cflags --libs mvmm) -Wl,-rpath,$(API_PREFIX)/lib \
		-lcriterion
$(BUILD)/tests/asan/api/%: tests/api/%.c $(API_PREFIX)/.installed $(BUILD)/libmvmm-asan.a \
		| $(BUILD)/.deps-TEST
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $< $$($(API_PKG) --cflags mvmm) $(BUILD)/libmvmm-asan.a \
		$(LDLIBS) -lcriterion
$(BUILD)/tests/asan/harness/%: tests/harness/%.c $(API_PREFIX)/.installed $(BUILD)/libmvmm-asan.a \
		| $(BUILD)/.deps-TEST
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $< $$($(API_PKG) --cflags mvmm) $(BUILD)/libmvmm-asan.a \
		$(LDLIBS) -lcriterion
$(API_CASES): tests/harness/cases.c $(API_PREFIX)/.installed
	@mkdir -p $(@D)
	$(API_PREFIX)/bin/mvmm-cc -O2 -g -Wall -Wextra -Werror $< -o $@

# The API tests linked statically against the installed libmvmm.a: its one object holds every
# layer, and a program's own names meet none of ours (only mvmm_* are global in it).
API_STATIC := $(BUILD)/tests/api/test_api-static
$(API_STATIC): tests/api/test_api.c $(API_PREFIX)/.installed | $(BUILD)/.deps-TEST
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $< $$($(API_PKG) --cflags mvmm) $(API_PREFIX)/lib/libmvmm.a \
		$(LIB_PRIVATE) -lcriterion

# What the libraries export: only the mvmm_* calls of mvmm.h, from libmvmm.so and libmvmm.a.
.PHONY: test-symbols
test-symbols: $(BUILD)/libmvmm.a $(LIB_SO)
	@bad=$$(nm -D --defined-only $(LIB_SO) | awk '$$2 ~ /^[TDBRVW]$$/ && $$3 !~ /^mvmm_/'); \
	if [ -n "$$bad" ]; then echo "libmvmm.so exports more than mvmm_*: $$bad"; exit 1; fi
	@bad=$$(nm -g --defined-only $(BUILD)/libmvmm.a | awk 'NF == 3 && $$3 !~ /^mvmm_/ {print $$3}'); \
	if [ -n "$$bad" ]; then echo "libmvmm.a exports more than mvmm_*:" $$bad; exit 1; fi
	@so=$$(nm -D --defined-only $(LIB_SO) | awk '$$2 == "T" {sub(/@.*/, "", $$3); print $$3}' | sort); \
	a=$$(nm -g --defined-only $(BUILD)/libmvmm.a | awk 'NF == 3 {print $$3}' | sort); \
	if [ "$$so" != "$$a" ]; then echo "libmvmm.a and libmvmm.so export different calls"; exit 1; fi; \
	echo "libmvmm.a and libmvmm.so export only the $$(echo "$$a" | wc -l) mvmm_* calls of mvmm.h"

.PHONY: test-api test-api-asan
test: test-symbols test-api test-api-asan
test-api: all test-symbols $(API_TESTS) $(API_STATIC) $(API_CASES) $(TEST_GUESTS) $(TEST_LINUX)
	$(call test_run_suites,$(API_TESTS),$(BUILD)/mvmm,MVMM_CASES=$(API_CASES))
	@for f in 'api/*' 'api_log/*'; do \
		echo "== $(API_STATIC) --filter $$f"; \
		MVMM_BIN=$(BUILD)/mvmm MVMM_CASES=$(API_CASES) $(API_STATIC) --jobs $(TEST_JOBS) \
			--short-filename --filter "$$f" || exit 1; \
	done
test-api-asan: all $(API_SAN_TESTS) $(API_CASES) $(TEST_GUESTS) $(TEST_LINUX) \
	       $(BUILD)/mvmm-asan
	$(call test_run_suites,$(API_SAN_TESTS),$(BUILD)/mvmm-asan,$(TEST_SAN_ENV) MVMM_CASES=$(API_CASES))

# A second make test rebuilds nothing: once the suites have run, everything make test builds is
# up to date (make -q), else the check names what would be built again.
TEST_BUILT = test-build $(LIB_SO) $(HOST_TESTS) $(HOST_SAN_TESTS) $(API_TESTS) $(API_SAN_TESTS) \
	     $(API_STATIC) $(API_CASES) fuzz-build
.PHONY: test-rebuild
test: test-rebuild
test-rebuild: test-layers test-install test-symbols test-plain test-asan test-api test-api-asan \
	      test-host test-fuzz
	@if ! $(MAKE) -q --no-print-directory $(TEST_BUILT); then \
		echo "a second make test would build again:"; \
		$(MAKE) -n --no-print-directory $(TEST_BUILT) | grep -v '^make'; exit 1; \
	fi; \
	echo "a second make test builds nothing"
