#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_nodes.h"
#include "command.h"
#include "err.h"
#include "fleet.h"
#include "nodes.h"
#include "render.h"
#include "secret.h"
#include "util.h"

static const char cleanup_usage[] =
	"usage: fwfleet cleanup (-n FILE | -t LIST) [--force] [options]\n"
	"\n"
	"Sweeps what interrupted runs left on nodes: engine processes, work\n"
	"directories and firewall rules tagged with their session. Every run\n"
	"already sweeps its own node's leftovers of this controller's dead\n"
	"runs when it connects; this command does only that, for any set of\n"
	"nodes, and also removes this host's firewall rules of dead runs.\n"
	"\n"
	"What is swept: everything of this controller's runs that died (it\n"
	"records each run in its state directory), and of any run whose\n"
	"engine is no longer running: its firewall rules at once, its work\n"
	"directory once older than 10 minutes.\n"
	"  --force    treat every other run as dead: also stop engines that\n"
	"             still run (only when no other fwfleet run is active)\n"
	"\n"
	CLI_NODES_USAGE
	"\n"
	"exit status: 0 nothing left, 255 a node failed or kept something,\n"
	"254 bad parameters\n";

enum { OPT_FORCE = CLI_OPT_FIRST_FREE };

struct cleanup_args {
	struct cli_nodes nodes;
	int force;
};

static int take(void *ctx, int ch, const char *arg)
{
	struct cleanup_args *a = ctx;
	int r = cli_nodes_opt(&a->nodes, "cleanup", ch, arg);

	if (r == 1 && ch == OPT_FORCE) {
		a->force = 1;
		r = 0;
	}
	return r;
}

static int parse_args(int argc, char **argv, struct cleanup_args *a)
{
	static const struct option longopts[] = {
		CLI_NODES_LONGOPTS,
		{ "force", no_argument, NULL, OPT_FORCE },
		{ NULL, 0, NULL, 0 },
	};

	if (cli_parse("cleanup", argc, argv, CLI_NODES_SHORTOPTS, longopts, 0,
	    take, a) != 0)
		return -1;
	return cli_nodes_check(&a->nodes, "cleanup");
}

/* "NAME: removed /tmp/fwfleet-..." per line swept, then status lines. */
static int print_results(const struct fleet *f)
{
	const struct node_result *res;
	size_t n, i, failed = 0;
	const char *p;
	int len;

	res = fleet_results(f, &n);
	printf("this host: %s\n", fleet_host_swept(f)[0] ?
	    fleet_host_swept(f) : "nothing left behind");
	for (i = 0; i < n; i++) {
		failed += !res[i].ok;
		for (p = res[i].output; p != NULL && *p != '\0'; p += len) {
			len = (int)strcspn(p, "\n");
			printf("%s: %.*s\n", res[i].name, len, p);
			len += p[len] == '\n';
		}
		if (res[i].ok && (res[i].output == NULL ||
		    res[i].output[0] == '\0'))
			printf("%s: nothing left behind\n", res[i].name);
	}
	render_status_lines(stdout, res, n);
	fflush(stdout);
	return failed ? EXIT_FW_FAILURE : EXIT_FW_OK;
}

static int cleanup_exec(const struct global_opts *g, int argc, char **argv)
{
	struct node_list nodes = { 0 };
	struct cleanup_args a = { .force = 0 };
	struct fleet *f = NULL;
	char *password = NULL, err[512];
	int r = EXIT_FW_BAD_PARAM;

	cli_nodes_init(&a.nodes);
	if (parse_args(argc, argv, &a) != 0 ||
	    cli_nodes_load(&a.nodes, g, "cleanup", &nodes, &password) != 0)
		goto out;
	if (fleet_run_job(&a.nodes.fleet, &nodes, a.nodes.pki_dir, a.force ?
	    FLEET_CLEANUP_FORCE : FLEET_CLEANUP, &f, err, sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet cleanup: %s\n", err);
		r = EXIT_FW_FAILURE;
		goto out;
	}
	r = print_results(f);
out:
	fleet_free(f);
	nodes_free(&nodes);
	secret_free(password);
	return r;
}

const struct command cmd_cleanup = {
	.name = "cleanup",
	.summary = "sweep what interrupted runs left on nodes",
	.usage = cleanup_usage,
	.exec = cleanup_exec,
};
