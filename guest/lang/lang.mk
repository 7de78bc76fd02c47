# lang.mk: the Lua subset interpreter guest, $(BUILD)/guest/lua.elf.
# Included by the top Makefile after guest/guest.mk (uses GUEST_CC and GUEST_SDK_DEPS).
LUA_SRCS := guest/lang/lobj.c guest/lang/lnum.c guest/lang/lparse.c guest/lang/lvm.c \
	    guest/lang/llib.c guest/lang/lmain.c
LUA_HDRS := guest/lang/lua.h guest/lang/lopcodes.h

$(BUILD)/guest/lua.elf: $(LUA_SRCS) $(LUA_HDRS) $(GUEST_SDK_DEPS)
	@mkdir -p $(@D)
	$(GUEST_CC) -std=c11 -O2 -g -Wall -Wextra -Werror -fno-plt -o $@ $(LUA_SRCS)
