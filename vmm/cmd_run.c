/* cmd_run.c: `mvmm run`: one guest from an ELF, its end turned into an exit status. */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli.h"
#include "error.h"
#include "image.h"
#include "kvm.h"
#include "vm.h"

#define RUN_MAX_ENV 256

struct run_opts {
	uint64_t mem_size;
	uint64_t timeout_ns;
	const char *env[RUN_MAX_ENV + 1];
	int nenv;
	char **guest_argv; /* guest path, then its arguments */
};

static int run_usage(const char *why)
{
	fprintf(stderr, "mvmm run: %s\nusage: mvmm run [--mem SIZE] [--timeout SECONDS] "
			"[--env NAME=VALUE]... GUEST.elf [ARGS...]\n",
		why);
	return -1;
}

static int run_parse(int argc, char **argv, struct run_opts *o)
{
	static const struct option longopts[] = {
		{ "mem", required_argument, NULL, 'm' },
		{ "timeout", required_argument, NULL, 't' },
		{ "env", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->mem_size = MVMM_MEM_DEFAULT;
	optind = 0; /* full re-initialisation of getopt for the subcommand's argv */
	opterr = 0;
	/* '+': stop at GUEST.elf; what follows belongs to the guest. */
	while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (cli_parse_size(optarg, &o->mem_size) < 0)
				return run_usage("--mem needs a size such as 64M or 1G");
			break;
		case 't':
			if (cli_parse_seconds(optarg, &o->timeout_ns) < 0)
				return run_usage("--timeout needs a positive number of seconds");
			break;
		case 'e':
			if (o->nenv == RUN_MAX_ENV)
				return run_usage("too many --env options");
			o->env[o->nenv++] = optarg;
			break;
		case 'h':
			return run_usage("help");
		default:
			return run_usage("unknown option or missing value");
		}
	}
	if (optind >= argc)
		return run_usage("no guest program given");
	o->guest_argv = argv + optind;
	return 0;
}

/* Turns the way a run ended into mvmm's exit status, explaining on stderr. */
static int run_status(const struct vm_result *res, const struct run_opts *o)
{
	switch (res->end) {
	case VM_END_EXIT:
		return res->status;
	case VM_END_FAULT:
		if (res->report)
			fprintf(stderr, "mvmm: %s", res->report);
		else
			fprintf(stderr, "mvmm: guest fault: %s\n", res->message);
		return CLI_STATUS_FAULT;
	case VM_END_GUEST_ERROR:
		fprintf(stderr, "mvmm: guest error: %s; guest stopped\n", res->message);
		return CLI_STATUS_FAULT;
	case VM_END_ABORT:
		fprintf(stderr, "mvmm: guest aborted: %s\n", res->message);
		return CLI_STATUS_ABORT;
	case VM_END_TIMEOUT:
		fprintf(stderr, "mvmm: guest stopped after its timeout of %.3g s\n",
			(double)o->timeout_ns / 1e9);
		return CLI_STATUS_TIMEOUT;
	default:
		fprintf(stderr, "mvmm: %s\n", res->message);
		return CLI_STATUS_ERROR;
	}
}

int cmd_run(int argc, char **argv)
{
	struct vm_config cfg = { 0 };
	struct vm_result res = { 0 };
	struct run_opts o = { 0 };
	struct kvm_sys kvm = { .fd = -1 };
	struct image *img = NULL;
	struct vm *vm = NULL;
	int status = CLI_STATUS_ERROR, ran = 0;

	if (run_parse(argc, argv, &o) < 0)
		return CLI_STATUS_ERROR;
	/* A guest writing to a closed pipe gets an error back, mvmm does not die. */
	signal(SIGPIPE, SIG_IGN);
	if (kvm_sys_open(&kvm) < 0)
		goto out;
	img = image_load_file(o.guest_argv[0], o.mem_size);
	if (!img)
		goto out;
	cfg.argv = (const char *const *)o.guest_argv;
	cfg.envp = o.env;
	cfg.in_fd = STDIN_FILENO;
	cfg.out_fd = STDOUT_FILENO;
	cfg.err_fd = STDERR_FILENO;
	cfg.timeout_ns = o.timeout_ns;
	vm = vm_create(&kvm, img, &cfg);
	if (!vm)
		goto out;
	vm_run(vm, &res);
	ran = 1;
	status = run_status(&res, &o);
	vm_result_clear(&res);
out:
	if (!ran)
		fprintf(stderr, "mvmm: %s\n", mvmm_errmsg());
	vm_destroy(vm);
	image_put(img);
	kvm_sys_close(&kvm);
	return status;
}
