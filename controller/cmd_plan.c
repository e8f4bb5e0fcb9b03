/*
 * fwfleet plan: a dry run of deploy. Verifies the repository, reads each
 * node's inventory, and shows per node what would be installed (installed
 * → target, in order) and why everything else is skipped.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli_nodes.h"
#include "cli_select.h"
#include "command.h"
#include "fleet.h"
#include "log.h"
#include "plan.h"
#include "repo.h"
#include "secret.h"
#include "util.h"

static const char plan_usage[] =
	"usage: fwfleet plan (-n FILE | -t LIST) --repo DIR [options]\n"
	"\n"
	"A dry run: verifies the repository, reads each node's inventory (as\n"
	"`fwfleet inventory` does), and prints per node the components that\n"
	"would be installed, in order, with installed -> target version, and\n"
	"why each other component is skipped (not applicable, already\n"
	"current, older than installed, unmet dependency). Nothing is\n"
	"installed.\n"
	"\n"
	CLI_SELECT_USAGE
	"output:\n"
	"      --json               print JSON on stdout (status lines go to\n"
	"                           stderr)\n"
	CLI_NODES_USAGE
	"\n"
	"exit status: 0 something to install, 3 nothing to do on any node,\n"
	"254 bad parameters or a repository that fails verification, 255 a\n"
	"node failed\n";

enum { OPT_JSON = CLI_SEL_FIRST_FREE };

struct plan_args {
	struct cli_nodes nodes;
	struct cli_select sel;
	int json;
};

static int take(void *ctx, int ch, const char *arg)
{
	struct plan_args *a = ctx;
	int r = cli_nodes_opt(&a->nodes, "plan", ch, arg);

	if (r == 1)
		r = cli_select_opt(&a->sel, "plan", ch, arg);
	if (r == 1 && ch == OPT_JSON) {
		a->json = 1;
		r = 0;
	}
	return r;
}

static int parse_args(int argc, char **argv, struct plan_args *a)
{
	static const struct option longopts[] = {
		CLI_NODES_LONGOPTS,
		CLI_SELECT_LONGOPTS,
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};

	if (cli_parse("plan", argc, argv, CLI_NODES_SHORTOPTS
	    CLI_SELECT_SHORTOPTS, longopts, 0, take, a) != 0 ||
	    cli_select_check(&a->sel, "plan") != 0)
		return -1;
	return cli_nodes_check(&a->nodes, "plan");
}

/* --- output ------------------------------------------------------------- */

static json_t *safe_string(const char *s)
{
	json_t *j = json_string(s != NULL ? s : "");

	return j != NULL ? j : json_string("?");
}

static void print_text(const struct node_result *res,
    const struct node_plan *plans, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!res[i].ok)
			continue;
		printf("%s (%s): %zu to install, %zu skipped\n", res[i].name,
		    res[i].address, plans[i].n_install,
		    plans[i].n - plans[i].n_install);
		node_plan_print(stdout, &plans[i]);
	}
}

static void print_status(FILE *f, const struct node_result *res,
    const struct node_plan *plans, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!res[i].ok)
			fprintf(f, "%s: failed: %s\n", res[i].name,
			    res[i].error != NULL ? res[i].error : "?");
		else if (plans[i].n_install == 0)
			fprintf(f, "%s: nothing to do\n", res[i].name);
		else
			fprintf(f, "%s: %zu to install\n", res[i].name,
			    plans[i].n_install);
	}
}

static json_t *node_json(const struct node_result *r,
    const struct node_plan *p)
{
	json_t *o = json_object(), *pj;

	json_object_set_new(o, "name", safe_string(r->name));
	json_object_set_new(o, "address", safe_string(r->address));
	json_object_set_new(o, "status", json_string(r->ok ? "ok" :
	    "failed"));
	if (!r->ok) {
		json_object_set_new(o, "error", safe_string(r->error));
		return o;
	}
	pj = node_plan_json(p);
	json_object_update(o, pj);
	json_decref(pj);
	return o;
}

static void print_json(const struct repo *repo, const struct repo_sig *sig,
    const struct node_result *res,
    const struct node_plan *plans, size_t n)
{
	json_t *nodes = json_array(), *doc;
	size_t i, failed = 0, busy = 0, installs = 0;
	char *s;

	for (i = 0; i < n; i++) {
		json_array_append_new(nodes, node_json(&res[i], &plans[i]));
		failed += !res[i].ok;
		busy += res[i].ok && plans[i].n_install > 0;
		installs += plans[i].n_install;
	}
	doc = json_pack("{s:{s:o, s:I, s:b, s:b, s:s}, s:o, "
	    "s:{s:I, s:I, s:I, s:I}}",
	    "repository", "path", safe_string(repo_dir(repo)),
	    "components", (json_int_t)repo_count(repo),
	    "signed", sig->verified, "pinned", sig->pinned,
	    "key", sig->verified ? sig->key_id : "",
	    "nodes", nodes,
	    "summary", "nodes", (json_int_t)n, "failed", (json_int_t)failed,
	    "with_installs", (json_int_t)busy,
	    "installs", (json_int_t)installs);
	if (doc == NULL || (s = json_dumps(doc, JSON_INDENT(2))) == NULL)
		fatal("out of memory");
	printf("%s\n", s);
	free(s);
	json_decref(doc);
}

/* --- run ---------------------------------------------------------------- */

static int plan_all(const struct plan_args *a, const struct repo *repo,
    const struct repo_sig *sig, const struct fleet *f)
{
	const struct node_result *res;
	struct node_plan *plans;
	size_t n, i, failed = 0, installs = 0;

	res = fleet_results(f, &n);
	plans = xcalloc(n + 1, sizeof(*plans));
	for (i = 0; i < n; i++) {
		if (res[i].ok && res[i].inv != NULL)
			plan_node(res[i].inv, repo, &a->sel.plan, &plans[i]);
		failed += !res[i].ok;
		installs += plans[i].n_install;
	}
	if (a->json) {
		print_json(repo, sig, res, plans, n);
		print_status(stderr, res, plans, n);
	} else {
		print_text(res, plans, n);
		if (n > 0)
			fputc('\n', stdout);
		print_status(stdout, res, plans, n);
	}
	fflush(stdout);
	for (i = 0; i < n; i++)
		node_plan_clear(&plans[i]);
	free(plans);
	if (failed > 0)
		return EXIT_FW_FAILURE;
	return installs > 0 ? EXIT_FW_OK : EXIT_FW_NOTHING;
}

static int plan_exec(const struct global_opts *g, int argc, char **argv)
{
	struct node_list nodes = { 0 };
	struct plan_args a;
	struct repo_sig sig;
	struct repo *repo = NULL;
	struct fleet *f = NULL;
	char *password = NULL, err[512];
	int r = EXIT_FW_BAD_PARAM;

	memset(&a, 0, sizeof(a));
	cli_nodes_init(&a.nodes);
	cli_select_init(&a.sel);
	if (parse_args(argc, argv, &a) != 0 ||
	    cli_select_open_repo(&a.sel, "plan", 1, &repo, &sig) != 0 ||
	    cli_nodes_load(&a.nodes, g, "plan", &nodes, &password) != 0)
		goto out;
	if (fleet_inventory(&a.nodes.fleet, &nodes, a.nodes.pki_dir, &f, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet plan: %s\n", err);
		r = EXIT_FW_FAILURE;
		goto out;
	}
	r = plan_all(&a, repo, &sig, f);
out:
	fleet_free(f);
	repo_free(repo);
	nodes_free(&nodes);
	secret_free(password);
	cli_select_free(&a.sel);
	return r;
}

const struct command cmd_plan = {
	.name = "plan",
	.summary = "show what a deploy would install on each node (dry run)",
	.usage = plan_usage,
	.exec = plan_exec,
};
