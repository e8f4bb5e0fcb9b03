#include "cli_nodes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "proto.h"
#include "secret.h"
#include "state.h"
#include "util.h"

void cli_nodes_init(struct cli_nodes *c)
{
	memset(c, 0, sizeof(*c));
	fleet_opts_init(&c->fleet);
}

int cli_parse(const char *prog, int argc, char **argv, const char *shortopts,
    const struct option *longopts, int positional,
    int (*take)(void *ctx, int ch, const char *arg), void *ctx)
{
	int ch, r;

	while ((ch = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if ((r = take(ctx, ch, optarg)) == 1)
			fprintf(stderr, "fwfleet %s: bad option; see --help\n",
			    prog);
		if (r != 0)
			return -1;
	}
	if (!positional && optind != argc) {
		fprintf(stderr, "fwfleet %s: bad argument '%s'; see --help\n",
		    prog, argv[optind]);
		return -1;
	}
	return 0;
}

int cli_bad(const char *prog, const char *what, const char *value)
{
	fprintf(stderr, "fwfleet %s: bad %s '%s'; see --help\n", prog, what,
	    value);
	return -1;
}

static int remote_dir_ok(const char *d)
{
	size_t i;

	if (d[0] != '/' || strlen(d) > 256 || strstr(d, "..") != NULL)
		return 0;
	for (i = 0; d[i]; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-", d[i]))
			return 0;
	return 1;
}

/* Numeric options: { code, name, min, max }. */
static const struct {
	int ch;
	const char *name;
	long min, max;
} numbers[] = {
	{ 'P', "--parallel", 1, 4096 },
	{ CLI_OPT_CONNECT_TIMEOUT, "--connect-timeout", 1, 3600 },
	{ CLI_OPT_TIMEOUT, "--timeout", 1, 86400 },
	{ CLI_OPT_IDLE_TIMEOUT, "--idle-timeout", 1, 86400 },
	{ CLI_OPT_ENGINE_PORT, "--engine-port", 1, 65535 },
	{ CLI_OPT_RENEW_WITHIN, "--renew-within", 0, 3650L * 86400 },
};

static int number_opt(struct cli_nodes *c, const char *prog, int ch,
    const char *arg)
{
	struct fleet_opts *f = &c->fleet;
	size_t i;
	long v;

	for (i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
		if (numbers[i].ch == ch)
			break;
	}
	if (i == sizeof(numbers) / sizeof(numbers[0]))
		return 1;
	if (fw_parse_long(arg, numbers[i].min, numbers[i].max, &v) != 0)
		return cli_bad(prog, numbers[i].name, arg);
	switch (ch) {
	case 'P': f->parallel = (int)v; break;
	case CLI_OPT_CONNECT_TIMEOUT: f->ssh.connect_timeout_s = (int)v; break;
	case CLI_OPT_TIMEOUT: f->talk_timeout_s = (int)v; break;
	case CLI_OPT_IDLE_TIMEOUT: f->idle_timeout_s = (unsigned)v; break;
	case CLI_OPT_ENGINE_PORT: f->engine_port = (uint16_t)v; break;
	case CLI_OPT_RENEW_WITHIN: f->renew_within_s = v; break;
	}
	return 0;
}

int cli_nodes_opt(struct cli_nodes *c, const char *prog, int ch,
    const char *arg)
{
	struct fleet_opts *f = &c->fleet;

	switch (ch) {
	case 'n': c->nodes_file = arg; return 0;
	case 't': c->targets = arg; return 0;
	case 'u': f->ssh.default_user = arg; return 0;
	case 'i': f->ssh.key_file = arg; return 0;
	case 'k': c->ask_pass = 1; return 0;
	case CLI_OPT_PASSWORD_FILE: c->password_file = arg; return 0;
	case CLI_OPT_KNOWN_HOSTS: f->ssh.known_hosts = arg; return 0;
	case CLI_OPT_ACCEPT_NEW: f->ssh.accept_new_host_keys = 1; return 0;
	case CLI_OPT_SUDO: f->ssh.use_sudo = 1; return 0;
	case CLI_OPT_COMPRESS: f->compress_engine = 1; return 0;
	case CLI_OPT_OPEN_FIREWALL: f->open_firewall = 1; return 0;
	case CLI_OPT_TUNNEL: f->tunnel = 1; return 0;
	case CLI_OPT_VIA:
		if (strcmp(arg, "auto") == 0)
			f->via = VIA_AUTO;
		else if (strcmp(arg, "agent") == 0)
			f->via = VIA_AGENT;
		else if (strcmp(arg, "ssh") == 0)
			f->via = VIA_SSH;
		else
			return cli_bad(prog, "--via", arg);
		return 0;
	case CLI_OPT_REMOTE_DIR:
		f->remote_dir = arg;
		return remote_dir_ok(arg) ? 0 :
		    cli_bad(prog, "--remote-dir", arg);
	}
	return number_opt(c, prog, ch, arg);
}

int cli_nodes_check(const struct cli_nodes *c, const char *prog)
{
	if (c->nodes_file == NULL && c->targets == NULL) {
		fprintf(stderr, "fwfleet %s: name the nodes with -n FILE or -t "
		    "LIST; see --help\n", prog);
		return -1;
	}
	if (c->fleet.tunnel && c->fleet.via == VIA_AGENT) {
		fprintf(stderr, "fwfleet %s: --tunnel rides inside SSH, --via "
		    "agent skips SSH: choose one\n", prog);
		return -1;
	}
	if (c->fleet.open_firewall && c->fleet.tunnel) {
		fprintf(stderr, "fwfleet %s: --open-firewall and --tunnel do not "
		    "go together: with --tunnel, engine traffic rides inside "
		    "SSH and no port needs opening\n", prog);
		return -1;
	}
	return 0;
}

static int load_list(const struct cli_nodes *c, const char *prog,
    struct node_list *nodes)
{
	char err[512];

	if (c->nodes_file != NULL && nodes_parse_file(c->nodes_file,
	    FW_SSH_PORT, nodes, err, sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet %s: %s\n", prog, err);
		return -1;
	}
	if (c->targets != NULL && nodes_parse_targets(c->targets,
	    FW_SSH_PORT, nodes, err, sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet %s: --target: %s\n", prog, err);
		return -1;
	}
	if (nodes->n == 0) {
		fprintf(stderr, "fwfleet %s: no nodes given\n", prog);
		return -1;
	}
	return 0;
}

/* An explicit option wins over the environment. */
static int load_password(const struct cli_nodes *c, const char *prog,
    char **pw)
{
	const char *env = getenv("FWFLEET_SSH_PASSWORD");
	char err[512];
	int r = 0;

	*pw = NULL;
	if (c->password_file != NULL)
		r = secret_from_file(c->password_file, pw, err, sizeof(err));
	else if (c->ask_pass)
		r = secret_prompt("SSH password: ", pw, err, sizeof(err));
	else if (env != NULL && env[0] != '\0')
		*pw = xstrdup(env);
	if (r != 0)
		fprintf(stderr, "fwfleet %s: %s\n", prog, err);
	return r;
}

int cli_nodes_load(struct cli_nodes *c, const struct global_opts *g,
    const char *prog, struct node_list *nodes, char **password)
{
	*password = NULL;
	/* -vvv and more also make libssh talk. */
	c->fleet.ssh.verbose = g->verbose >= 3 ? g->verbose - 2 : 0;
	if (state_path(g->state_dir, "pki", c->pki_dir,
	    sizeof(c->pki_dir)) != 0) {
		fprintf(stderr, "fwfleet %s: state directory path too long\n",
		    prog);
		return -1;
	}
	c->fleet.state_dir = g->state_dir;
	if (load_list(c, prog, nodes) != 0 ||
	    load_password(c, prog, password) != 0)
		return -1;
	c->fleet.ssh.password = *password;
	return 0;
}
