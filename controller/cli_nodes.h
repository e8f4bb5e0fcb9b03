/*
 * The command-line options every command that works on nodes shares:
 * which nodes (-n FILE, -t LIST), how to reach them over SSH, and how the
 * run goes (parallelism, timeouts, engine port). A command puts
 * CLI_NODES_LONGOPTS into its getopt_long table and CLI_NODES_SHORTOPTS
 * into its short options, hands every option to cli_nodes_opt first, and
 * prints CLI_NODES_USAGE in its --help.
 */
#ifndef FW_CLI_NODES_H
#define FW_CLI_NODES_H

#include <getopt.h>

#include "fleet.h"
#include "nodes.h"

struct global_opts;

struct cli_nodes {
	struct fleet_opts fleet;
	char pki_dir[4096];	/* STATE/pki, set by cli_nodes_load */
	const char *nodes_file;
	const char *targets;
	const char *password_file;
	int ask_pass;
};

/* Option codes 256..299 belong to cli_nodes; commands use 300 and up. */
enum {
	CLI_OPT_PASSWORD_FILE = 256, CLI_OPT_KNOWN_HOSTS, CLI_OPT_ACCEPT_NEW,
	CLI_OPT_SUDO, CLI_OPT_CONNECT_TIMEOUT, CLI_OPT_TIMEOUT,
	CLI_OPT_IDLE_TIMEOUT, CLI_OPT_REMOTE_DIR, CLI_OPT_ENGINE_PORT,
	CLI_OPT_COMPRESS, CLI_OPT_OPEN_FIREWALL, CLI_OPT_TUNNEL, CLI_OPT_VIA,
	CLI_OPT_RENEW_WITHIN,
	CLI_OPT_FIRST_FREE = 300
};

#define CLI_NODES_SHORTOPTS	"n:t:u:i:kP:"

#define CLI_NODES_LONGOPTS \
	{ "nodes", required_argument, NULL, 'n' }, \
	{ "target", required_argument, NULL, 't' }, \
	{ "user", required_argument, NULL, 'u' }, \
	{ "identity", required_argument, NULL, 'i' }, \
	{ "ask-pass", no_argument, NULL, 'k' }, \
	{ "parallel", required_argument, NULL, 'P' }, \
	{ "password-file", required_argument, NULL, CLI_OPT_PASSWORD_FILE }, \
	{ "known-hosts", required_argument, NULL, CLI_OPT_KNOWN_HOSTS }, \
	{ "accept-new-host-keys", no_argument, NULL, CLI_OPT_ACCEPT_NEW }, \
	{ "sudo", no_argument, NULL, CLI_OPT_SUDO }, \
	{ "connect-timeout", required_argument, NULL, \
	    CLI_OPT_CONNECT_TIMEOUT }, \
	{ "timeout", required_argument, NULL, CLI_OPT_TIMEOUT }, \
	{ "idle-timeout", required_argument, NULL, CLI_OPT_IDLE_TIMEOUT }, \
	{ "remote-dir", required_argument, NULL, CLI_OPT_REMOTE_DIR }, \
	{ "engine-port", required_argument, NULL, CLI_OPT_ENGINE_PORT }, \
	{ "compress-engine", no_argument, NULL, CLI_OPT_COMPRESS }, \
	{ "open-firewall", no_argument, NULL, CLI_OPT_OPEN_FIREWALL }, \
	{ "tunnel", no_argument, NULL, CLI_OPT_TUNNEL }, \
	{ "via", required_argument, NULL, CLI_OPT_VIA }, \
	{ "renew-within", required_argument, NULL, CLI_OPT_RENEW_WITHIN }

#define CLI_NODES_USAGE \
	"nodes:\n" \
	"  -n, --nodes FILE         Ansible-style INI inventory, " \
	    "or host[:port]\n" \
	"                           lines\n" \
	"  -t, --target LIST        comma-separated: host, host:port,\n" \
	"                           [2001:db8::5]:22, fe80::1%eth0\n" \
	"SSH:\n" \
	"  -u, --user USER          user (default root; ansible_user wins)\n" \
	"  -i, --identity FILE      private key (default: " \
	    "ssh-agent, ~/.ssh/id_*)\n" \
	"  -k, --ask-pass           ask for the SSH password on " \
	    "the terminal\n" \
	"      --password-file FILE read the SSH password from FILE (0600);\n" \
	"                           or set FWFLEET_SSH_PASSWORD\n" \
	"      --known-hosts FILE   host keys (default ~/.ssh/known_hosts)\n" \
	"      --accept-new-host-keys  trust and record unknown host keys\n" \
	"                           (a changed key is always refused)\n" \
	"      --sudo               run the engine through sudo " \
	    "(non-root user)\n" \
	"      --connect-timeout S  SSH connect timeout (default 10)\n" \
	"run:\n" \
	"  -P, --parallel N         nodes in flight (default 32)\n" \
	"      --timeout S          per-request engine timeout " \
	    "(default 120)\n" \
	"      --idle-timeout S     engine watchdog: exit and " \
	    "clean up after S\n" \
	"                           seconds without the controller " \
	    "(default 600)\n" \
	"      --remote-dir DIR     parent of the engine's work " \
	    "dir (default /tmp)\n" \
	"      --engine-port N      first engine control port " \
	    "(default 62286)\n" \
	"      --compress-engine    ship the engine " \
	    "gzip-compressed (slow links;\n" \
	"                           the node needs gzip)\n" \
	"network:\n" \
	"      --open-firewall      open the engine's port in each node's " \
	    "firewall\n" \
	"                           (iptables/ip6tables or nftables) and " \
	    "the HTTPS\n" \
	"                           port on this host; closed again at the " \
	    "end\n" \
	"      --tunnel             carry all engine traffic inside SSH " \
	    "(port\n" \
	"                           forwarding): no firewall change, no " \
	    "route\n" \
	"                           from the nodes to this host needed\n" \
	"      --via auto|agent|ssh persistent agents: auto (default) talks " \
	    "to a\n" \
	"                           node's agent when one answers, else " \
	    "goes by SSH\n" \
	"      --renew-within S     renew an agent's certificate that " \
	    "expires within\n" \
	"                           S seconds (default 2592000, 30 days)\n"

/* Clears c and fills the fleet defaults. */
void cli_nodes_init(struct cli_nodes *c);

/*
 * Takes option ch (with optarg) if it is one of ours. Returns 0 if taken,
 * 1 if not ours, -1 (message printed as "fwfleet PROG: ...") if its value
 * is bad.
 */
int cli_nodes_opt(struct cli_nodes *c, const char *prog, int ch,
    const char *arg);

/*
 * The option loop of every command: getopt_long over argv, each option
 * handed to take(ctx, ch, arg), which returns 0 (taken), 1 (not its own)
 * or -1 (a bad value, already said). An unknown option, and (unless
 * positional) an argument left over, are said here. Returns 0 or -1.
 */
int cli_parse(const char *prog, int argc, char **argv, const char *shortopts,
    const struct option *longopts, int positional,
    int (*take)(void *ctx, int ch, const char *arg), void *ctx);

/* Prints "fwfleet PROG: bad WHAT 'VALUE'; see --help"; returns -1. */
int cli_bad(const char *prog, const char *what, const char *value);

/* After parsing: -n or -t must be given. Prints the error; 0 or -1. */
int cli_nodes_check(const struct cli_nodes *c, const char *prog);

/*
 * Loads the node list and the SSH password (--password-file, -k, else
 * FWFLEET_SSH_PASSWORD) into c->fleet.ssh.password (*password owns it:
 * free with secret_free). Prints errors; returns 0 or -1.
 */
int cli_nodes_load(struct cli_nodes *c, const struct global_opts *g,
    const char *prog, struct node_list *nodes, char **password);

#endif
