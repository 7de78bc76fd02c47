# mvmm: build the library, the command, the guest SDK and examples, tests and benchmarks.
#
#   make         build everything (installs missing Debian packages when root)
#   make demo    build and run the demonstration
#   make test    build and run the Criterion suites, plain and under ASan+UBSan
#   make bench   run the benchmarks in bench/ (CSV and PNG under build/bench/)
#   make install / make uninstall   PREFIX (default /usr/local), DESTDIR for packaging
#   make clean

BUILD      := build
CC         := gcc
SHARED_INC := shared
AR         := ar
LD         := ld
OBJCOPY    := objcopy

WARN       := -Wall -Wextra -Werror
CFLAGS     := -std=c11 $(WARN) -O2 -g -fno-omit-frame-pointer
CPPFLAGS   := -I$(SHARED_INC) -Ivmm -MMD -MP
LDLIBS     := -ldw -lelf -lcapstone -lxxhash -lseccomp -lpthread
# The command links libelf, zlib and capstone statically and is not PIE: the
# dynamic loader's relocation of capstone's tables alone costs ~1 ms per start
# here (measured), more than creating the VM. libdw (crash-report backtraces)
# is static too, with the decompressors it reads debug sections through. json-c
# (cache ls --json, snapshot info --json) is the command's alone: libmvmm does
# not need it.
CLI_LDFLAGS := -no-pie
CLI_LDLIBS  := -Wl,-Bstatic -ldw -lelf -lz -llzma -lbz2 -lcapstone -lxxhash -lseccomp -ljson-c \
	       -Wl,-Bdynamic -lpthread
SAN_FLAGS  := -fsanitize=address,undefined -fno-sanitize-recover=undefined

# The library's layers, lowest first: a file may include headers of its own layer and of the
# layers before it, never after (tests/layers.sh checks it in make test; vmm/README.md).
# A new .c file in a layer folder is built without a Makefile edit.
LAYERS   := core load mem guestabi clone fleet cache serve api
LIB_SRCS := $(foreach l,$(LAYERS),$(sort $(wildcard vmm/$(l)/*.c)))
CLI_SRCS := $(sort $(wildcard vmm/cli/*.c))

LIB_OBJS     := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS     := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)
LIB_SAN_OBJS := $(LIB_SRCS:%.c=$(BUILD)/asan/%.o)
CLI_SAN_OBJS := $(CLI_SRCS:%.c=$(BUILD)/asan/%.o)

# Debian packages: the build's, the tests', the benchmarks'.
DEPS_BUILD := libelf-dev libdw-dev liblzma-dev libbz2-dev zlib1g-dev libcapstone-dev \
	      libxxhash-dev libseccomp-dev libjson-c-dev pkg-config musl-tools
# groff-base: tests/cli/test_commands.c formats the man pages with groff -ww.
DEPS_TEST  := libcriterion-dev busybox-static lua5.4 python3.11 coreutils groff-base gdb
DEPS_BENCH := qemu-system-x86 lua5.4 gnuplot-nox
DEPS_FUZZ  := clang libclang-rt-14-dev

.PHONY: all demo test test-plain test-asan bench clean deps
all: $(BUILD)/mvmm $(BUILD)/libmvmm.a guest man completion

# Checks for the packages and installs what is missing (as root), else says what to install.
# One apt-get at a time (flock): make -j checks several lists at once.
$(BUILD)/.deps-%: Makefile
	@mkdir -p $(BUILD)
	@missing=""; \
	for p in $(DEPS_$*); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing Debian packages:$$missing"; \
			{ flock 9 && apt-get update -qq && \
			  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; } \
				9>$(BUILD)/.apt-lock >$(BUILD)/apt-$*.log 2>&1 || \
				{ cat $(BUILD)/apt-$*.log; exit 1; }; \
		else \
			echo "mvmm needs these Debian packages: sudo apt-get install$$missing"; exit 1; \
		fi; \
	fi; \
	touch $@
deps: $(BUILD)/.deps-BUILD

$(BUILD)/obj/%.o: %.c | $(BUILD)/.deps-BUILD
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(BUILD)/asan/%.o: %.c | $(BUILD)/.deps-BUILD
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SAN_FLAGS) -c $< -o $@

# The internal archive, every symbol of every layer: for the command, the suites and the
# benchmarks, which use the layers' own calls. Installed programs link libmvmm.a below.
LIB_INT := $(BUILD)/libmvmm-int.a
$(LIB_INT): $(LIB_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

# The installed static library: the objects linked into one (ld -r) whose only global symbols
# are the calls mvmm.h declares (MVMM_API), as the shared library's export map allows; a
# program linking it statically meets no vm_*, cache_*, exit_* of ours.
LIB_API_SYMS := $(BUILD)/libmvmm.syms
$(LIB_API_SYMS): vmm/api/mvmm.h
	@mkdir -p $(@D)
	sed -n 's/^MVMM_API .*[ *]\(mvmm_[a-z0-9_]*\)(.*/\1/p' $< >$@.tmp
	@test -s $@.tmp || { echo "no MVMM_API calls found in $<"; exit 1; }
	mv $@.tmp $@

$(BUILD)/libmvmm.a: $(LIB_OBJS) $(LIB_API_SYMS)
	$(LD) -r -o $(BUILD)/libmvmm-all.o $(LIB_OBJS)
	$(OBJCOPY) --keep-global-symbols=$(LIB_API_SYMS) $(BUILD)/libmvmm-all.o $(BUILD)/libmvmm.o
	rm -f $@ $(BUILD)/libmvmm-all.o
	$(AR) rcs $@ $(BUILD)/libmvmm.o

$(BUILD)/libmvmm-asan.a: $(LIB_SAN_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/mvmm: $(CLI_OBJS) $(LIB_INT)
	$(CC) $(CFLAGS) $(CLI_LDFLAGS) -o $@ $(CLI_OBJS) $(LIB_INT) $(CLI_LDLIBS)

$(BUILD)/mvmm-asan: $(CLI_SAN_OBJS) $(BUILD)/libmvmm-asan.a
	$(CC) $(CFLAGS) $(SAN_FLAGS) -o $@ $(CLI_SAN_OBJS) $(BUILD)/libmvmm-asan.a $(LDLIBS) -ljson-c

# The man pages and the bash completion, made from the built command's help texts and
# option tables (vmm/cli/cli_help.c), so neither can drift from `mvmm COMMAND --help`.
CLI_COMMANDS := run serve launch snapshot cache
MAN_PAGES    := $(BUILD)/man/mvmm.1 $(CLI_COMMANDS:%=$(BUILD)/man/mvmm-%.1)
COMPLETION   := $(BUILD)/completion/mvmm
.PHONY: man completion
man: $(MAN_PAGES)
completion: $(COMPLETION)

$(BUILD)/man/%.1: $(BUILD)/mvmm vmm/cli/man/mkman.sh vmm/cli/man/help2roff.awk \
		  vmm/cli/man/security.roff
	@mkdir -p $(@D)
	sh vmm/cli/man/mkman.sh $(BUILD)/mvmm $* >$@.tmp && mv $@.tmp $@

$(COMPLETION): $(BUILD)/mvmm vmm/cli/bash-completion.sh
	@mkdir -p $(@D)
	sh vmm/cli/bash-completion.sh $(BUILD)/mvmm >$@.tmp && mv $@.tmp $@

# The shared library and the installed tree: libmvmm.so exports only the mvmm_* calls of
# vmm/api/mvmm.h (objects built -fvisibility=hidden, API calls marked MVMM_API, version script).
PREFIX     ?= /usr/local
LIB_SOVER  := 0.1.0
LIB_SONAME := libmvmm.so.0
LIB_PIC_OBJS := $(LIB_SRCS:%.c=$(BUILD)/pic/%.o)
LIB_SO     := $(BUILD)/libmvmm.so.$(LIB_SOVER)
# Static libraries consumers need; Libs.private / Requires.private in mvmm.pc (libdw's
# own pkg-config file names what a static libdw needs: zlib, liblzma, libbz2).
LIB_PRIVATE := $(LDLIBS)

$(BUILD)/pic/%.o: %.c | $(BUILD)/.deps-BUILD
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -c $< -o $@

$(LIB_SO): $(LIB_PIC_OBJS) vmm/api/libmvmm.map
	$(CC) $(CFLAGS) -shared -Wl,-soname,$(LIB_SONAME) -Wl,--version-script=vmm/api/libmvmm.map \
		-Wl,-z,defs -o $@ $(LIB_PIC_OBJS) $(LDLIBS)

.PHONY: install lib-shared
lib-shared: $(LIB_SO)
# DESTDIR for packaging; PREFIX is what mvmm.pc and mvmm-cc see.
INSTALL_ROOT = $(DESTDIR)$(PREFIX)
install: all $(LIB_SO) guest-sdk
	install -d $(INSTALL_ROOT)/bin $(INSTALL_ROOT)/lib/pkgconfig $(INSTALL_ROOT)/include \
		$(INSTALL_ROOT)/share/man/man1 $(INSTALL_ROOT)/share/bash-completion/completions \
		$(INSTALL_ROOT)/lib/mvmm/guest $(INSTALL_ROOT)/include/mvmm/guest/mvmm
	install -m 644 $(BUILD)/libmvmm.a $(INSTALL_ROOT)/lib/libmvmm.a
	install -m 755 $(LIB_SO) $(INSTALL_ROOT)/lib/libmvmm.so.$(LIB_SOVER)
	ln -sf libmvmm.so.$(LIB_SOVER) $(INSTALL_ROOT)/lib/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(INSTALL_ROOT)/lib/libmvmm.so
	install -m 644 vmm/api/mvmm.h $(INSTALL_ROOT)/include/mvmm.h
	printf '%s\n' 'prefix=$(PREFIX)' 'exec_prefix=$${prefix}' 'libdir=$${prefix}/lib' \
		'includedir=$${prefix}/include' '' 'Name: mvmm' \
		'Description: micro-hypervisor on KVM: a fresh VM per guest run or test case' \
		'Version: $(LIB_SOVER)' 'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -lmvmm' \
		'Requires.private: libdw' 'Libs.private: $(LIB_PRIVATE)' \
		>$(INSTALL_ROOT)/lib/pkgconfig/mvmm.pc
	install -m 755 $(BUILD)/mvmm $(INSTALL_ROOT)/bin/mvmm
	install -m 644 $(MAN_PAGES) $(INSTALL_ROOT)/share/man/man1/
	install -m 644 $(COMPLETION) $(INSTALL_ROOT)/share/bash-completion/completions/mvmm
	install -m 755 $(GUEST_CC) $(INSTALL_ROOT)/bin/mvmm-cc
	install -m 644 $(GUEST_LIB) $(GUEST_LDSCRIPT) $(INSTALL_ROOT)/lib/mvmm/guest/
	install -m 644 $(SHARED_INC)/mvmm_abi.h $(INSTALL_ROOT)/include/mvmm/guest/
	install -m 644 $(wildcard $(GUEST_SDK_DIR)/include/mvmm/*.h) \
		$(INSTALL_ROOT)/include/mvmm/guest/mvmm/

# Removes exactly what install put under the same DESTDIR and PREFIX, then the directories
# that are mvmm's alone once empty (never bin/, lib/, ...). tests/install.sh checks the pair.
.PHONY: uninstall
uninstall:
	rm -f $(INSTALL_ROOT)/bin/mvmm $(INSTALL_ROOT)/bin/mvmm-cc \
		$(INSTALL_ROOT)/lib/libmvmm.a $(INSTALL_ROOT)/lib/libmvmm.so.$(LIB_SOVER) \
		$(INSTALL_ROOT)/lib/$(LIB_SONAME) $(INSTALL_ROOT)/lib/libmvmm.so \
		$(INSTALL_ROOT)/lib/pkgconfig/mvmm.pc $(INSTALL_ROOT)/include/mvmm.h \
		$(addprefix $(INSTALL_ROOT)/share/man/man1/,$(notdir $(MAN_PAGES))) \
		$(INSTALL_ROOT)/share/bash-completion/completions/mvmm \
		$(addprefix $(INSTALL_ROOT)/lib/mvmm/guest/,$(notdir $(GUEST_LIB) $(GUEST_LDSCRIPT))) \
		$(INSTALL_ROOT)/include/mvmm/guest/mvmm_abi.h \
		$(addprefix $(INSTALL_ROOT)/include/mvmm/guest/mvmm/,$(notdir \
			$(wildcard $(GUEST_SDK_DIR)/include/mvmm/*.h)))
	@for d in lib/mvmm/guest lib/mvmm include/mvmm/guest/mvmm include/mvmm/guest include/mvmm; do \
		if [ -d "$(INSTALL_ROOT)/$$d" ]; then rmdir "$(INSTALL_ROOT)/$$d" || exit 1; fi; \
	done

-include guest/guest.mk
-include guest/lang/lang.mk
-include tests/tests.mk
-include tests/fuzz.mk
-include bench/bench.mk

# The benchmarks' yardsticks (QEMU, lua5.4) and plots (gnuplot) are Debian packages too.
bench bench-startup bench-clone bench-density bench-lua bench-harness bench-cache bench-dedup \
bench-ipc: | $(BUILD)/.deps-BENCH
.PRECIOUS: $(BUILD)/.deps-BUILD $(BUILD)/.deps-BENCH

# The main job: one guest, then the point of mvmm: 1,000 live instances sharing one
# image, against private copies (100 of them: 1,000 would need 16 GiB), then clones.
demo: all | $(BUILD)/.deps-TEST
	@echo "== one guest: $(BUILD)/mvmm run $(BUILD)/guest/hello.elf"
	@$(BUILD)/mvmm run $(BUILD)/guest/hello.elf
	@echo
	@echo "== an unmodified Linux program: busybox sh, a host tree shown read-only at /data"
	@$(BUILD)/mvmm run --dir $(CURDIR)/guest/examples:/data /bin/busybox sh -c \
		'cd /data; for f in hello.c args.c; do n=0; while read -r l; do n=$$((n+1)); done < $$f; \
		echo "$$PWD/$$f: $$n lines"; done'
	@$(BUILD)/mvmm run --dir $(CURDIR)/guest/examples:/data /bin/busybox sha256sum /data/hello.c
	@echo
	@echo "== Debian's own lua5.4 and python3, unmodified; their libraries mapped once for all guests"
	@$(BUILD)/mvmm run /usr/bin/lua5.4 -e 'print("lua5.4 says " .. _VERSION)'
	@$(BUILD)/mvmm run --dir /usr/lib/python3.11 /usr/bin/python3 -c \
		'import sys, json; print("python3 says", json.dumps(sys.version_info[:3]))'
	@echo
	@echo "== lua5.4 as a template: serve boots it once; each launch is a clone running its stdin"
	@sock=$$(mktemp -u /tmp/mvmm-demo.XXXXXX); \
	$(BUILD)/mvmm serve --socket $$sock --ready-on=stdin /usr/bin/lua5.4 - & pid=$$!; \
	for i in $$(seq 200); do [ -S $$sock ] && break; sleep 0.05; done; \
	for s in 'print(1+1)' 'print(("clone"):upper(), 2^10)'; do \
		echo "\$$ echo '$$s' | mvmm launch --socket $$sock"; \
		echo "$$s" | $(BUILD)/mvmm launch --socket $$sock; done; \
	kill $$pid; wait $$pid 2>/dev/null; rm -f $$sock; true
	@echo
	@echo "== 1,000 held instances of density.elf (16 MiB image each reads) sharing one image"
	@$(BUILD)/mvmm run --count 1000 --hold --stats $(BUILD)/guest/density.elf
	@echo
	@echo "== 100 held instances, each with a private copy of the image (--no-share)"
	@$(BUILD)/mvmm run --count 100 --hold --stats --no-share $(BUILD)/guest/density.elf
	@echo
	@echo "== a template booted once (builds a 4 MiB table), then 5 clones resume from ready"
	@$(BUILD)/mvmm run --template --count 5 $(BUILD)/guest/ready.elf

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
