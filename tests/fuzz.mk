# fuzz.mk: libFuzzer targets for the parsers of hostile input (tests/fuzz/); included by
# ../Makefile.
#
#   make fuzz                  every target FUZZ_SECONDS (60) seconds, one after another
#   make test-fuzz             every target FUZZ_TEST_SECONDS (5) seconds; part of make test
#   make build/fuzz/fuzz_NAME  one target: build/fuzz/fuzz_NAME [libFuzzer flags] DIR|FILE...
#
# tests/fuzz/fuzz_NAME.c is a target (a new one is picked up without an edit here), built with
# clang, libFuzzer, ASan and UBSan over the library compiled the same way into build/fuzz/.
# Its seeds are tests/fuzz/corpus/NAME/ (crash-* files there are fixed crashes, kept as
# regression tests) plus, for elf, guests the build makes; runs grow the working corpus
# build/fuzz/corpus/NAME/ and leave crashes in build/fuzz/artifacts/NAME/. A run that crashes
# (or leaks, times out, runs out of memory) fails the target and prints the input's path;
# reproduce it with build/fuzz/fuzz_NAME PATH, and MVMM_FUZZ_DEBUG=1 for what each input did.

FUZZ_CC   := clang
FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=undefined
# clang -Wall warns where gcc does not about two things of the library's: kvm.h structures with
# a flexible array member embedded in ours (struct vcpu_state's kvm_xsave, vcpu_state.c's
# kvm_msrs), and seccomp.h's positional SCMP_A*() initializers (core/confine.c).
FUZZ_WARN     := $(WARN) -Wno-gnu-variable-sized-type-not-at-end
FUZZ_CFLAGS   := -std=c11 -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_LDFLAGS  := $(FUZZ_SAN) -fsanitize=fuzzer

FUZZ_SECONDS      ?= 60
FUZZ_TEST_SECONDS ?= 5
# -close_fd_mask=3: the code under test prints usage lines; libFuzzer and the sanitizers still
# report (on a copy of stderr).
FUZZ_RUN_FLAGS    ?= -timeout=10 -rss_limit_mb=2048 -close_fd_mask=3 -print_final_stats=1

FUZZ_TARGETS  := $(sort $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BINS     := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
FUZZ_LIB      := $(BUILD)/fuzz/libmvmm-fuzz.a
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/fuzz/obj/%.o)
FUZZ_CLI_OBJS := $(BUILD)/fuzz/obj/vmm/cli/cli_parse.o $(BUILD)/fuzz/obj/vmm/cli/cli_shm.o

$(BUILD)/fuzz/obj/vmm/%.o: vmm/%.c | $(BUILD)/.deps-BUILD $(BUILD)/.deps-FUZZ
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) $(FUZZ_WARN) -Wno-missing-field-initializers \
		-c $< -o $@

$(BUILD)/fuzz/obj/tests/fuzz/%.o: tests/fuzz/%.c | $(BUILD)/.deps-BUILD $(BUILD)/.deps-FUZZ
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) $(FUZZ_WARN) -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

# The option parsers live with the command, not in the library.
$(BUILD)/fuzz/fuzz_options: $(FUZZ_CLI_OBJS)

$(BUILD)/fuzz/fuzz_%: $(BUILD)/fuzz/obj/tests/fuzz/fuzz_%.o $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_LDFLAGS) -o $@ $(filter %.o,$^) $(FUZZ_LIB) $(LDLIBS)

# The guests fuzz_gen_seeds strips into the elf corpus, and the dynamic programs into dynlink's.
FUZZ_ELF_SEEDS := $(BUILD)/guest/hello.elf $(BUILD)/tests/guests/hello-pie.elf \
		  $(BUILD)/tests/dynamic/origin $(BUILD)/tests/dynamic/needs-dotdot

# Seeds made from other files, into corpus $(2) of target $(1): for elf, two guests of the build
# (one keeps its symbol table) and a dynamic test program; for dynlink, two dynamic test
# programs; for snapshot, the committed base and diff as one chain (flags 3:
# hashes and parent fixed up, see fuzz_snapshot.c).
define fuzz_gen_seeds
if [ $(1) = elf ]; then \
	strip --strip-debug -o $(2)/gen-hello.elf $(BUILD)/guest/hello.elf && \
	strip -o $(2)/gen-hello-pie.elf $(BUILD)/tests/guests/hello-pie.elf && \
	strip -o $(2)/gen-origin $(BUILD)/tests/dynamic/origin || exit 1; \
fi; \
if [ $(1) = dynlink ]; then \
	strip -o $(2)/gen-origin $(BUILD)/tests/dynamic/origin && \
	strip -o $(2)/gen-needs-dotdot $(BUILD)/tests/dynamic/needs-dotdot || exit 1; \
fi; \
if [ $(1) = snapshot ] && [ -f tests/fuzz/corpus/snapshot/base ] && \
   [ -f tests/fuzz/corpus/snapshot/diff ]; then \
	{ printf '\003'; tail -c +2 tests/fuzz/corpus/snapshot/base; printf MVMMFUZZNEXTFILE; \
	  tail -c +2 tests/fuzz/corpus/snapshot/diff; } >$(2)/gen-chain; \
	{ printf '\007'; tail -c +2 tests/fuzz/corpus/snapshot/base; printf MVMMFUZZNEXTFILE; \
	  tail -c +2 tests/fuzz/corpus/snapshot/diff; } >$(2)/gen-chain-mapped; \
fi;
endef

# libFuzzer's last status line ("#N DONE cov: C ft: F corp: ...") as a summary.
FUZZ_STATS_RE  := ^\#([0-9]+)[[:space:]]+DONE[[:space:]]+cov: ([0-9]+) ft: ([0-9]+) corp: ([^ ]+).*
FUZZ_STATS_SED := s/$(FUZZ_STATS_RE)/\1 execs, cov \2, ft \3, corpus \4/p

# Runs every target for $(1) seconds over its working corpus; fails after all have run if any
# found something, naming the inputs. Each run's log is build/fuzz/NAME.log.
define fuzz_run
	@failed=""; \
	for t in $(FUZZ_TARGETS); do \
		corpus=$(BUILD)/fuzz/corpus/$$t; art=$(BUILD)/fuzz/artifacts/$$t; \
		log=$(BUILD)/fuzz/$$t.log; \
		mkdir -p $$corpus $$art; \
		cp tests/fuzz/corpus/$$t/* $$corpus/ 2>/dev/null; \
		$(call fuzz_gen_seeds,$$t,$$corpus) \
		$(BUILD)/fuzz/fuzz_$$t -max_total_time=$(1) $(FUZZ_RUN_FLAGS) \
			-artifact_prefix=$$art/ $$corpus >$$log 2>&1; rc=$$?; \
		stats=$$(sed -nE '$(FUZZ_STATS_SED)' $$log | tail -1); \
		if [ $$rc = 0 ]; then \
			echo "fuzz_$$t: $(1) s, $${stats:-no stats (see $$log)}"; \
		else \
			echo "fuzz_$$t: FAILED (exit $$rc), see $$log"; \
			grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz: invariant)' $$log | head -3 | \
				sed 's/^/    /'; \
			sed -nE 's/.*Test unit written to ([^ ]+).*/    input: \1/p' $$log; \
			failed="$$failed $$t"; \
		fi; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz: FAILED:$$failed"; exit 1; fi; \
	echo "fuzz: all $(words $(FUZZ_TARGETS)) targets ran clean"
endef

.PHONY: fuzz test-fuzz fuzz-build
fuzz-build: $(FUZZ_BINS) $(FUZZ_ELF_SEEDS)

fuzz: fuzz-build
	$(call fuzz_run,$(FUZZ_SECONDS))

test-fuzz: fuzz-build
	$(call fuzz_run,$(FUZZ_TEST_SECONDS))

test: test-fuzz

.PRECIOUS: $(BUILD)/.deps-FUZZ $(BUILD)/fuzz/obj/tests/fuzz/%.o
