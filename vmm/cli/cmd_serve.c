/* cmd_serve.c: `mvmm serve`: boot a template once (or restore a snapshot chain), then serve
 * clones of it on a Unix socket. */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "cli_cache.h"
#include "cli_help.h"
#include "cli_linux.h"
#include "cli_log.h"
#include "core/confine.h"
#include "core/error.h"
#include "core/kvm.h"
#include "core/log.h"
#include "load/image.h"
#include "clone/snapshot.h"
#include "serve/server.h"

#define SERVE_MAX_ENV 256

struct serve_opts {
	const char *socket;
	uint64_t mem_size;
	uint64_t timeout_ns;
	const char *env[SERVE_MAX_ENV + 1];
	int nenv;
	int replace;
	unsigned workers; /* --workers K: worker processes (srv_workers.c) */
	int no_seccomp; /* --no-seccomp: no system-call filter (debugging) */
	const char *from_snapshot; /* --from-snapshot BASE[,DIFF...]: no guest program */
	struct cache_opts cache; /* --cache-dir, --no-cache, --cache-max */
	struct cli_linux lx;	 /* --dir, --cwd, --strace, --env-inherit, --ready-on */
	char **guest_argv;
};

static int serve_usage(const char *why)
{
	fprintf(stderr, "mvmm serve: %s\n(see 'mvmm help serve')\n", why);
	return -1;
}

const struct option cli_serve_longopts[] = {
	{"socket", required_argument, NULL, 'S'},
	{"mem", required_argument, NULL, 'm'},
	{"timeout", required_argument, NULL, 't'},
	{"env", required_argument, NULL, 'e'},
	{"replace", no_argument, NULL, 'R'},
	{"workers", required_argument, NULL, 'W'},
	{"no-seccomp", no_argument, NULL, 'Z'},
	{"from-snapshot", required_argument, NULL, 'F'},
	CLI_CACHE_LONGOPTS,
	CLI_LINUX_LONGOPTS,
	CLI_LOG_LONGOPTS,
	CLI_HELP_LONGOPT,
	{NULL, 0, NULL, 0},
};

/*
 * The option groups serve shares with run (log, cache and huge pages, Linux
 * programs): 1 when c was one of theirs, 0 when not (getopt's '?' and ':'
 * included), -1 on a bad value (said).
 */
static int serve_option_group(struct serve_opts *o, int c, const char *arg)
{
	int r;

	if (c == '?' || c == ':')
		return 0;
	if ((r = cli_log_option(c, arg, "serve")) ||
	    (r = cli_cache_option(&o->cache, c, arg, "serve")))
		return r;
	return cli_linux_option(&o->lx, c, arg, "serve");
}

/* -1 on a usage error (said), 1 when the help was asked for (printed), else 0. */
static int serve_parse(int argc, char **argv, struct serve_opts *o)
{
	const struct option *longopts = cli_serve_longopts;
	int c, g;

	o->mem_size = MVMM_MEM_DEFAULT;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h" CLI_LOG_SHORTOPTS, longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			cli_help_print("serve", stdout);
			return 1;
		case 'S':
			o->socket = optarg;
			break;
		case 'm':
			if (cli_parse_mem(optarg, &o->mem_size) < 0)
				return serve_usage("--mem needs a size such as 64 (MiB), 64M or 1G");
			break;
		case 't':
			if (cli_parse_seconds(optarg, &o->timeout_ns) < 0)
				return serve_usage("--timeout needs a positive number of seconds");
			break;
		case 'e': {
			const char *var;

			if (o->nenv == SERVE_MAX_ENV)
				return serve_usage("too many --env options");
			if (cli_env_option(optarg, &var, "serve") < 0)
				return -1;
			if (var)
				o->env[o->nenv++] = var;
			break;
		}
		case 'R':
			o->replace = 1;
			break;
		case 'Z':
			o->no_seccomp = 1;
			break;
		case 'F':
			o->from_snapshot = optarg;
			break;
		case 'W': {
			char *end;
			unsigned long k = strtoul(optarg, &end, 10);

			if (end == optarg || *end || optarg[0] == '-' || k < 1 || k > 256)
				return serve_usage("--workers needs a number of processes, 1 to 256");
			o->workers = (unsigned)k;
			break;
		}
		default:
			g = serve_option_group(o, c, optarg);
			if (g < 0)
				return -1;
			if (!g)
				return cli_option_error("serve", c, argv, longopts);
			break;
		}
	}
	if (!o->socket)
		return serve_usage("--socket PATH is required");
	if (o->from_snapshot && optind < argc)
		return serve_usage("--from-snapshot takes no guest program (the chain holds it)");
	if (!o->from_snapshot && optind >= argc)
		return serve_usage("no guest program given");
	o->guest_argv = argv + optind;
	return 0;
}

/*
 * --from-snapshot: the template is the chain's last state, restored with
 * this server's --dir trees; its base is mapped from its file, so servers
 * restoring one chain share it.
 */
static struct template *serve_restore(const struct serve_opts *o, const struct srv_config *cfg)
{
	struct vm_config vc = {.argv = cfg->argv, .envp = cfg->envp, .in_fd = -1,
			       .out_fd = STDOUT_FILENO, .err_fd = STDERR_FILENO,
			       .timeout_ns = cfg->timeout_ns, .lx = cfg->lx};

	return snap_restore_list(o->from_snapshot, o->cache.huge, &vc);
}

/* SIGTERM and SIGINT become a readable fd; blocked before any thread exists, so in all. */
static int serve_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

int cmd_serve(int argc, char **argv)
{
	struct serve_opts o = {0};
	struct kvm_sys kvm = {.fd = -1};
	struct srv_config cfg = {0};
	struct vm_result res;
	struct cache_status cst;
	struct template *tpl = NULL;
	struct image *pie = NULL;
	struct srv *s;
	int status = CLI_STATUS_ERROR, sfd;

	vlog_set_level(VLOG_INFO); /* a server's log: its generations (-q: errors only) */
	status = serve_parse(argc, argv, &o);
	if (status) {
		cli_linux_free(&o.lx);
		return status < 0 ? CLI_STATUS_ERROR : 0;
	}
	status = CLI_STATUS_ERROR;
	signal(SIGPIPE, SIG_IGN);
	cli_raise_fd_limit();
	sfd = serve_signals();
	if (sfd < 0) {
		perror("mvmm serve: signalfd");
		return CLI_STATUS_ERROR;
	}
	memset(&res, 0, sizeof(res));
	cfg.path = o.socket;
	cfg.argv = (const char *const *)o.guest_argv;
	cfg.envp = cli_linux_env(&o.lx, o.env);
	cfg.lx = &o.lx.cfg;
	cfg.timeout_ns = o.timeout_ns;
	cfg.replace = o.replace;
	cfg.workers = o.workers;
	cfg.stop_fd = sfd;
	cfg.confine = !o.no_seccomp;
	if (kvm_sys_open(&kvm) < 0) {
		fprintf(stderr, "mvmm serve: %s\n", mvmm_errmsg());
		goto out;
	}
	/*
	 * A PIE guest gets a new random base in each server generation, and so
	 * a freshly booted template (a cached one would pin the base); any
	 * other guest's template comes through the image cache.
	 */
	if (o.from_snapshot) {
		tpl = serve_restore(&o, &cfg);
		if (!tpl) {
			fprintf(stderr, "mvmm serve: %s\n", mvmm_errmsg());
			goto out;
		}
	}
	pie = tpl ? NULL : image_load_file_random(o.guest_argv[0], o.mem_size, o.cache.huge);
	if (pie && !pie->prog.pie) {
		image_put(pie);
		pie = NULL;
	}
	memset(&cst, 0, sizeof(cst));
	if (!pie && !tpl) {
		struct vm_config vc = {.argv = cfg.argv, .envp = cfg.envp, .in_fd = -1,
				       .out_fd = STDOUT_FILENO, .err_fd = STDERR_FILENO,
				       .timeout_ns = cfg.timeout_ns, .lx = cfg.lx};

		tpl = cache_load_template(&o.cache, &kvm, o.guest_argv[0], o.mem_size, &vc, &res,
					  &cst);
		cli_cache_warn(&cst);
	}
	cfg.tpl = tpl;
	s = tpl ? srv_create(&kvm, tpl->img, &cfg, &res)
		: pie ? srv_create(&kvm, pie, &cfg, &res) : NULL;
	if (pie) {
		fprintf(stderr, "mvmm serve: PIE guest loaded at 0x%lx\n",
			(unsigned long)pie->prog.lo);
		image_put(pie);
	}
	if (!s) {
		if (res.end != VM_END_NONE && res.end != VM_END_HOST_ERROR && res.report)
			fprintf(stderr, "mvmm serve: template: %s", res.report);
		else if (res.end != VM_END_NONE && res.end != VM_END_HOST_ERROR && res.message[0])
			fprintf(stderr, "mvmm serve: template: %s\n", res.message);
		fprintf(stderr, "mvmm serve: %s\n", mvmm_errmsg());
		vm_result_clear(&res);
		goto out;
	}
	vm_result_clear(&res);
	/* Set up: the socket is bound and the template booted; the filter covers the rest. */
	if (!o.no_seccomp && confine_process() < 0) {
		fprintf(stderr, "mvmm serve: %s (--no-seccomp runs without the filter)\n",
			mvmm_errmsg());
		srv_destroy(s);
		goto out;
	}
	if (srv_warning(s))
		fprintf(stderr, "mvmm serve: warning: %s\n", srv_warning(s));
	fprintf(stderr, "mvmm serve: ready on %s (template %s in %.1f ms)\n", o.socket,
		o.from_snapshot		 ? "restored from its snapshot"
		: cst.outcome == CACHE_HIT ? "mapped from the cache"
					   : "booted",
		(double)srv_boot_ns(s) / 1e6);
	status = 0;
	if (srv_run(s) < 0) {
		fprintf(stderr, "mvmm serve: %s\n", mvmm_errmsg());
		status = CLI_STATUS_ERROR;
	}
	srv_destroy(s);
out:
	template_put(tpl);
	kvm_sys_close(&kvm);
	close(sfd);
	cli_linux_free(&o.lx);
	return status;
}
