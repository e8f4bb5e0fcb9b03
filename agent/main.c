/*
 * fwfleet-engine: the agent the controller ships to each node.
 *
 *   fwfleet-engine start --bootstrap FILE [--foreground] [--sysroot DIR]
 *   fwfleet-engine sweep [--remote-dir DIR] [--dead SESSION]... [--force]
 *   fwfleet-engine diag [--json] [--socket PATH] [--remote-dir DIR]
 *   fwfleet-engine version
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent.h"
#include "bootstrap.h"
#include "engine.h"
#include "diag_cmd.h"
#include "err.h"
#include "log.h"
#include "platform.h"
#include "sweep.h"
#include "util.h"

#define READY_TIMEOUT_MS 10000

struct start_opts {
	const char *bootstrap;
	const char *sysroot;
	int foreground;
	int keep_bootstrap;
};

static void usage(FILE *f)
{
	fputs("usage: fwfleet-engine start --bootstrap FILE [--foreground] "
	    "[--sysroot DIR] [--keep-bootstrap]\n"
	    "       fwfleet-engine sweep [--remote-dir DIR] [--dead SESSION]... "
	    "[--force]\n"
	    "       fwfleet-engine diag [--json] [--socket PATH] "
	    "[--remote-dir DIR]\n"
	    "       fwfleet-engine version\n"
	    "\n"
	    "The engine is started by the fwfleet controller over SSH. It\n"
	    "reads its session's TLS material from the bootstrap file,\n"
	    "detaches, and prints 'READY <port> sha256=<its own hash>' once\n"
	    "it serves.\n"
	    "--sysroot (or FWFLEET_SYSROOT) points inventory at a prepared\n"
	    "sysfs/procfs tree instead of /.\n", f);
}

static int parse_start(int argc, char **argv, struct start_opts *o)
{
	static const struct option longopts[] = {
		{ "bootstrap", required_argument, NULL, 'b' },
		{ "sysroot", required_argument, NULL, 's' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "keep-bootstrap", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->sysroot = getenv("FWFLEET_SYSROOT");
	while ((ch = getopt_long(argc, argv, "b:s:fkh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'b': o->bootstrap = optarg; break;
		case 's': o->sysroot = optarg; break;
		case 'f': o->foreground = 1; break;
		case 'k': o->keep_bootstrap = 1; break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (o->sysroot == NULL || o->sysroot[0] == '\0')
		o->sysroot = "/";
	return o->bootstrap == NULL || optind != argc ? -1 : 0;
}

static void log_to_workdir(const char *workdir)
{
	char path[4096];
	int fd;

	if (fw_snprintf(path, sizeof(path), "%s/engine.log", workdir) != 0)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0)
		log_set_fd(fd);
}

static void write_pidfile(const char *workdir)
{
	char path[4096];

	if (fw_snprintf(path, sizeof(path), "%s/engine.pid", workdir) == 0 &&
	    platform_write_pidfile(path) != 0)
		log_warn("cannot write %s", path);
}

static int cmd_start(const char *self, int argc, char **argv)
{
	Fwfleet__Bootstrap *bs = NULL;
	struct engine *e = NULL;
	struct start_opts o;
	char err[512], *ready;
	int r, ready_fd = -1;

	if (parse_start(argc, argv, &o) != 0) {
		usage(stderr);
		return 2;
	}
	if (bootstrap_load(o.bootstrap, &bs, err, sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet-engine: %s\n", err);
		return 2;
	}
	if (!o.keep_bootstrap)
		unlink(o.bootstrap);	/* the key now lives in memory only */
	if (engine_new(bs, o.sysroot, &e, err, sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet-engine: %s\n", err);
		fwfleet__bootstrap__free_unpacked(bs, NULL);
		return 1;
	}
	if (engine_open(e, err, sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet-engine: %s\n", err);
		engine_free(e);	/* closes any rule it opened */
		return 1;
	}
	engine_self_sha256(self, e->sha256);	/* also shown by Diag */
	ready = xasprintf("%sREADY %u sha256=%s\n", e->notes ? e->notes : "",
	    e->port, e->sha256);
	if (!o.foreground) {
		if (platform_detach(ready, READY_TIMEOUT_MS, &ready_fd) != 0) {
			fprintf(stderr, "fwfleet-engine: cannot detach\n");
			engine_free(e);
			return 1;
		}
		log_to_workdir(e->bs->workdir);
	} else {
		fputs(ready, stdout);
		fflush(stdout);
	}
	write_pidfile(e->bs->workdir);
	free(ready);
	r = engine_run(e, ready_fd);
	engine_free(e);
	return r;
}

static void print_note(const char *line, void *arg)
{
	printf("%s\n", line);
}

/*
 * fwfleet-engine sweep --remote-dir DIR [--dead SID]... [--force]
 *     [--grace SECONDS] [--workdir DIR]
 * Sweeps what crashed sessions left (see sweep.h); `fwfleet cleanup` and
 * the controller's cleanup of a node whose engine died run it.
 */
static int cmd_sweep(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "remote-dir", required_argument, NULL, 'r' },
		{ "dead", required_argument, NULL, 'd' },
		{ "force", no_argument, NULL, 'f' },
		{ "grace", required_argument, NULL, 'g' },
		{ "workdir", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct sweep_opts so = { .remote_dir = "/tmp",
	    .grace_s = SWEEP_GRACE_S };
	char **dead = xcalloc((size_t)argc, sizeof(*dead));
	long grace;
	int ch, failures;

	so.dead = dead;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': so.remote_dir = optarg; break;
		case 'd': dead[so.n_dead++] = optarg; break;
		case 'f': so.force = 1; break;
		case 'w': so.only_workdir = optarg; break;
		case 'g':
			if (fw_parse_long(optarg, 0, 86400 * 365, &grace) != 0)
				goto usage;
			so.grace_s = (unsigned)grace;
			break;
		default: goto usage;
		}
	}
	if (optind != argc || so.remote_dir[0] != '/')
		goto usage;
	failures = sweep_run(&so, print_note, NULL);
	free(dead);
	return failures ? 1 : 0;
usage:
	fputs("usage: fwfleet-engine sweep [--remote-dir DIR] [--dead SESSION]"
	    "... [--force] [--grace SECONDS]\n"
	    "       [--workdir DIR (only this one)]\n", stderr);
	free(dead);
	return 2;
}

int main(int argc, char **argv)
{
	log_init("fwfleet-engine", LOG_LVL_INFO);
	if (argc >= 2 && strcmp(argv[1], "start") == 0)
		return cmd_start(argv[0], argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "agent") == 0)
		return agent_main(argv[0], argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "sweep") == 0)
		return cmd_sweep(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "diag") == 0)
		return diag_cmd_main(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "version") == 0) {
		printf("fwfleet-engine %s\n", FWFLEET_VERSION);
		return 0;
	}
	usage(argc >= 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr);
	return argc >= 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
}
