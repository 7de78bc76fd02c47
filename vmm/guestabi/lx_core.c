/*
 * lx_core.c: an ELF core file of a Linux guest that faulted, aborted or
 * was killed by a signal that dumps core on Linux, as Linux writes one:
 * ET_CORE, a PT_NOTE with NT_PRSTATUS (the registers the fault saw),
 * NT_PRFPREG (x87, MXCSR, XMM), NT_PRPSINFO, NT_AUXV and NT_FILE (the
 * program's and its loader's mappings), and a PT_LOAD for each range of the guest's address space
 * (program, loader, heap, mmap's mappings, stack) with its pages as the
 * guest's page tables let it see them. `gdb PROGRAM CORE` opens it.
 *
 * Written at the end of the run on the vCPU's thread, the VM still whole:
 * openat (O_CREAT|O_EXCL|O_NOFOLLOW, 0600) under a directory fd the
 * caller opened and checked, pwrite and ftruncate: calls the vCPU's
 * seccomp list has for Linux guests. Pages of zeros are left as holes.
 */
#define _GNU_SOURCE
#include "lx_int.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/procfs.h>
#include <sys/user.h>
#include <unistd.h>

#include "core/gwalk.h"
#include "core/layout.h"
#include "core/vcpu_regs.h"
#include "load/image.h"

#define PG	      4096ull
#define CORE_AUXV_MAX 64		 /* auxiliary vector entries copied */
#define CORE_NOTES    (4096 + 64 * 1024) /* bytes of notes at most (NT_FILE's names are most) */

struct core_range {
	uint64_t start, end;
	unsigned acc; /* GWALK_* */
};

struct core_ranges {
	struct core_range *r;
	size_t n, cap;
};

static int core_range_add(struct core_ranges *rs, uint64_t start, uint64_t end, unsigned acc)
{
	if (rs->n && rs->r[rs->n - 1].end == start && rs->r[rs->n - 1].acc == acc) {
		rs->r[rs->n - 1].end = end;
		return 0;
	}
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 32;
		struct core_range *r = realloc(rs->r, cap * sizeof(*r));

		if (!r)
			return -1;
		rs->r = r;
		rs->cap = cap;
	}
	rs->r[rs->n++] = (struct core_range){start, end, acc};
	return 0;
}

static int core_cmp(const void *a, const void *b)
{
	const struct core_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/*
 * The guest's address space as page-granular ranges of one access each:
 * the areas the process has (sorted, overlaps merged), then each page as
 * the page tables give it (not present: left out).
 */
static int core_layout(const struct vm *vm, const struct lx_proc *p, struct core_ranges *out)
{
	const struct image *img = vm->img;
	struct core_ranges areas = {0};
	uint64_t guard = layout_guard_page(vm->mem.size);
	int ret = -1;

	if ((img && img->prog.nsegs && core_range_add(&areas, img->prog.lo, img->prog.hi, 0) < 0) ||
	    (img && img->interp.nsegs &&
	     core_range_add(&areas, img->interp.lo, img->interp.hi, 0) < 0) ||
	    (p->brk > p->brk_start && core_range_add(&areas, p->brk_start, p->brk, 0) < 0) ||
	    core_range_add(&areas, guard + PG, vm->mem.size, 0) < 0)
		goto out;
	for (size_t i = 0; i < p->nvmas; i++)
		if (core_range_add(&areas, p->vmas[i].start, p->vmas[i].end, 0) < 0)
			goto out;
	qsort(areas.r, areas.n, sizeof(*areas.r), core_cmp);
	for (size_t i = 0; i < areas.n; i++) {
		uint64_t pg = areas.r[i].start & ~(PG - 1);

		if (i && out->n && pg < out->r[out->n - 1].end)
			pg = out->r[out->n - 1].end; /* overlaps the area before */
		for (; pg < areas.r[i].end && pg < vm->mem.size; pg += PG) {
			unsigned acc = gwalk_user(&vm->mem, pg);

			if (acc && core_range_add(out, pg, pg + PG, acc) < 0)
				goto out;
		}
	}
	ret = 0;
out:
	free(areas.r);
	return ret;
}

/* The signal Linux would have sent for the way the run ended; 0: no core file. */
static int core_signal(const struct vm *vm)
{
	const struct vm_result *res = vm->res;
	int sig;

	if (res->end == VM_END_ABORT)
		return SIGABRT;
	if (res->end == VM_END_EXIT) {
		sig = res->status - 128;
		if (strncmp(res->message, "killed by ", 10))
			return 0;
		return sig == SIGQUIT || sig == SIGILL || sig == SIGTRAP || sig == SIGABRT ||
				       sig == SIGBUS || sig == SIGFPE || sig == SIGSEGV ||
				       sig == SIGXCPU || sig == SIGXFSZ || sig == SIGSYS
			       ? sig
			       : 0;
	}
	if (res->end != VM_END_FAULT)
		return 0;
	if (res->fault.triple)
		return SIGSEGV;
	switch (res->fault.vector) {
	case 0:
	case 16:
	case 19:
		return SIGFPE;
	case 1:
	case 3:
		return SIGTRAP;
	case 6:
		return SIGILL;
	case 17:
		return SIGBUS;
	default:
		return SIGSEGV;
	}
}

/* The registers as the guest had them: the fault's frame, or the system call that ended it. */
static int core_regs(struct vm *vm, struct user_regs_struct *u)
{
	const struct vm_fault *f = &vm->res->fault;
	struct kvm_regs r;
	struct kvm_sregs sr;

	if (vm->res->end == VM_END_FAULT) {
		r = f->regs;
		r.rip = f->rip;
		r.rsp = f->rsp;
		r.rflags = f->rflags;
	} else {
		const struct kvm_regs *now = vcpu_regs_get(vm);

		if (!now)
			return -1;
		r = *now;
		r.rip = r.rcx; /* `syscall` left the return address in rcx, rflags in r11 */
		r.rflags = r.r11;
	}
	memset(u, 0, sizeof(*u));
	u->r15 = r.r15, u->r14 = r.r14, u->r13 = r.r13, u->r12 = r.r12;
	u->rbp = r.rbp, u->rbx = r.rbx, u->r11 = r.r11, u->r10 = r.r10;
	u->r9 = r.r9, u->r8 = r.r8, u->rax = r.rax, u->rcx = r.rcx;
	u->rdx = r.rdx, u->rsi = r.rsi, u->rdi = r.rdi, u->orig_rax = ~0ull;
	u->rip = r.rip, u->eflags = r.rflags, u->rsp = r.rsp;
	u->cs = 0x33, u->ss = 0x2b; /* Linux's user selectors, as gdb expects them */
	if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sr) == 0) {
		u->fs_base = sr.fs.base;
		u->gs_base = sr.gs.base;
	}
	return 0;
}

/* Appends one note (name "CORE") to buf at *len; -1 when it does not fit. */
static int core_note(uint8_t *buf, size_t *len, uint32_t type, const void *desc, size_t dlen)
{
	Elf64_Nhdr nh = {.n_namesz = 5, .n_descsz = (uint32_t)dlen, .n_type = type};
	size_t need = sizeof(nh) + 8 + ((dlen + 3) & ~(size_t)3);

	if (*len + need > CORE_NOTES)
		return -1;
	memcpy(buf + *len, &nh, sizeof(nh));
	memcpy(buf + *len + sizeof(nh), "CORE\0\0\0", 8);
	memcpy(buf + *len + sizeof(nh) + 8, desc, dlen);
	*len += need;
	return 0;
}

/*
 * NT_PRFPREG: x87, MXCSR and XMM registers, the FXSAVE image that opens
 * KVM's XSAVE area (user_fpregs_struct). The fault's stub touches none of
 * them: they are the guest's. Left out (0) if KVM will not give them.
 */
static int core_fpregs(struct vm *vm, uint8_t *buf, size_t *len)
{
	struct kvm_xsave *xs = malloc(sizeof(*xs));
	struct user_fpregs_struct fp;
	int ret = 0;

	_Static_assert(sizeof(fp) == 512, "user_fpregs_struct is the FXSAVE image");
	if (xs && ioctl(vm->vcpu_fd, KVM_GET_XSAVE, xs) == 0) {
		memcpy(&fp, xs->region, sizeof(fp));
		ret = core_note(buf, len, NT_PRFPREG, &fp, sizeof(fp));
	}
	free(xs);
	return ret;
}

/* NT_FILE: the program's and its loader's file-backed segments, so gdb can name them. */
static size_t core_nt_file(const struct image *img, uint8_t *d, size_t cap)
{
	const struct elfload_program *progs[2] = {&img->prog, &img->interp};
	const char *paths[2] = {img->needed.exe ? img->needed.exe : img->name, NULL};
	uint64_t *w = (uint64_t *)d, count = 0;
	size_t names = 0, n = 0;

	for (size_t i = 0; i < img->needed.n && img->prog.interp; i++)
		if (!strcmp(img->needed.files[i].guest, img->prog.interp))
			paths[1] = img->needed.files[i].host;
	for (int k = 0; k < 2; k++)
		for (size_t s = 0; paths[k] && s < progs[k]->nsegs; s++)
			count++;
	if (16 + count * 24 > cap)
		return 0;
	w[0] = count;
	w[1] = PG;
	n = 16 + count * 24;
	for (int k = 0; k < 2; k++)
		for (size_t s = 0; paths[k] && s < progs[k]->nsegs; s++) {
			const struct elfload_segment *g = &progs[k]->segs[s];
			size_t l = strlen(paths[k]) + 1;

			w[2 + names * 3] = g->gpa & ~(PG - 1);
			w[3 + names * 3] = (g->gpa + g->memsz + PG - 1) & ~(PG - 1);
			w[4 + names * 3] = g->offset / PG;
			names++;
			if (n + l > cap)
				return 0;
			memcpy(d + n, paths[k], l);
			n += l;
		}
	return n;
}

/* The notes: NT_PRSTATUS, NT_PRPSINFO, NT_AUXV, NT_FILE. */
static int core_notes(struct vm *vm, const struct lx_proc *p, int sig, uint8_t *buf, size_t *len)
{
	const struct image *img = vm->img;
	const char *exe = img && img->name ? img->name : "guest";
	const char *base = strrchr(exe, '/') ? strrchr(exe, '/') + 1 : exe;
	struct elf_prstatus st = {0};
	struct elf_prpsinfo ps = {0};
	struct user_regs_struct u;
	uint8_t *file = malloc(CORE_NOTES);
	size_t flen;
	int ret = -1;

	if (!file || core_regs(vm, &u) < 0)
		goto out;
	st.pr_info.si_signo = sig;
	st.pr_cursig = (short)sig;
	st.pr_pid = st.pr_ppid = st.pr_pgrp = st.pr_sid = 1;
	_Static_assert(sizeof(st.pr_reg) == sizeof(u), "elf_gregset_t is user_regs_struct");
	memcpy(&st.pr_reg, &u, sizeof(u));
	ps.pr_sname = 'R';
	ps.pr_pid = ps.pr_ppid = ps.pr_pgrp = ps.pr_sid = 1;
	snprintf(ps.pr_fname, sizeof(ps.pr_fname), "%s", base);
	snprintf(ps.pr_psargs, sizeof(ps.pr_psargs), "%s", exe);
	if (core_note(buf, len, NT_PRSTATUS, &st, sizeof(st)) < 0 ||
	    core_fpregs(vm, buf, len) < 0 || core_note(buf, len, NT_PRPSINFO, &ps, sizeof(ps)) < 0)
		goto out;
	if (p->auxv_gva) {
		uint64_t auxv[2 * CORE_AUXV_MAX];
		size_t n = 0;

		for (; n < CORE_AUXV_MAX; n++) {
			const uint64_t *e = gwalk_user_ptr(&vm->mem, p->auxv_gva + n * 16, 16);

			if (!e)
				break;
			auxv[2 * n] = e[0];
			auxv[2 * n + 1] = e[1];
			if (e[0] == AT_NULL) {
				n++;
				break;
			}
		}
		if (n && core_note(buf, len, NT_AUXV, auxv, n * 16) < 0)
			goto out;
	}
	if (img && (flen = core_nt_file(img, file, CORE_NOTES - 4096)) &&
	    core_note(buf, len, NT_FILE, file, flen) < 0)
		goto out;
	ret = 0;
out:
	free(file);
	return ret;
}

static int core_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, buf, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf = (const uint8_t *)buf + n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int core_zero_page(const uint8_t *pg)
{
	static const uint8_t zero[PG];

	return !memcmp(pg, zero, PG);
}

/* The whole file into fd: header, program headers, notes, then each range's pages. */
static int core_write(struct vm *vm, int fd, int sig, uint64_t *size)
{
	struct lx_proc *p = vm->lx;
	struct core_ranges rs = {0};
	uint8_t *notes = malloc(CORE_NOTES);
	size_t nlen = 0, nph;
	Elf64_Ehdr eh = {0};
	Elf64_Phdr *ph = NULL;
	uint64_t off;
	int ret = -1;

	if (!notes || core_layout(vm, p, &rs) < 0 || core_notes(vm, p, sig, notes, &nlen) < 0)
		goto out;
	nph = 1 + rs.n;
	ph = calloc(nph, sizeof(*ph));
	if (!ph || nph > 0xfffe)
		goto out;
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
	eh.e_type = ET_CORE;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(*ph);
	eh.e_phnum = (Elf64_Half)nph;
	off = sizeof(eh) + nph * sizeof(*ph);
	ph[0] = (Elf64_Phdr){.p_type = PT_NOTE, .p_offset = off, .p_filesz = nlen, .p_align = 4};
	off = (off + nlen + PG - 1) & ~(PG - 1);
	for (size_t i = 0; i < rs.n; i++) {
		uint64_t len = rs.r[i].end - rs.r[i].start;
		unsigned a = rs.r[i].acc;

		ph[1 + i] = (Elf64_Phdr){
			.p_type = PT_LOAD,
			.p_flags = PF_R | (a & GWALK_W ? PF_W : 0) | (a & GWALK_X ? PF_X : 0),
			.p_offset = off,
			.p_vaddr = rs.r[i].start,
			.p_filesz = len,
			.p_memsz = len,
			.p_align = PG,
		};
		for (uint64_t pg = 0; pg < len; pg += PG) {
			const uint8_t *src = gmem_ptr(&vm->mem, rs.r[i].start + pg, PG);

			if (src && !core_zero_page(src) && core_pwrite(fd, src, PG, off + pg) < 0)
				goto out;
		}
		off += len;
	}
	if (core_pwrite(fd, &eh, sizeof(eh), 0) < 0 ||
	    core_pwrite(fd, ph, nph * sizeof(*ph), sizeof(eh)) < 0 ||
	    core_pwrite(fd, notes, nlen, ph[0].p_offset) < 0 || ftruncate(fd, (off_t)off) < 0)
		goto out;
	*size = off;
	ret = 0;
out:
	free(ph);
	free(rs.r);
	free(notes);
	return ret;
}

/* Adds "core file: ..." to the result: a line of the crash report, or the abort's message. */
static void core_tell(struct vm *vm, const char *what)
{
	struct vm_result *res = vm->res;
	size_t have = res->report ? strlen(res->report) : 0;
	char *r;

	if (res->end == VM_END_FAULT && res->report) {
		r = realloc(res->report, have + strlen(what) + 14);
		if (!r)
			return;
		sprintf(r + have, "core file: %s\n", what);
		res->report = r;
		return;
	}
	have = strlen(res->message);
	snprintf(res->message + have, sizeof(res->message) - have, "; core file %s", what);
}

void lx_core_run_end(struct vm *vm)
{
	const struct vm_core_file *c = vm->core;
	char name[512], shown[1024], what[1200];
	uint64_t size = 0;
	int sig, fd;

	if (!c || !vm->lx || !vm->res || !(sig = core_signal(vm)))
		return;
	if (c->per_instance)
		snprintf(name, sizeof(name), "%s%lu", c->name, (unsigned long)vm->instance);
	else
		snprintf(name, sizeof(name), "%s", c->name);
	snprintf(shown, sizeof(shown), "%s%s%s", c->shown ? c->shown : "",
		 c->shown && *c->shown && c->shown[strlen(c->shown) - 1] != '/' ? "/" : "", name);
	fd = openat(c->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(what, sizeof(what), "not written: %s: %s", shown, strerror(errno));
		core_tell(vm, what);
		return;
	}
	if (core_write(vm, fd, sig, &size) < 0) {
		snprintf(what, sizeof(what), "not written: %s: %s", shown,
			 errno ? strerror(errno) : "out of memory");
		unlinkat(c->dirfd, name, 0); /* no half a core file */
	} else {
		snprintf(what, sizeof(what), "written to %s (%lu KiB)", shown,
			 (unsigned long)(size >> 10));
	}
	close(fd);
	core_tell(vm, what);
}
