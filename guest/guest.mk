# guest.mk: the guest SDK (crt0, libc, linker script), the mvmm-cc wrapper and example guests.
#
# Included by the top Makefile, which defines BUILD, CC and SHARED_INC.
# Other fragments build their own guests with
#	$(BUILD)/x.elf: x.c $(GUEST_SDK_DEPS) ; $(GUEST_CC) -O2 -o $@ $<

GUEST_SDK_DIR  := guest/sdk
GUEST_SDK_OUT  := $(BUILD)/guest/sdk
GUEST_CC       := $(BUILD)/bin/mvmm-cc
GUEST_CRT0     := $(GUEST_SDK_OUT)/crt0.o
GUEST_LIBC     := $(GUEST_SDK_OUT)/libmvmmc.a
GUEST_LDSCRIPT := $(GUEST_SDK_OUT)/mvmm.ld
GUEST_SDK_DEPS := $(GUEST_CC) $(GUEST_LIBC) $(GUEST_CRT0) $(GUEST_LDSCRIPT)

GUEST_LIBC_SRCS := ctype.c format.c malloc.c stdio.c stdlib.c string.c ring.c
GUEST_LIBC_OBJS := $(GUEST_LIBC_SRCS:%.c=$(GUEST_SDK_OUT)/libc/%.o)

GUEST_EXAMPLES := $(BUILD)/guest/hello.elf $(BUILD)/guest/exitcode.elf $(BUILD)/guest/fault.elf \
		  $(BUILD)/guest/spin.elf $(BUILD)/guest/args.elf $(BUILD)/guest/density.elf \
		  $(BUILD)/guest/ready.elf $(BUILD)/guest/lua.elf $(BUILD)/guest/stages.elf \
		  $(BUILD)/guest/dupfill.elf $(BUILD)/guest/bigimage.elf \
		  $(BUILD)/guest/producer.elf $(BUILD)/guest/consumer.elf

# The SDK itself: freestanding, no host headers, and -fPIE so the same
# objects link into both ET_EXEC and static-PIE guests. gcc turns loops
# into memcpy/memset calls unless told not to; inside memcpy that recurses.
GUEST_GCC_INC     := $(shell $(CC) -print-file-name=include)
GUEST_SDK_CFLAGS  := -std=c11 -O2 -g -Wall -Wextra -Werror -ffreestanding -fno-builtin -nostdlib \
		     -fno-stack-protector -fPIE -fno-omit-frame-pointer \
		     -fno-tree-loop-distribute-patterns
# -I, not -isystem, for our own headers: -MMD leaves system headers out of .d files.
GUEST_SDK_CPPFLAGS := -nostdinc -I$(GUEST_SDK_DIR)/include -I$(SHARED_INC) -isystem $(GUEST_GCC_INC) \
		      -MMD -MP

.PHONY: guest guest-sdk
guest: $(GUEST_EXAMPLES)
guest-sdk: $(GUEST_SDK_DEPS)

$(GUEST_SDK_OUT)/%.o: $(GUEST_SDK_DIR)/%.c
	@mkdir -p $(@D)
	$(CC) $(GUEST_SDK_CPPFLAGS) $(GUEST_SDK_CFLAGS) -c $< -o $@

$(GUEST_LIBC): $(GUEST_LIBC_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(GUEST_LDSCRIPT): $(GUEST_SDK_DIR)/mvmm.ld
	@mkdir -p $(@D)
	cp $< $@

# The wrapper gets the build tree's absolute paths; an install overrides them by layout.
$(GUEST_CC): guest/mvmm-cc.in guest/guest.mk
	@mkdir -p $(@D)
	sed -e 's|@MVMM_CC@|$(CC)|g' \
	    -e 's|@MVMM_GCC_INC@|$(GUEST_GCC_INC)|g' \
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
