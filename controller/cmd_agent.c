#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_nodes.h"
#include "command.h"
#include "err.h"
#include "fleet.h"
#include "nodes.h"
#include "render.h"
#include "secret.h"
#include "util.h"

static const char agent_usage[] =
	"usage: fwfleet agent install|upgrade|remove|list (-n FILE | -t LIST) "
	"[options]\n"
	"\n"
	"Persistent agents, for hosts updated often: the engine installed for\n"
	"good, so that inventory and deploy go straight to mutual TLS.\n"
	"  install  ships the engine, has it make a key and a certificate\n"
	"           request on the node, signs it with this controller's CA,\n"
	"           and starts it: a hardened systemd unit where systemd runs\n"
	"           the host, else its own supervisor (fwfleet-engine agent\n"
	"           start); it serves on --engine-port (default 62286)\n"
	"  upgrade  replaces the binary with this controller's engine and\n"
	"           restarts it (same key and certificate)\n"
	"  remove   stops it and removes everything install made\n"
	"  list     what each node has: version, running, port, certificate\n"
	"\n"
	"      --cert-lifetime S    the agent certificate's lifetime in seconds\n"
	"                           (default 7776000, 90 days)\n"
	"      --require-signed --pubkey FILE\n"
	"                           install: pin this repository key (PEM,\n"
	"                           from repo keygen); the agent then stages and\n"
	"                           installs only components of an index it\n"
	"                           signed, running their manifest's command\n"
	"      --open-firewall      install: the agent opens its port in the\n"
	"                           node's firewall (rules tagged\n"
	"                           fwfleet:agent) each time it starts, and\n"
	"                           closes it when stopped or removed\n"
	"\n"
	CLI_NODES_USAGE
	"\n"
	"exit status: 0 every node ok, 255 a node failed, 254 bad parameters\n";

enum { OPT_LIFETIME = CLI_OPT_FIRST_FREE, OPT_REQUIRE_SIGNED, OPT_PUBKEY };

static const struct {
	const char *name;
	enum fleet_job job;
} verbs[] = {
	{ "install", FLEET_AGENT_INSTALL }, { "upgrade", FLEET_AGENT_UPGRADE },
	{ "remove", FLEET_AGENT_REMOVE }, { "list", FLEET_AGENT_STATUS },
};

struct agent_args {
	struct cli_nodes nodes;
	enum fleet_job job;
	int require_signed;
	const char *pubkey;
};

static int take(void *ctx, int ch, const char *arg)
{
	struct agent_args *a = ctx;
	int r = cli_nodes_opt(&a->nodes, "agent", ch, arg);

	if (r != 1)
		return r;
	switch (ch) {
	case OPT_LIFETIME:
		return fw_parse_long(arg, 60, 3650L * 86400,
		    &a->nodes.fleet.agent_cert_validity_s) == 0 ? 0 :
		    cli_bad("agent", "--cert-lifetime", arg);
	case OPT_REQUIRE_SIGNED:
		a->require_signed = 1;
		return 0;
	case OPT_PUBKEY:
		a->pubkey = arg;
		return 0;
	}
	return 1;
}

static int parse_args(int argc, char **argv, struct agent_args *a)
{
	static const struct option longopts[] = {
		CLI_NODES_LONGOPTS,
		{ "cert-lifetime", required_argument, NULL, OPT_LIFETIME },
		{ "require-signed", no_argument, NULL, OPT_REQUIRE_SIGNED },
		{ "pubkey", required_argument, NULL, OPT_PUBKEY },
		{ NULL, 0, NULL, 0 },
	};
	size_t i;

	for (i = 0; argc >= 2 && i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			break;
	if (argc < 2 || i == sizeof(verbs) / sizeof(verbs[0])) {
		fprintf(stderr, "fwfleet agent: say install, upgrade, remove or "
		    "list; see --help\n");
		return -1;
	}
	a->job = verbs[i].job;
	if (cli_parse("agent", argc - 1, argv + 1, CLI_NODES_SHORTOPTS,
	    longopts, 0, take, a) != 0)
		return -1;
	if (a->require_signed != (a->pubkey != NULL) ||
	    (a->require_signed && a->job != FLEET_AGENT_INSTALL)) {
		fprintf(stderr, "fwfleet agent: --require-signed goes with "
		    "--pubkey FILE, on install\n");
		return -1;
	}
	return cli_nodes_check(&a->nodes, "agent");
}

/* The repository key to pin (a PEM public key). */
static char *load_pubkey(const char *path)
{
	char *pem = NULL;
	size_t len;

	if (fw_read_file(path, 64 * 1024, &pem, &len) != 0 ||
	    strstr(pem, "-----BEGIN PUBLIC KEY-----") == NULL) {
		fprintf(stderr, "fwfleet agent: %s is not a PEM public key (the "
		    ".pub that repo keygen wrote)\n", path);
		free(pem);
		return NULL;
	}
	return pem;
}

/* The value of "key=value" in text, into buf. */
static const char *kv(const char *text, const char *key, char *buf,
    size_t len)
{
	size_t kl = strlen(key);
	const char *p;

	buf[0] = '\0';
	for (p = text; p != NULL && *p != '\0'; p = strchr(p, '\n')) {
		p += *p == '\n';
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			fw_snprintf(buf, len, "%.*s", (int)strcspn(p + kl + 1,
			    "\n"), p + kl + 1);
			break;
		}
	}
	return buf;
}

/* One line from `fwfleet-engine agent status` output. */
static void print_status(const char *name, const char *out)
{
	char inst[8], ver[64], port[16], run[8], pid[16], subj[256], na[32];
	char when[32] = "?";
	long long t;
	time_t tt;

	if (strcmp(kv(out, "installed", inst, sizeof(inst)), "yes") != 0) {
		printf("%s: no agent\n", name);
		return;
	}
	kv(out, "cert_not_after", na, sizeof(na));
	if (sscanf(na, "%lld", &t) == 1) {
		tt = (time_t)t;
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&tt));
	}
	kv(out, "version", ver, sizeof(ver));
	kv(out, "running", run, sizeof(run));
	kv(out, "pid", pid, sizeof(pid));
	kv(out, "port", port, sizeof(port));
	kv(out, "cert_subject", subj, sizeof(subj));
	if (strcmp(run, "yes") == 0)
		printf("%s: agent %s, running (pid %s), port %s, certificate %s "
		    "until %s\n", name, ver, pid, port, subj, when);
	else
		printf("%s: agent %s, NOT running, port %s, certificate %s until "
		    "%s\n", name, ver, port, subj, when);
}

static int print_results(const struct fleet *f, enum fleet_job job)
{
	const struct node_result *res;
	size_t n, i, failed = 0;

	res = fleet_results(f, &n);
	for (i = 0; i < n; i++) {
		failed += !res[i].ok;
		if (!res[i].ok || res[i].output == NULL)
			continue;
		if (job == FLEET_AGENT_STATUS)
			print_status(res[i].name, res[i].output);
		else
			printf("%s: %s\n", res[i].name, res[i].output);
	}
	render_status_lines(stdout, res, n);
	fflush(stdout);
	return failed ? EXIT_FW_FAILURE : EXIT_FW_OK;
}

static int agent_exec(const struct global_opts *g, int argc, char **argv)
{
	struct node_list nodes = { 0 };
	struct agent_args a = { .require_signed = 0 };
	struct fleet *f = NULL;
	char *password = NULL, err[512], *pub = NULL;
	int r = EXIT_FW_BAD_PARAM;

	cli_nodes_init(&a.nodes);
	if (parse_args(argc, argv, &a) != 0 ||
	    (a.pubkey != NULL && (pub = load_pubkey(a.pubkey)) == NULL) ||
	    cli_nodes_load(&a.nodes, g, "agent", &nodes, &password) != 0)
		goto out;
	a.nodes.fleet.agent_repo_pub = pub;
	if (fleet_run_job(&a.nodes.fleet, &nodes, a.nodes.pki_dir, a.job, &f,
	    err, sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet agent: %s\n", err);
		r = EXIT_FW_FAILURE;
		goto out;
	}
	r = print_results(f, a.job);
out:
	fleet_free(f);
	nodes_free(&nodes);
	secret_free(password);
	free(pub);
	return r;
}

const struct command cmd_agent = {
	.name = "agent",
	.summary = "install, upgrade, remove or list persistent agents",
	.usage = agent_usage,
	.exec = agent_exec,
};
