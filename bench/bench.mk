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
$(BENCH_DIR)/clone: bench/clone.c $(BUILD)/libmvmm.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libmvmm.a $(LDLIBS)

.PHONY: bench-clone bench-density bench
bench-clone: $(BENCH_DIR)/clone $(BENCH_DIR)/kvm_floor $(BUILD)/mvmm $(BUILD)/guest/ready.elf
	$(BENCH_DIR)/clone $(BUILD) 1000

bench-density: $(BUILD)/mvmm $(BUILD)/guest/density.elf
	BUILD=$(BUILD) bash bench/density.sh

# 10,000 test cases through the public API against fork()ed host children (links libmvmm.a).
$(BENCH_DIR)/harness: bench/harness.c vmm/mvmm.h $(BUILD)/libmvmm.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Ivmm -o $@ $< $(BUILD)/libmvmm.a $(LDLIBS)

.PHONY: bench-harness
bench-harness: $(BENCH_DIR)/harness $(BUILD)/tests/harness/cases.elf
	$(BENCH_DIR)/harness $(BUILD)/tests/harness/cases.elf 10000 2

bench: bench-startup bench-clone bench-density bench-harness

.DEFAULT_GOAL := $(BENCH_SAVED_DEFAULT_GOAL)
