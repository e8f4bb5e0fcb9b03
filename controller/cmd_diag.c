#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_nodes.h"
#include "command.h"
#include "diag_client.h"
#include "diag_render.h"
#include "err.h"
#include "nodes.h"
#include "proto.h"
#include "secret.h"
#include "util.h"

static const char diag_usage[] =
	"usage: fwfleet diag [NODE...] [-n FILE] [-t LIST] [options]\n"
	"\n"
	"Asks the engine or persistent agent running on each node what it is\n"
	"doing, over mutual TLS with a short-lived certificate (role diag,\n"
	"10 minutes) from this controller's CA: version and build, mode,\n"
	"uptime, pid, state and job, each component's phase, percent and\n"
	"bytes, recent errors, firewall rules held, work and state\n"
	"directories, certificate, when the controller was last seen.\n"
	"Asking does not keep an engine whose controller is gone alive.\n"
	"No SSH: the engine's port must be reachable.\n"
	"\n"
	"nodes (a port given with a node is SSH's, and not used here):\n"
	"  NODE...                  host, 198.18.0.11, [2001:db8::5], "
	    "fe80::1%eth0\n"
	"  -n, --nodes FILE         Ansible-style INI inventory, or "
	    "host[:port]\n"
	"                           lines\n"
	"  -t, --target LIST        comma-separated nodes\n"
	"options:\n"
	"      --engine-port N      first port to try (default 62286): "
	    "ports are\n"
	"                           tried upward while refused (64 at "
	    "most);\n"
	"                           the first engine that answers is shown\n"
	"      --connect-timeout S  per port (default 5)\n"
	"      --timeout S          TLS handshake and each reply "
	    "(default 10)\n"
	"  -P, --parallel N         nodes asked at once (default 32)\n"
	"      --json               print JSON on stdout (errors also go to\n"
	"                           stderr)\n"
	"\n"
	"exit status: 0 every node answered, 255 a node did not, 254 bad "
	    "parameters\n";

enum { OPT_JSON = CLI_OPT_FIRST_FREE };

/* One node's question and answer. */
struct diag_job {
	const struct node_spec *spec;
	Fwfleet__Diag *diag;
	uint16_t port;
	char err[768];
};

struct diag_run {
	struct diag_client *dc;
	struct diag_job *jobs;
	size_t n;
	size_t next;
	pthread_mutex_t mu;
};

/* Positional NODEs join -t's list. */
static int add_positional(struct cli_nodes *c, int argc, char **argv,
    char **joined)
{
	char *prev;
	int i;

	*joined = NULL;
	for (i = optind; i < argc; i++) {
		if (argv[i][0] == '\0' || strchr(argv[i], ',') != NULL)
			return cli_bad("diag", "node", argv[i]);
		prev = *joined;
		*joined = xasprintf("%s%s%s", prev ? prev : "", prev ? "," : "",
		    argv[i]);
		free(prev);
	}
	if (*joined != NULL && c->targets != NULL) {
		prev = *joined;
		*joined = xasprintf("%s,%s", c->targets, prev);
		free(prev);
	}
	if (*joined != NULL)
		c->targets = *joined;
	return 0;
}

struct diag_opts {
	struct cli_nodes *c;
	int *json;
};

static int take(void *ctx, int ch, const char *arg)
{
	struct diag_opts *d = ctx;
	int r = cli_nodes_opt(d->c, "diag", ch, arg);

	if (r == 1 && ch == OPT_JSON) {
		*d->json = 1;
		r = 0;
	}
	return r;
}

static int parse_args(int argc, char **argv, struct cli_nodes *c, int *json,
    char **joined)
{
	static const struct option longopts[] = {
		{ "nodes", required_argument, NULL, 'n' },
		{ "target", required_argument, NULL, 't' },
		{ "parallel", required_argument, NULL, 'P' },
		{ "connect-timeout", required_argument, NULL,
		    CLI_OPT_CONNECT_TIMEOUT },
		{ "timeout", required_argument, NULL, CLI_OPT_TIMEOUT },
		{ "engine-port", required_argument, NULL, CLI_OPT_ENGINE_PORT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ NULL, 0, NULL, 0 },
	};
	struct diag_opts d = { c, json };

	*json = 0;
	*joined = NULL;
	if (cli_parse("diag", argc, argv, "n:t:P:", longopts, 1, take,
	    &d) != 0)
		return -1;
	if (add_positional(c, argc, argv, joined) != 0)
		return -1;
	if (c->nodes_file == NULL && c->targets == NULL) {
		fprintf(stderr, "fwfleet diag: name the nodes (NODE..., -n "
		    "FILE or -t LIST); see --help\n");
		return -1;
	}
	return 0;
}

static void *worker(void *arg)
{
	struct diag_run *run = arg;
	struct diag_job *j;
	size_t i;

	for (;;) {
		pthread_mutex_lock(&run->mu);
		i = run->next++;
		pthread_mutex_unlock(&run->mu);
		if (i >= run->n)
			return NULL;
		j = &run->jobs[i];
		diag_client_ask(run->dc, &j->spec->addr, &j->diag, &j->port,
		    j->err, sizeof(j->err));
	}
}

/* Asks every node, parallel at a time. */
static void ask_all(struct diag_run *run, int parallel)
{
	pthread_t *th;
	int i, n = parallel < (int)run->n ? parallel : (int)run->n, started;

	th = xcalloc((size_t)(n ? n : 1), sizeof(*th));
	pthread_mutex_init(&run->mu, NULL);
	for (started = 0; started < n; started++)
		if (pthread_create(&th[started], NULL, worker, run) != 0)
			break;
	if (started == 0)
		worker(run);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&run->mu);
	free(th);
}

static int print_results(const struct diag_run *run, int json)
{
	struct diag_entry *v = xcalloc(run->n, sizeof(*v));
	size_t i, failed = 0;

	for (i = 0; i < run->n; i++) {
		v[i].name = run->jobs[i].spec->name;
		v[i].address = run->jobs[i].spec->addr.host;
		v[i].diag = run->jobs[i].diag;
		v[i].error = run->jobs[i].diag ? NULL : run->jobs[i].err;
		failed += v[i].diag == NULL;
		if (json && v[i].diag == NULL)
			fprintf(stderr, "fwfleet diag: %s: %s\n", v[i].name,
			    v[i].error);
	}
	if (json)
		diag_render_json(stdout, v, run->n, time(NULL));
	else
		diag_render_text(stdout, v, run->n, time(NULL));
	fflush(stdout);
	free(v);
	return failed ? EXIT_FW_FAILURE : EXIT_FW_OK;
}

static int diag_exec(const struct global_opts *g, int argc, char **argv)
{
	struct node_list nodes = { 0 };
	struct diag_client_opts o;
	struct diag_run run = { 0 };
	struct cli_nodes c;
	char *password = NULL, *joined = NULL, err[512];
	int r = EXIT_FW_BAD_PARAM, json;
	size_t i;

	cli_nodes_init(&c);
	diag_client_opts_init(&o);
	c.fleet.ssh.connect_timeout_s = o.connect_timeout_s;
	c.fleet.talk_timeout_s = o.timeout_s;
	if (parse_args(argc, argv, &c, &json, &joined) != 0 ||
	    cli_nodes_load(&c, g, "diag", &nodes, &password) != 0)
		goto out;
	o.first_port = c.fleet.engine_port;
	o.connect_timeout_s = c.fleet.ssh.connect_timeout_s;
	o.timeout_s = c.fleet.talk_timeout_s;
	if (diag_client_new(c.pki_dir, &o, &run.dc, err, sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet diag: %s\n", err);
		r = EXIT_FW_FAILURE;
		goto out;
	}
	run.n = nodes.n;
	run.jobs = xcalloc(nodes.n, sizeof(*run.jobs));
	for (i = 0; i < nodes.n; i++)
		run.jobs[i].spec = &nodes.v[i];
	signal(SIGPIPE, SIG_IGN);	/* an engine may close first */
	ask_all(&run, c.fleet.parallel);
	r = print_results(&run, json);
out:
	for (i = 0; i < run.n; i++)
		if (run.jobs[i].diag != NULL)
			fwfleet__diag__free_unpacked(run.jobs[i].diag, NULL);
	free(run.jobs);
	diag_client_free(run.dc);
	nodes_free(&nodes);
	secret_free(password);
	free(joined);
	return r;
}

const struct command cmd_diag = {
	.name = "diag",
	.summary = "show what the engine or agent on nodes is doing",
	.usage = diag_usage,
	.exec = diag_exec,
};
