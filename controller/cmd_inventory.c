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

struct inventory_args {
	struct cli_nodes nodes;
	int json;
};

static int take(void *ctx, int ch, const char *arg)
{
	struct inventory_args *a = ctx;
	int r = cli_nodes_opt(&a->nodes, "inventory", ch, arg);

	if (r == 1 && ch == OPT_JSON) {
		a->json = 1;
		r = 0;
	}
	return r;
}

static int parse_args(int argc, char **argv, struct inventory_args *a)
{
	static const struct option longopts[] = {
		CLI_NODES_LONGOPTS,
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};

	if (cli_parse("inventory", argc, argv, CLI_NODES_SHORTOPTS, longopts,
	    0, take, a) != 0)
		return -1;
	return cli_nodes_check(&a->nodes, "inventory");
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
	struct inventory_args a = { .json = 0 };
	struct fleet *f = NULL;
	char *password = NULL, err[512];
	int r = EXIT_FW_BAD_PARAM;

	cli_nodes_init(&a.nodes);
	if (parse_args(argc, argv, &a) != 0 ||
	    cli_nodes_load(&a.nodes, g, "inventory", &nodes, &password) != 0)
		goto out;
	if (fleet_inventory(&a.nodes.fleet, &nodes, a.nodes.pki_dir, &f, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet inventory: %s\n", err);
		r = EXIT_FW_FAILURE;
		goto out;
	}
	r = print_results(f, a.json);
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
