#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_nodes.h"
#include "command.h"
#include "err.h"
#include "fleet.h"
#include "nodes.h"
#include "proto.h"
#include "render.h"
#include "secret.h"
#include "util.h"

static const char inventory_usage[] =
	"usage: fwfleet inventory (-n FILE | -t LIST) [options]\n"
	"\n"
	"Reaches each node over SSH, ships and starts the engine, reads the\n"
	"node's hardware and firmware inventory over mutual TLS, then stops\n"
	"and removes the engine. Prints a summary per node, then one status\n"
	"line per node.\n"
	"\n"
	CLI_NODES_USAGE
	"output:\n"
	"      --json               print JSON on stdout (status lines go to\n"
	"                           stderr)\n"
	"\n"
	"exit status: 0 every node ok, 255 a node failed, 254 bad parameters\n";

enum { OPT_JSON = CLI_OPT_FIRST_FREE };

static int parse_args(int argc, char **argv, struct cli_nodes *c, int *json)
{
	static const struct option longopts[] = {
		CLI_NODES_LONGOPTS,
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	int ch, r;

	*json = 0;
	while ((ch = getopt_long(argc, argv, CLI_NODES_SHORTOPTS, longopts,
	    NULL)) != -1) {
		if ((r = cli_nodes_opt(c, "inventory", ch, optarg)) == 1 &&
		    ch == OPT_JSON) {
			*json = 1;
			r = 0;
		}
		if (r != 0) {
			if (r == 1)
				fprintf(stderr, "fwfleet inventory: bad option; "
				    "see --help\n");
			return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "fwfleet inventory: bad argument '%s'; see "
		    "--help\n", argv[optind]);
		return -1;
	}
	return cli_nodes_check(c, "inventory");
}

static int print_results(const struct fleet *f, int json)
{
	const struct node_result *res;
	size_t n, i, failed = 0;
	char *doc;

	res = fleet_results(f, &n);
	if (json) {
		doc = render_inventory_json(res, n);
		fputs(doc, stdout);
		fputc('\n', stdout);
		free(doc);
		render_status_lines(stderr, res, n);
	} else {
		render_inventory_text(stdout, res, n);
		if (n > 0)
			fputc('\n', stdout);
		render_status_lines(stdout, res, n);
	}
	for (i = 0; i < n; i++)
		failed += !res[i].ok;
	fflush(stdout);
	return failed ? EXIT_FW_FAILURE : EXIT_FW_OK;
}

static int inventory_exec(const struct global_opts *g, int argc, char **argv)
{
	struct node_list nodes = { 0 };
	struct cli_nodes c;
	struct fleet *f = NULL;
	char *password = NULL, err[512];
	int r = EXIT_FW_BAD_PARAM, json;

	cli_nodes_init(&c);
	if (parse_args(argc, argv, &c, &json) != 0 ||
	    cli_nodes_load(&c, g, "inventory", &nodes, &password) != 0)
		goto out;
	if (fleet_inventory(&c.fleet, &nodes, c.pki_dir, &f, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet inventory: %s\n", err);
		r = EXIT_FW_FAILURE;
		goto out;
	}
	r = print_results(f, json);
out:
	fleet_free(f);
	nodes_free(&nodes);
	secret_free(password);
	return r;
}

const struct command cmd_inventory = {
	.name = "inventory",
	.summary = "read the hardware and firmware inventory of nodes",
	.usage = inventory_usage,
	.exec = inventory_exec,
};
