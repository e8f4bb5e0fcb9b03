#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "err.h"
#include "fleet.h"
#include "nodes.h"
#include "proto.h"
#include "render.h"
#include "secret.h"
#include "state.h"
#include "util.h"

static const char inventory_usage[] =
	"usage: fwfleet inventory (-n FILE | -t LIST) [options]\n"
	"\n"
	"Reaches each node over SSH, ships and starts the engine, reads the\n"
	"node's hardware and firmware inventory over mutual TLS, then stops\n"
	"and removes the engine. Prints a summary per node, then one status\n"
	"line per node.\n"
	"\n"
	"nodes:\n"
	"  -n, --nodes FILE         Ansible-style INI inventory, or host[:port]\n"
	"                           lines\n"
	"  -t, --target LIST        comma-separated: host, host:port,\n"
	"                           [2001:db8::5]:22, fe80::1%eth0\n"
	"SSH:\n"
	"  -u, --user USER          user (default root; ansible_user wins)\n"
	"  -i, --identity FILE      private key (default: ssh-agent, ~/.ssh/id_*)\n"
	"  -k, --ask-pass           ask for the SSH password on the terminal\n"
	"      --password-file FILE read the SSH password from FILE (0600);\n"
	"                           or set FWFLEET_SSH_PASSWORD\n"
	"      --known-hosts FILE   host keys (default ~/.ssh/known_hosts)\n"
	"      --accept-new-host-keys  trust and record unknown host keys\n"
	"                           (a changed key is always refused)\n"
	"      --sudo               run the engine through sudo (non-root user)\n"
	"      --connect-timeout S  SSH connect timeout (default 10)\n"
	"run:\n"
	"  -P, --parallel N         nodes in flight (default 32)\n"
	"      --timeout S          per-request engine timeout (default 120)\n"
	"      --idle-timeout S     engine watchdog: exit and clean up after S\n"
	"                           seconds without the controller (default 600)\n"
	"      --remote-dir DIR     parent of the engine's work dir (default /tmp)\n"
	"      --engine-port N      first engine control port (default 62286)\n"
	"      --compress-engine    ship the engine gzip-compressed (slow links;\n"
	"                           the node needs gzip)\n"
	"      --json               print JSON on stdout (status lines go to\n"
	"                           stderr)\n"
	"\n"
	"exit status: 0 every node ok, 255 a node failed, 254 bad parameters\n";

struct inv_opts {
	struct fleet_opts fleet;
	const char *nodes_file;
	const char *targets;
	const char *password_file;
	int ask_pass;
	int json;
};

enum {
	OPT_PASSWORD_FILE = 256, OPT_KNOWN_HOSTS, OPT_ACCEPT_NEW, OPT_SUDO,
	OPT_CONNECT_TIMEOUT, OPT_TIMEOUT, OPT_IDLE_TIMEOUT, OPT_REMOTE_DIR,
	OPT_ENGINE_PORT, OPT_JSON, OPT_COMPRESS,
};

static int bad(const char *what, const char *value)
{
	fprintf(stderr, "fwfleet inventory: bad %s '%s'; see --help\n", what,
	    value);
	return -1;
}

static int remote_dir_ok(const char *d)
{
	size_t i;

	if (d[0] != '/' || strlen(d) > 256 || strstr(d, "..") != NULL)
		return 0;
	for (i = 0; d[i]; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789_./-", d[i]))
			return 0;
	return 1;
}

static int parse_number(const char *what, long min, long max, long *v)
{
	return fw_parse_long(optarg, min, max, v) == 0 ? 0 : bad(what, optarg);
}

static int parse_opt(int ch, struct inv_opts *o)
{
	struct fleet_opts *f = &o->fleet;
	long v;

	switch (ch) {
	case 'n': o->nodes_file = optarg; return 0;
	case 't': o->targets = optarg; return 0;
	case 'u': f->ssh.default_user = optarg; return 0;
	case 'i': f->ssh.key_file = optarg; return 0;
	case 'k': o->ask_pass = 1; return 0;
	case OPT_PASSWORD_FILE: o->password_file = optarg; return 0;
	case OPT_KNOWN_HOSTS: f->ssh.known_hosts = optarg; return 0;
	case OPT_ACCEPT_NEW: f->ssh.accept_new_host_keys = 1; return 0;
	case OPT_SUDO: f->ssh.use_sudo = 1; return 0;
	case OPT_JSON: o->json = 1; return 0;
	case OPT_COMPRESS: f->compress_engine = 1; return 0;
	case OPT_REMOTE_DIR:
		f->remote_dir = optarg;
		return remote_dir_ok(optarg) ? 0 : bad("--remote-dir", optarg);
	case 'P':
		if (parse_number("--parallel", 1, 4096, &v) != 0)
			return -1;
		f->parallel = (int)v;
		return 0;
	case OPT_CONNECT_TIMEOUT:
		if (parse_number("--connect-timeout", 1, 3600, &v) != 0)
			return -1;
		f->ssh.connect_timeout_s = (int)v;
		return 0;
	case OPT_TIMEOUT:
		if (parse_number("--timeout", 1, 86400, &v) != 0)
			return -1;
		f->talk_timeout_s = (int)v;
		return 0;
	case OPT_IDLE_TIMEOUT:
		if (parse_number("--idle-timeout", 1, 86400, &v) != 0)
			return -1;
		f->idle_timeout_s = (unsigned)v;
		return 0;
	case OPT_ENGINE_PORT:
		if (parse_number("--engine-port", 1, 65535, &v) != 0)
			return -1;
		f->engine_port = (uint16_t)v;
		return 0;
	}
	return -1;
}

static int parse_args(int argc, char **argv, struct inv_opts *o)
{
	static const struct option longopts[] = {
		{ "nodes", required_argument, NULL, 'n' },
		{ "target", required_argument, NULL, 't' },
		{ "user", required_argument, NULL, 'u' },
		{ "identity", required_argument, NULL, 'i' },
		{ "ask-pass", no_argument, NULL, 'k' },
		{ "parallel", required_argument, NULL, 'P' },
		{ "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
		{ "known-hosts", required_argument, NULL, OPT_KNOWN_HOSTS },
		{ "accept-new-host-keys", no_argument, NULL, OPT_ACCEPT_NEW },
		{ "sudo", no_argument, NULL, OPT_SUDO },
		{ "connect-timeout", required_argument, NULL,
		    OPT_CONNECT_TIMEOUT },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
		{ "remote-dir", required_argument, NULL, OPT_REMOTE_DIR },
		{ "engine-port", required_argument, NULL, OPT_ENGINE_PORT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "compress-engine", no_argument, NULL, OPT_COMPRESS },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	fleet_opts_init(&o->fleet);
	while ((ch = getopt_long(argc, argv, "n:t:u:i:kP:", longopts,
	    NULL)) != -1)
		if (parse_opt(ch, o) != 0)
			return -1;
	if (optind != argc)
		return bad("argument", argv[optind]);
	if (o->nodes_file == NULL && o->targets == NULL) {
		fprintf(stderr, "fwfleet inventory: name the nodes with -n FILE "
		    "or -t LIST; see --help\n");
		return -1;
	}
	return 0;
}

static int load_nodes(const struct inv_opts *o, struct node_list *nodes)
{
	char err[512];

	if (o->nodes_file != NULL && nodes_parse_file(o->nodes_file,
	    FW_SSH_PORT, nodes, err, sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet inventory: %s\n", err);
		return -1;
	}
	if (o->targets != NULL && nodes_parse_targets(o->targets,
	    FW_SSH_PORT, nodes, err, sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet inventory: --target: %s\n", err);
		return -1;
	}
	if (nodes->n == 0) {
		fprintf(stderr, "fwfleet inventory: no nodes given\n");
		return -1;
	}
	return 0;
}

/* Finds the password: env, file or prompt (in that order of precedence:
 * an explicit option wins over the environment). */
static int load_password(const struct inv_opts *o, char **pw)
{
	const char *env = getenv("FWFLEET_SSH_PASSWORD");
	char err[512];
	int r = 0;

	*pw = NULL;
	if (o->password_file != NULL)
		r = secret_from_file(o->password_file, pw, err, sizeof(err));
	else if (o->ask_pass)
		r = secret_prompt("SSH password: ", pw, err, sizeof(err));
	else if (env != NULL && env[0] != '\0')
		*pw = xstrdup(env);
	if (r != 0)
		fprintf(stderr, "fwfleet inventory: %s\n", err);
	return r;
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
	struct inv_opts o;
	struct fleet *f = NULL;
	char *password = NULL, pki[4096], err[512];
	int r = EXIT_FW_BAD_PARAM;

	if (parse_args(argc, argv, &o) != 0 || load_nodes(&o, &nodes) != 0 ||
	    load_password(&o, &password) != 0)
		goto out;
	o.fleet.ssh.password = password;
	o.fleet.ssh.verbose = g->verbose >= 3 ? g->verbose - 2 : 0;
	state_path(g->state_dir, "pki", pki, sizeof(pki));
	if (fleet_inventory(&o.fleet, &nodes, pki, &f, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet inventory: %s\n", err);
		r = EXIT_FW_FAILURE;
		goto out;
	}
	r = print_results(f, o.json);
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
