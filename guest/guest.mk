# guest.mk: the guest SDK (the mvmm guest library, headers, linker script), the mvmm-cc
# wrapper around musl-gcc, and the example guests.
#
# Included by the top Makefile, which defines BUILD, CC and SHARED_INC.
# Other fragments build their own guests with
#	$(BUILD)/x.elf: x.c $(GUEST_SDK_DEPS) ; $(GUEST_CC) -O2 -o $@ $<

GUEST_SDK_DIR  := guest/sdk
GUEST_SDK_OUT  := $(BUILD)/guest/sdk
GUEST_CC       := $(BUILD)/bin/mvmm-cc
GUEST_LIB      := $(GUEST_SDK_OUT)/libmvmm-guest.a
GUEST_LDSCRIPT := $(GUEST_SDK_OUT)/mvmm.ld
GUEST_SDK_DEPS := $(GUEST_CC) $(GUEST_LIB) $(GUEST_LDSCRIPT)

GUEST_LIB_SRCS := calls.c ring.c
GUEST_LIB_OBJS := $(GUEST_LIB_SRCS:%.c=$(GUEST_SDK_OUT)/lib/%.o)

GUEST_EXAMPLES := $(BUILD)/guest/hello.elf $(BUILD)/guest/exitcode.elf $(BUILD)/guest/fault.elf \
		  $(BUILD)/guest/spin.elf $(BUILD)/guest/args.elf $(BUILD)/guest/density.elf \
		  $(BUILD)/guest/ready.elf $(BUILD)/guest/lua.elf $(BUILD)/guest/stages.elf \
		  $(BUILD)/guest/dupfill.elf $(BUILD)/guest/bigimage.elf \
		  $(BUILD)/guest/producer.elf $(BUILD)/guest/consumer.elf

# musl-gcc is a script that runs gcc with a specs file in musl's library directory; mvmm-cc
# names musl's start files itself (musl-gcc's specs have no static PIE), and gcc's crtbeginS.o.
# Deferred (=): on a fresh machine musl-tools is only installed by the .deps-BUILD step.
GUEST_MUSL_GCC    = $(or $(shell command -v musl-gcc 2>/dev/null),musl-gcc)
GUEST_MUSL_LIBDIR = $(patsubst %/,%,$(dir $(shell sed -n 's/.*-specs "\([^"]*\)".*/\1/p' \
			$(GUEST_MUSL_GCC) 2>/dev/null)))
GUEST_GCC_LIBDIR := $(patsubst %/,%,$(dir $(shell $(CC) -print-libgcc-file-name)))

# The library is built -fPIE so that it links into both ET_EXEC and static-PIE guests.
GUEST_LIB_CFLAGS   := -std=c11 -O2 -g -Wall -Wextra -Werror -fPIE -D_DEFAULT_SOURCE
# -I, not -isystem, for our own headers: -MMD leaves system headers out of .d files.
GUEST_LIB_CPPFLAGS := -I$(GUEST_SDK_DIR)/include -I$(SHARED_INC) -MMD -MP

.PHONY: guest guest-sdk
guest: $(GUEST_EXAMPLES)
guest-sdk: $(GUEST_SDK_DEPS)

$(GUEST_SDK_OUT)/lib/%.o: $(GUEST_SDK_DIR)/lib/%.c | $(BUILD)/.deps-BUILD
	@mkdir -p $(@D)
	$(GUEST_MUSL_GCC) $(GUEST_LIB_CPPFLAGS) $(GUEST_LIB_CFLAGS) -c $< -o $@

$(GUEST_LIB): $(GUEST_LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(GUEST_LDSCRIPT): $(GUEST_SDK_DIR)/mvmm.ld
	@mkdir -p $(@D)
	cp $< $@

# The wrapper gets the build tree's absolute paths; an install overrides them by layout.
$(GUEST_CC): guest/mvmm-cc.in guest/guest.mk | $(BUILD)/.deps-BUILD
	@mkdir -p $(@D)
	@test -f "$(GUEST_MUSL_LIBDIR)/rcrt1.o" || \
		{ echo "mvmm-cc needs musl-gcc (Debian: musl-tools)"; exit 1; }
	sed -e 's|@MVMM_MUSL_GCC@|$(GUEST_MUSL_GCC)|g' \
	    -e 's|@MVMM_MUSL_LIBDIR@|$(GUEST_MUSL_LIBDIR)|g' \
	    -e 's|@MVMM_GCC_LIBDIR@|$(GUEST_GCC_LIBDIR)|g' \
	    -e 's|@MVMM_SDK_LIBDIR@|$(abspath $(GUEST_SDK_OUT))|g' \
	    -e 's|@MVMM_SDK_INCDIR@|$(abspath $(GUEST_SDK_DIR)/include)|g' \
	    -e 's|@MVMM_ABI_INCDIR@|$(abspath $(SHARED_INC))|g' $< >$@.tmp
	chmod +x $@.tmp
	mv $@.tmp $@

# Any guest/examples/NAME.c becomes $(BUILD)/guest/NAME.elf. -MD, not
# -MMD: mvmm-cc passes the SDK headers as system headers.
$(BUILD)/guest/%.elf: guest/examples/%.c $(GUEST_SDK_DEPS)
	@mkdir -p $(@D)
	$(GUEST_CC) -O2 -g -Wall -Wextra -Werror -MD -MP -MF $(@:.elf=.d) -MT $@ $< -o $@
