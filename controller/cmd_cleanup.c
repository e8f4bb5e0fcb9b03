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

static int parse_args(int argc, char **argv, struct cli_nodes *c, int *force)
{
	static const struct option longopts[] = {
		CLI_NODES_LONGOPTS,
		{ "force", no_argument, NULL, OPT_FORCE },
		{ NULL, 0, NULL, 0 },
	};
	int ch, r;

	*force = 0;
	while ((ch = getopt_long(argc, argv, CLI_NODES_SHORTOPTS, longopts,
	    NULL)) != -1) {
		if ((r = cli_nodes_opt(c, "cleanup", ch, optarg)) == 1 &&
		    ch == OPT_FORCE) {
			*force = 1;
			r = 0;
		}
		if (r != 0) {
			if (r == 1)
				fprintf(stderr, "fwfleet cleanup: bad option; "
				    "see --help\n");
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "fwfleet cleanup: bad argument '%s'; see "
		    "--help\n", argv[optind]);
		return -1;
	}
	return cli_nodes_check(c, "cleanup");
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
	struct cli_nodes c;
	struct fleet *f = NULL;
	char *password = NULL, err[512];
	int r = EXIT_FW_BAD_PARAM, force;

	cli_nodes_init(&c);
	if (parse_args(argc, argv, &c, &force) != 0 ||
	    cli_nodes_load(&c, g, "cleanup", &nodes, &password) != 0)
		goto out;
	if (fleet_run_job(&c.fleet, &nodes, c.pki_dir, force ?
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
