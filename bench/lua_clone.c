/*
 * lua_clone.c: in-process cost of running a Lua one-liner as a clone of a lua.elf template.
 *
 *   lua_clone BUILD N CODE [reuse]   prints "p50_us,p90_us,p99_us,template_ms" on stdout
 *
 * Boots BUILD/guest/lua.elf once to its mvmm_ready() (the interpreter and its library
 * are built by then), then for each of N requests times template_clone + vm_run to the
 * guest's exit, with `-e CODE` as the clone's request (its stdout goes to /dev/null; the
 * first clone's output is checked to be non-empty). With "reuse", each clone after the
 * first resumes in the VM of the one before (template_reuse_clone, as mvmm_run does):
 * only the pages the last clone wrote are dropped, so the pages it only read stay
 * mapped in KVM's shadow MMU.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clone/shellpool.h"
#include "clone/template.h"
#include "core/error.h"
#include "core/kvm.h"
#include "core/vcpu_state.h"
#include "core/vm.h"
#include "load/image.h"
#include "bench_image.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	const char *build = argc > 1 ? argv[1] : "build";
	int n = argc > 2 ? atoi(argv[2]) : 200, i;
	const char *code = argc > 3 ? argv[3] : "print(1+1)";
	int reuse = argc > 4 && strcmp(argv[4], "reuse") == 0;
	struct vm *keep = NULL;
	const char *targv[] = { "lua.elf", NULL };
	const char *rargs[] = { "-e", code, NULL };
	struct kvm_sys kvm;
	struct shell_pool pool;
	struct template *tpl;
	struct image *img;
	struct vm_request req;
	struct vm_result res;
	char elf[512], outpath[] = "/tmp/lua_clone.XXXXXX";
	int devnull = open("/dev/null", O_WRONLY), outfd = mkstemp(outpath);
	struct vm_config cfg = { .argv = targv, .in_fd = -1, .out_fd = devnull, .err_fd = 2 };
	uint64_t *tot = calloc((size_t)n, sizeof(*tot));

	if (n < 1 || !tot || devnull < 0 || outfd < 0)
		return 1;
	unlink(outpath);
	snprintf(elf, sizeof elf, "%s/guest/lua.elf", build);
	if (kvm_sys_open(&kvm) < 0 || !(img = bench_image_load(elf, 64u << 20)) ||
	    !(tpl = template_create(&kvm, img, &cfg, &res)) ||
	    shell_pool_start(&pool, &kvm, img->mem_size, 32, tpl) < 0 ||
	    vm_request_init(&req, rargs) < 0) {
		fprintf(stderr, "lua_clone: %s\n", mvmm_errmsg());
		return 1;
	}
	cfg.request = &req;
	usleep(200000); /* let the pool fill */
	for (i = -20; i < n; i++) {
		uint64_t t0 = vm_now_ns();
		struct vm *vm;

		cfg.out_fd = i == -20 ? outfd : devnull;
		if (keep) {
			vm = keep;
			keep = NULL;
			if (template_reuse_clone(vm, tpl, &cfg) < 0) {
				shell_pool_reap(&pool, vm);
				vm = NULL;
			}
		} else {
			vm = template_clone(tpl, &kvm, &pool, &cfg);
		}
		if (!vm) {
			fprintf(stderr, "lua_clone: %s\n", mvmm_errmsg());
			return 1;
		}
		vm_run(vm, &res);
		if (i >= 0)
			tot[i] = vm_now_ns() - t0;
		/* a VM that stopped at its exit hypercall can run the next clone */
		if (reuse && res.end == VM_END_EXIT && vcpu_complete_io(vm->vcpu_fd, vm->run) == 0)
			keep = vm;
		else
			shell_pool_reap(&pool, vm);
		if (res.end != VM_END_EXIT || res.status != 0) {
			fprintf(stderr, "lua_clone: clone ended badly (status %d): %s\n", res.status,
				res.message);
			return 1;
		}
		vm_result_clear(&res);
		if (i == -20) {
			char buf[256] = "";
			ssize_t r = pread(outfd, buf, sizeof buf - 1, 0);

			fprintf(stderr, "lua_clone: first clone printed: %.*s", (int)(r > 0 ? r : 0),
				buf);
			if (r <= 0)
				return 1;
		}
		usleep(1500); /* a stream of requests, not a burst: the pool refills */
	}
	qsort(tot, (size_t)n, sizeof(*tot), cmp_u64);
	printf("%.1f,%.1f,%.1f,%.2f\n", tot[n / 2] / 1e3, tot[(size_t)((n - 1) * 0.9)] / 1e3,
	       tot[(size_t)((n - 1) * 0.99)] / 1e3, tpl->boot_ns / 1e6);
	if (keep)
		vm_destroy(keep);
	shell_pool_stop(&pool);
	template_put(tpl);
	image_put(img);
	vm_request_free(&req);
	kvm_sys_close(&kvm);
	free(tot);
	return 0;
}
