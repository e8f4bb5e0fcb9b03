#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_nodes.h"
#include "cli_select.h"
#include "command.h"
#include "deploy.h"
#include "err.h"
#include "fleet.h"
#include "journal.h"
#include "node.h"
#include "report.h"
#include "secret.h"
#include "util.h"

static const char deploy_usage[] =
	"usage: fwfleet deploy (-n FILE | -t LIST) -r REPO [options]\n"
	"\n"
	"Brings each node up to what the repository offers: reads its\n"
	"inventory, plans which components apply (as `fwfleet plan`), then\n"
	"for each one the engine fetches the payloads from this controller's\n"
	"HTTPS server (mutual TLS, every chunk checked against the signed\n"
	"index) and runs the installer. A failed component skips those that\n"
	"depend on it; the rest go on. Ctrl-C lets running installers finish\n"
	"and skips the rest; a second Ctrl-C stops them. Every step goes to\n"
	"a job journal; reports (JSON, HTML, CSV) are written at the end.\n"
	"\n"
	CLI_SELECT_USAGE
	"deploy:\n"
	"      --port N             the HTTPS server's port (default 63002)\n"
	"      --reboot WHEN        never (default), if-needed, always: reboot\n"
	"                           a node after its updates (never after a\n"
	"                           failed component or Ctrl-C)\n"
	"      --reboot-delay S     seconds before the reboot, 15-3600 (default\n"
	"                           60; rounded up to whole minutes)\n"
	CLI_NODES_USAGE
	"\n"
	"exit status (as HP SUM): 0 success, 1 success with a reboot needed,\n"
	"3 nothing to do, 253 a component failed, 254 bad parameters or\n"
	"repository, 255 a node failed or the run was interrupted\n";

enum { OPT_PORT = CLI_SEL_FIRST_FREE, OPT_REBOOT, OPT_REBOOT_DELAY };

struct deploy_args {
	struct cli_nodes nodes;
	struct cli_select sel;
	enum reboot_policy reboot;
	unsigned reboot_delay_s;
};

/* The options of deploy's own: 0 taken, 1 not ours, -1 bad value. */
static int deploy_opt(struct deploy_args *a, int ch, const char *arg)
{
	long v;

	switch (ch) {
	case OPT_PORT:
		if (fw_parse_long(arg, 1, 65535, &v) != 0)
			break;
		a->nodes.fleet.https_port = (uint16_t)v;
		return 0;
	case OPT_REBOOT:
		if (reboot_policy_parse(arg, &a->reboot) != 0)
			break;
		return 0;
	case OPT_REBOOT_DELAY:
		if (fw_parse_long(arg, 15, 3600, &v) != 0)
			break;
		a->reboot_delay_s = (unsigned)v;
		return 0;
	default:
		return 1;
	}
	fprintf(stderr, "fwfleet deploy: bad value '%s'; see --help\n", arg);
	return -1;
}

static int take(void *ctx, int ch, const char *arg)
{
	struct deploy_args *a = ctx;
	int r = cli_nodes_opt(&a->nodes, "deploy", ch, arg);

	if (r == 1)
		r = cli_select_opt(&a->sel, "deploy", ch, arg);
	return r == 1 ? deploy_opt(a, ch, arg) : r;
}

static int parse_args(int argc, char **argv, struct deploy_args *a)
{
	static const struct option longopts[] = {
		CLI_NODES_LONGOPTS,
		CLI_SELECT_LONGOPTS,
		{ "port", required_argument, NULL, OPT_PORT },
		{ "reboot", required_argument, NULL, OPT_REBOOT },
		{ "reboot-delay", required_argument, NULL, OPT_REBOOT_DELAY },
		{ NULL, 0, NULL, 0 },
	};

	if (cli_parse("deploy", argc, argv, CLI_NODES_SHORTOPTS
	    CLI_SELECT_SHORTOPTS, longopts, 0, take, a) != 0)
		return -1;
	if (cli_select_check(&a->sel, "deploy") != 0)
		return -1;
	return cli_nodes_check(&a->nodes, "deploy");
}

static int start_journal(const char *state_dir, int argc, char **argv,
    const struct node_list *nodes, const char *repo, struct journal **out)
{
	struct journal_start_info info = { 0 };
	const char **names = xcalloc(nodes->n + 1, sizeof(char *));
	size_t i;
	int r;

	for (i = 0; i < nodes->n; i++)
		names[i] = nodes->v[i].name;
	info.command = "deploy";
	/* The arguments hold no secret: passwords never come on argv. */
	info.args = (const char *const *)argv + 1;
	info.n_args = (size_t)(argc - 1);
	info.repository = repo;
	info.nodes = names;
	info.n_nodes = nodes->n;
	/* journal_start creates STATE/jobs and what lies above it. */
	if ((r = journal_start(state_dir, &info, out)) != 0)
		fprintf(stderr, "fwfleet deploy: cannot start the job journal "
		    "in %s/jobs\n", state_dir);
	free(names);
	return r;
}

/* The job's exit code from its journal, then job-end and the reports. */
static int finish_job(struct journal *j, int interrupted)
{
	struct report *rep = NULL;
	int code = EXIT_FW_FAILURE;

	if (report_load(journal_dir(j), &rep) == 0)
		code = report_exit_code(rep);
	report_free(rep);
	if (interrupted)
		code = EXIT_FW_FAILURE;
	journal_job_end(j, code, interrupted);
	if (report_generate(journal_dir(j)) != 0)
		fprintf(stderr, "fwfleet deploy: cannot write the reports in "
		    "%s\n", journal_dir(j));
	return code;
}

static void print_summary(const struct fleet *f, const struct journal *j,
    int code)
{
	const struct node_result *res;
	size_t n, i;

	res = fleet_results(f, &n);
	for (i = 0; i < n; i++) {
		if (res[i].ok)
			printf("%s: ok\n", res[i].name);
		else
			printf("%s: failed: %s\n", res[i].name,
			    res[i].error != NULL ? res[i].error : "?");
		deploy_node_print(stdout, fleet_node(f, i));
	}
	printf("\njob %s: %s (exit %d)\nreport: %s/report.html\n",
	    journal_id(j), report_exit_meaning(code), code, journal_dir(j));
	fflush(stdout);
}

static int deploy_exec(const struct global_opts *g, int argc, char **argv)
{
	struct node_list nodes = { 0 };
	struct deploy_args a;
	struct repo_sig sig;
	struct repo *repo = NULL;
	struct journal *j = NULL;
	struct deploy_ctx *d = NULL;
	struct fleet *f = NULL;
	char *password = NULL, err[512];
	int r = EXIT_FW_BAD_PARAM;

	cli_nodes_init(&a.nodes);
	cli_select_init(&a.sel);
	a.reboot = REBOOT_NEVER;
	a.reboot_delay_s = 60;
	/* Payloads are not re-hashed here: the engine checks every chunk
	 * against the signed index before any installer runs. */
	if (parse_args(argc, argv, &a) != 0 ||
	    cli_select_open_repo(&a.sel, "deploy", 0, &repo, &sig) != 0 ||
	    cli_nodes_load(&a.nodes, g, "deploy", &nodes, &password) != 0)
		goto out;
	r = EXIT_FW_FAILURE;
	if (start_journal(g->state_dir, argc, argv, &nodes, a.sel.repo,
	    &j) != 0)
		goto out;
	d = deploy_ctx_new(repo, &a.sel.plan, j);
	deploy_ctx_set_reboot(d, a.reboot, a.reboot_delay_s);
	if (fleet_deploy(&a.nodes.fleet, &nodes, a.nodes.pki_dir, d, &f, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet deploy: %s\n", err);
		journal_job_end(j, EXIT_FW_FAILURE, false);
		report_generate(journal_dir(j));
		goto out;
	}
	r = finish_job(j, fleet_interrupted(f));
	print_summary(f, j, r);
out:
	fleet_free(f);
	deploy_ctx_free(d);
	journal_free(j);
	repo_free(repo);
	nodes_free(&nodes);
	cli_select_free(&a.sel);
	secret_free(password);
	return r;
}

const struct command cmd_deploy = {
	.name = "deploy",
	.summary = "bring nodes up to what a repository offers",
	.usage = deploy_usage,
	.exec = deploy_exec,
};
