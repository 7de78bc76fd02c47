/*
 * backtrace.c: a faulting guest's call stack for its crash report, with
 * elfutils' libdwfl: the program, its loader and its libraries reported
 * at their load addresses, frames unwound by DWARF CFI (libdw falls back
 * to frame pointers where a function has none) over callbacks that read
 * guest memory through the guest's own page tables, and each frame named
 * by symbol and, where the file has debug information, by file and line.
 * Runs only when a fault is reported, on the vCPU's thread: the calls
 * libdwfl makes (openat, pread, mmap) are in its seccomp list.
 */
#define _GNU_SOURCE
#include "backtrace.h"

#include <elf.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/gwalk.h"
#include "load/image.h"

#define BT_READS_MAX 8192 /* guest words one backtrace may read */
#define BT_LIBS_MAX  256  /* link_map entries followed */
#define BT_NAME_MAX  4096 /* bytes of a library's name in the link map */
#define BT_DYN_MAX   1024 /* dynamic entries searched for DT_DEBUG */

struct bt {
	const struct vm *vm;
	const struct vm_fault *f;
	uint64_t rip, rsp;
	int from_return; /* rip is a return address (the fault was a call to nowhere) */
	int given;	 /* next_thread handed out the one thread */
	unsigned reads, frames;
	uint64_t last_pc; /* the previous frame's pc */
	unsigned repeats; /* frames at last_pc not shown (a recursion) */
	FILE *out;
	Dwfl *dwfl;
};

static int bt_read(struct bt *bt, uint64_t addr, uint64_t *val)
{
	const uint64_t *p;

	if (++bt->reads > BT_READS_MAX)
		return -1;
	p = gwalk_user_ptr(&bt->vm->mem, addr, sizeof(*p));
	if (!p)
		return -1;
	memcpy(val, p, sizeof(*val));
	return 0;
}

static pid_t bt_next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	struct bt *bt = arg;

	(void)dwfl;
	if (bt->given)
		return 0;
	bt->given = 1;
	*thread_argp = bt;
	return 1;
}

static bool bt_memory_read(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result, void *arg)
{
	uint64_t v;

	(void)dwfl;
	if (bt_read(arg, addr, &v) < 0)
		return false;
	*result = v;
	return true;
}

/* The faulting frame's registers in the x86-64 DWARF numbering (0 rax ... 16 rip). */
static bool bt_set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	const struct bt *bt = arg;
	const struct kvm_regs *r = &bt->f->regs;
	Dwarf_Word regs[17] = {r->rax, r->rdx,	r->rcx, r->rbx, r->rsi, r->rdi,
			       r->rbp, bt->rsp, r->r8,	r->r9,	r->r10, r->r11,
			       r->r12, r->r13,	r->r14, r->r15, bt->rip};

	return dwfl_thread_state_registers(thread, 0, 17, regs);
}

static const Dwfl_Thread_Callbacks bt_thread_callbacks = {
	.next_thread = bt_next_thread,
	.memory_read = bt_memory_read,
	.set_initial_registers = bt_set_initial_registers,
};

/* The host file behind a guest path of the image's closure, or NULL. */
static const char *bt_host_file(const struct image *img, const char *guest)
{
	for (size_t i = 0; i < img->needed.n; i++)
		if (img->needed.files[i].guest && !strcmp(img->needed.files[i].guest, guest))
			return img->needed.files[i].host;
	return NULL;
}

static const char *bt_base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* A NUL-terminated guest string of at most BT_NAME_MAX bytes into buf, or -1. */
static int bt_read_name(struct bt *bt, uint64_t addr, char *buf)
{
	for (size_t i = 0; i < BT_NAME_MAX; i++) {
		const char *c = gwalk_user_ptr(&bt->vm->mem, addr + i, 1);

		if (!c)
			return -1;
		buf[i] = *c;
		if (!*c)
			return 0;
	}
	return -1;
}

/* The guest address of the program's r_debug (its DT_DEBUG entry, set by the loader), or 0. */
static uint64_t bt_r_debug(struct bt *bt, Dwfl_Module *exe)
{
	GElf_Addr bias = 0;
	Elf *elf = dwfl_module_getelf(exe, &bias);
	size_t n = 0;

	if (!elf || elf_getphdrnum(elf, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_DYNAMIC)
			continue;
		for (uint64_t k = 0; k < ph.p_memsz / 16 && k < BT_DYN_MAX; k++) {
			uint64_t tag, val, at = ph.p_vaddr + bias + k * 16;

			if (bt_read(bt, at, &tag) < 0 || tag == DT_NULL ||
			    bt_read(bt, at + 8, &val) < 0)
				return 0;
			if (tag == DT_DEBUG)
				return val;
		}
	}
	return 0;
}

/*
 * The libraries the guest's loader mapped, from its link map (r_debug,
 * r_map; each link_map: l_addr, l_name, l_ld, l_next). The map is the
 * guest's to write: a name is only looked up in the image's closure, so
 * nothing but the files the guest was given is ever opened.
 */
static void bt_report_libs(struct bt *bt, Dwfl_Module *exe)
{
	const struct image *img = bt->vm->img;
	uint64_t rd = bt_r_debug(bt, exe), map = 0;
	char *name = malloc(BT_NAME_MAX);

	if (!name || !rd || bt_read(bt, rd + 8, &map) < 0) {
		free(name);
		return;
	}
	for (unsigned k = 0; map && k < BT_LIBS_MAX; k++) {
		uint64_t l_addr, l_name, next;
		const char *host;

		if (bt_read(bt, map, &l_addr) < 0 || bt_read(bt, map + 8, &l_name) < 0 ||
		    bt_read(bt, map + 24, &next) < 0)
			break;
		if (l_name && bt_read_name(bt, l_name, name) == 0 && name[0] &&
		    (!img->prog.interp || strcmp(name, img->prog.interp)) &&
		    (host = bt_host_file(img, name)))
			dwfl_report_elf(bt->dwfl, bt_base_name(name), host, -1, l_addr, false);
		map = next;
	}
	free(name);
}

/* The program and its loader where the image put them, then the libraries; 0 if any. */
static int bt_report(struct bt *bt)
{
	const struct image *img = bt->vm->img;
	const char *exe, *interp = NULL;
	Dwfl_Module *mod;

	if (!img)
		return -1;
	exe = img->needed.exe ? img->needed.exe : img->name;
	dwfl_report_begin(bt->dwfl);
	mod = dwfl_report_elf(bt->dwfl, bt_base_name(exe), exe, -1,
			      img->prog.pie ? img->prog.base : 0, false);
	if (img->prog.interp && img->interp.nsegs)
		interp = bt_host_file(img, img->prog.interp);
	if (interp)
		dwfl_report_elf(bt->dwfl, bt_base_name(img->prog.interp), interp, -1,
				img->interp.base, false);
	dwfl_report_end(bt->dwfl, NULL, NULL);
	if (mod && interp) {
		dwfl_report_begin_add(bt->dwfl);
		bt_report_libs(bt, mod);
		dwfl_report_end(bt->dwfl, NULL, NULL);
	}
	return mod ? 0 : -1;
}

/*
 * One frame's line. pc is where the frame is; look is the address to name
 * (a return address less one: the call, whose line is the one wanted).
 */
static void bt_line(struct bt *bt, uint64_t pc, uint64_t look)
{
	Dwfl_Module *mod = bt->dwfl ? dwfl_addrmodule(bt->dwfl, look) : NULL;
	const char *name = NULL, *file = NULL;
	uint64_t start = 0;
	GElf_Off off = 0;
	GElf_Sym sym;
	int line = 0;

	if (mod) {
		Dwfl_Line *l = dwfl_module_getsrc(mod, look);

		name = dwfl_module_addrinfo(mod, look, &off, &sym, NULL, NULL, NULL);
		if (l)
			file = dwfl_lineinfo(l, NULL, &line, NULL, NULL, NULL);
	} else if (bt->vm->up && bt->vm->up->symbol_at &&
		   (name = bt->vm->up->symbol_at(bt->vm, look, &start))) {
		off = look - start;
	}
	fprintf(bt->out, "  #%-2u 0x%016lx in %s", bt->frames, (unsigned long)pc,
		name ? name : "??");
	if (name)
		fprintf(bt->out, "+0x%lx", (unsigned long)(off + (pc - look)));
	if (file)
		fprintf(bt->out, " (%s:%d)", file, line);
	else if (mod)
		fprintf(bt->out, " (%s)",
			dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, NULL, NULL));
	fputc('\n', bt->out);
}

/* Says how many frames of a recursion were left out. */
static void bt_repeats(struct bt *bt)
{
	if (bt->repeats)
		fprintf(bt->out, "      ... the same frame %u more time%s\n", bt->repeats,
			bt->repeats == 1 ? "" : "s");
	bt->repeats = 0;
}

static int bt_frame(Dwfl_Frame *state, void *arg)
{
	struct bt *bt = arg;
	Dwarf_Addr pc;
	bool activation;

	if (!dwfl_frame_pc(state, &pc, &activation))
		return DWARF_CB_ABORT;
	if (bt->frames == 0 && bt->from_return)
		activation = false;
	if (bt->frames > 1 && pc == bt->last_pc) {
		bt->repeats++; /* a recursion: one line for its frames, not 64 */
	} else {
		bt_repeats(bt);
		bt_line(bt, pc, activation || pc == 0 ? pc : pc - 1);
	}
	bt->last_pc = pc;
	if (++bt->frames >= BACKTRACE_FRAMES)
		return DWARF_CB_ABORT;
	return DWARF_CB_OK;
}

/* Without a module to unwind by: the chain of saved frame pointers ([rbp] next, [rbp+8] return). */
static void bt_frame_pointers(struct bt *bt)
{
	uint64_t fp = bt->f->regs.rbp, next, ret;

	bt_line(bt, bt->rip, bt->from_return ? bt->rip - 1 : bt->rip);
	for (bt->frames = 1; bt->frames < BACKTRACE_FRAMES; bt->frames++) {
		if (bt_read(bt, fp, &next) < 0 || bt_read(bt, fp + 8, &ret) < 0 ||
		    !(gwalk_user(&bt->vm->mem, ret) & GWALK_X))
			break;
		bt_line(bt, ret, ret - 1);
		if (next <= fp)
			break; /* a stack grows down: a frame further up lies higher */
		fp = next;
	}
}

/* Every module is reported with its file: nothing is looked for by name. */
static int bt_no_elf(Dwfl_Module *mod, void **userdata, const char *modname, Dwarf_Addr base,
		     char **file_name, Elf **elfp)
{
	(void)mod, (void)userdata, (void)modname, (void)base, (void)file_name, (void)elfp;
	return -1;
}

/*
 * Separate debug files only by build ID under /usr/lib/debug (Debian's
 * -dbg packages), not dwfl_standard_find_debuginfo: that one also asks
 * debuginfod, which would load libcurl and go to the network from a
 * crash report (and its seccomp filter forbids the sockets).
 */
static const Dwfl_Callbacks bt_callbacks = {
	.find_elf = bt_no_elf,
	.find_debuginfo = dwfl_build_id_find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

char *backtrace_format(const struct vm *vm, const struct vm_fault *f, uint64_t rip, uint64_t rsp)
{
	struct bt bt = {.vm = vm, .f = f, .rip = rip, .rsp = rsp, .from_return = rip != f->rip};
	char *text = NULL;
	size_t len = 0;
	int walked = 0;

	bt.out = open_memstream(&text, &len);
	if (!bt.out)
		return NULL;
	bt.dwfl = dwfl_begin(&bt_callbacks);
	if (bt.dwfl && bt_report(&bt) == 0 &&
	    dwfl_attach_state(bt.dwfl, NULL, 1, &bt_thread_callbacks, &bt)) {
		dwfl_getthread_frames(bt.dwfl, 1, bt_frame, &bt);
		walked = bt.frames > 1;
	}
	if (!walked) {
		/* libdwfl found too little: start again by frame pointers alone */
		rewind(bt.out);
		bt.frames = 0;
		bt.reads = 0;
		bt.repeats = 0;
		bt_frame_pointers(&bt);
	}
	bt_repeats(&bt);
	if (bt.frames >= BACKTRACE_FRAMES)
		fprintf(bt.out, "  (stopped after %u frames)\n", BACKTRACE_FRAMES);
	if (bt.dwfl)
		dwfl_end(bt.dwfl);
	if (fclose(bt.out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}
