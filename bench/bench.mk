# bench/bench.mk: start-up benchmark (GNU make fragment, included by the
# top Makefile, which defines BUILD, CC and CFLAGS).
#
#   make bench-startup        build the helpers and run bench/startup.sh
#   RUNS=200 make bench-startup
#
# Builds $(BUILD)/bench/kvm_floor (raw-KVM floor), $(BUILD)/bench/spawn_time
# (process timer) and $(BUILD)/bench/qemu-pvh.elf (the QEMU microvm PVH
# guest, from bench/qemu-guest/).

BENCH_SAVED_DEFAULT_GOAL := $(.DEFAULT_GOAL)

BENCH_DIR := $(BUILD)/bench
BENCH_QEMU_GUEST := $(BENCH_DIR)/qemu-pvh.elf
BENCH_STARTUP_DEPS := $(BENCH_DIR)/kvm_floor $(BENCH_DIR)/spawn_time $(BENCH_QEMU_GUEST)
BENCH_LD ?= ld

$(BENCH_DIR)/kvm_floor: bench/kvm_floor.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

$(BENCH_DIR)/spawn_time: bench/spawn_time.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

# 32-bit ELF with a XEN_ELFNOTE_PHYS32_ENTRY note; assembled only, no libc.
$(BENCH_DIR)/qemu-pvh.o: bench/qemu-guest/pvh.S
	@mkdir -p $(@D)
	$(CC) -m32 -c -o $@ $<

$(BENCH_QEMU_GUEST): $(BENCH_DIR)/qemu-pvh.o bench/qemu-guest/pvh.ld
	$(BENCH_LD) -m elf_i386 -nostdlib --build-id=none -T bench/qemu-guest/pvh.ld -o $@ $<

.PHONY: bench-startup
bench-startup: $(BUILD)/mvmm $(BUILD)/guest/hello.elf $(BENCH_STARTUP_DEPS)
	BUILD=$(BUILD) bash bench/startup.sh

# In-process clone latency and throughput (links the library).
$(BENCH_DIR)/clone: bench/clone.c bench/bench_image.h $(LIB_INT)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB_INT) $(LDLIBS)

# Lua guest: clone+run latency, server, host lua5.4 and cold runs; compute scripts.
$(BENCH_DIR)/lua_clone: bench/lua_clone.c bench/bench_image.h $(LIB_INT)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB_INT) $(LDLIBS)

.PHONY: bench-lua
bench-lua: $(BENCH_DIR)/lua_clone $(BENCH_DIR)/spawn_time $(BENCH_DIR)/touch_floor $(BUILD)/mvmm \
		$(BUILD)/guest/lua.elf
	BUILD=$(BUILD) bash bench/lua.sh

# First read of a shared page under raw KVM, 4 KiB or THP host pages (the huge-page floor).
$(BENCH_DIR)/touch_floor: bench/touch_floor.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

# A direct `mvmm serve` client (threads, no process per request) for bench/clone_workers.sh.
$(BENCH_DIR)/clone_client: bench/clone_client.c $(LIB_INT)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB_INT) $(LDLIBS)

.PHONY: bench-clone bench-density bench
bench-clone: $(BENCH_DIR)/clone $(BENCH_DIR)/kvm_floor $(BENCH_DIR)/touch_floor $(BUILD)/mvmm \
		$(BUILD)/guest/ready.elf $(BUILD)/tests/guests/served.elf $(BENCH_DIR)/clone_client
	BUILD=$(BUILD) bash bench/clone.sh
	BUILD=$(BUILD) bash bench/clone_workers.sh

bench-density: $(BUILD)/mvmm $(BUILD)/guest/density.elf $(BENCH_DIR)/touch_floor
	BUILD=$(BUILD) bash bench/density.sh

# 10,000 test cases through the public API against fork()ed host children (links libmvmm.a).
$(BENCH_DIR)/harness: bench/harness.c vmm/api/mvmm.h $(BUILD)/libmvmm.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Ivmm/api -o $@ $< $(BUILD)/libmvmm.a $(LDLIBS)

.PHONY: bench-harness
bench-harness: $(BENCH_DIR)/harness $(BUILD)/tests/harness/cases.elf
	$(BENCH_DIR)/harness $(BUILD)/tests/harness/cases.elf 10000 2

# mvmm's dedup pass against KSM (needs root for /sys/kernel/mm/ksm).
$(BENCH_DIR)/dedup: bench/dedup.c $(LIB_INT)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB_INT) $(LDLIBS)

.PHONY: bench-dedup
bench-dedup: $(BENCH_DIR)/dedup $(BUILD)/guest/dupfill.elf
	BUILD=$(BUILD) bash bench/dedup.sh

# The persistent image cache: start cold / first / cached, and 100 processes' memory.
.PHONY: bench-cache
bench-cache: $(BUILD)/mvmm $(BUILD)/guest/bigimage.elf
	BUILD=$(BUILD) bash bench/cache.sh

# Guest-to-guest messages over a shared region, against a pipe and a Unix socket (links the internal archive).
$(BENCH_DIR)/ipc: bench/ipc.c $(LIB_INT)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(LIB_INT) $(LDLIBS)

$(BENCH_DIR)/ipc_pingpong.elf: bench/ipc_pingpong.c $(GUEST_SDK_DEPS)
	@mkdir -p $(@D)
	$(GUEST_CC) -O2 -Wall -Wextra -Werror -o $@ $<

.PHONY: bench-ipc
bench-ipc: $(BENCH_DIR)/ipc $(BENCH_DIR)/ipc_pingpong.elf $(BUILD)/guest/producer.elf \
	   $(BUILD)/guest/consumer.elf
	$(BENCH_DIR)/ipc $(BUILD) $${RUNS:-5}

# Unmodified static Linux programs (musl-gcc -static, Debian's busybox-static) under mvmm
# against the same programs natively: start-up, system-call round trip against the raw
# exit (exit_floor), held busybox sh against host processes (host_hold), output, clones.
BENCH_LINUX_PROGS := $(patsubst bench/linux_progs/%.c,$(BENCH_DIR)/linux_%,$(wildcard bench/linux_progs/*.c))
BENCH_MUSL_CC ?= musl-gcc
DEPS_BENCH += musl-tools busybox-static

$(BENCH_DIR)/linux_%: bench/linux_progs/%.c | $(BUILD)/.deps-BENCH
	@mkdir -p $(@D)
	$(BENCH_MUSL_CC) -static -O2 -Wall -Wextra -Werror -o $@ $<

$(BENCH_DIR)/exit_floor: bench/exit_floor.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

$(BENCH_DIR)/host_hold: bench/host_hold.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

# Clones of a Linux program's template through the public API (links libmvmm.a).
$(BENCH_DIR)/linux_clone: bench/linux_clone.c vmm/api/mvmm.h $(BUILD)/libmvmm.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Ivmm/api -o $@ $< $(BUILD)/libmvmm.a $(LDLIBS)

# The package check runs again when this file changes (DEPS_BENCH grows here).
$(BUILD)/.deps-BENCH: bench/bench.mk

.PHONY: bench-linux
bench-linux: $(BUILD)/mvmm $(BUILD)/guest/hello.elf $(BENCH_DIR)/spawn_time $(BENCH_DIR)/exit_floor \
		$(BENCH_DIR)/host_hold $(BENCH_DIR)/linux_clone $(BUILD)/guest/ready.elf $(BENCH_LINUX_PROGS) \
		| $(BUILD)/.deps-BENCH
	BUILD=$(BUILD) bash bench/linux.sh

# Debian's dynamic lua5.4 and python3 under mvmm (clones in-process and through serve/launch,
# held python3 memory, compute) against host processes, a python3 fork server and forked children.
$(BENCH_DIR)/interp_clone: bench/interp_clone.c vmm/api/mvmm.h $(BUILD)/libmvmm.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Ivmm/api -o $@ $< $(BUILD)/libmvmm.a $(LDLIBS)

$(BENCH_DIR)/interp_fs_client: bench/interp_progs/fs_client.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -o $@ $<

DEPS_BENCH += python3

.PHONY: bench-interp
bench-interp: $(BUILD)/mvmm $(BENCH_DIR)/spawn_time $(BENCH_DIR)/host_hold $(BENCH_DIR)/interp_clone \
		$(BENCH_DIR)/interp_fs_client | $(BUILD)/.deps-BENCH
	BUILD=$(BUILD) bash bench/interp.sh

bench: bench-startup bench-clone bench-density bench-lua bench-harness bench-cache bench-dedup bench-ipc \
	bench-linux bench-interp

.DEFAULT_GOAL := $(BENCH_SAVED_DEFAULT_GOAL)
