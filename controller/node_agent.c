/*
 * The persistent agent over SSH (fwfleet agent install|upgrade|remove|
 * list): worker steps, one node each. The agent's files live under the
 * node's root (agent/agent.h): "/" on a real host, the test tree on the
 * namespace test nodes (FWFLEET_SYSROOT), where systemd is never used.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent_unit.h"
#include "err.h"
#include "fleet.h"
#include "log.h"
#include "node.h"
#include "util.h"

#define AGENT_TIMEOUT_MS	60000

/* Every script starts here: $r the root ("" for /), $b the binary's
 * directory, $s the state directory, $u the systemd unit (real root and
 * a running systemd only). */
#define AGENT_VARS \
	"r=${FWFLEET_SYSROOT:-}; [ \"$r\" = / ] && r=; r=${r%/}\n" \
	"b=$r/usr/local/libexec/fwfleet; s=$r/var/lib/fwfleet\n" \
	"u=; [ -z \"$r\" ] && [ -d /run/systemd/system ] && " \
	"command -v systemctl >/dev/null && " \
	"u=/etc/systemd/system/fwfleet-agent.service\n" \
	"e=\"$b/fwfleet-engine\"\n"

/*
 * Install, part 1 (after the ship script put the engine in $d): the
 * directories (those it creates are recorded, newest first, so that
 * remove takes exactly them away), the binary, a new key and its CSR on
 * stdout. An agent already there is stopped first (re-enrollment).
 */
static const char install_tail[] =
	AGENT_VARS
	"[ -x \"$e\" ] && \"$e\" agent stop --root \"${r:-/}\"\n"
	"made=\n"
	"for x in \"$r/usr\" \"$r/usr/local\" \"$r/usr/local/libexec\" \"$b\" "
	"\"$r/etc\" \"$r/etc/fwfleet\" \"$r/var\" \"$r/var/lib\" \"$s\"; do\n"
	"  [ -d \"$x\" ] && continue\n"
	"  mkdir -m 755 -- \"$x\" || exit 96\n"
	"  made=\"$x\n$made\"\n"
	"done\n"
	"chmod 700 \"$s\" || exit 96\n"
	"printf '%s' \"$made\" >> \"$s/created-dirs\" || exit 96\n"
	"cp \"$d/fwfleet-engine\" \"$e.new\" && chmod 755 \"$e.new\" && "
	"mv -f \"$e.new\" \"$e\" || exit 97\n"
	"rm -rf -- \"$d\"\n"
	"exec \"$e\" agent csr --root \"${r:-/}\"\n";

/* Starts (or restarts) the agent: systemd, else its own supervisor. */
#define AGENT_START \
	"if [ -n \"$u\" ]; then\n" \
	"  cat > \"$u\" <<'FWFLEET_UNIT'\n" AGENT_UNIT "FWFLEET_UNIT\n" \
	"  systemctl daemon-reload && systemctl enable fwfleet-agent.service " \
	"&& systemctl restart fwfleet-agent.service || exit 98\n" \
	"  echo 'READY systemd'\n" \
	"else\n" \
	"  \"$e\" agent stop --root \"${r:-/}\"\n" \
	"  exec \"$e\" agent start --root \"${r:-/}\"\n" \
	"fi\n"

/* Install, part 2: certificate and CA on stdin, then start. */
static char *enroll_script(unsigned port, const char *name, int open_firewall)
{
	char *q = fw_sh_quote(name);
	char *s = xasprintf("%s\"$e\" agent enroll --root \"${r:-/}\" "
	    "--port %u --name %s%s || exit 1\n%s", AGENT_VARS, port, q,
	    open_firewall ? " --open-firewall" : "", AGENT_START);

	free(q);
	return s;
}

static const char upgrade_tail[] =
	AGENT_VARS
	"[ -x \"$e\" ] || { rm -rf -- \"$d\"; echo 'no agent here: use "
	"fwfleet agent install' >&2; exit 1; }\n"
	"cp \"$d/fwfleet-engine\" \"$e.new\" && chmod 755 \"$e.new\" && "
	"mv -f \"$e.new\" \"$e\" || exit 97\n"
	"rm -rf -- \"$d\"\n"
	AGENT_START;

/* Stops the agent and removes exactly what install made. */
static const char remove_script[] =
	AGENT_VARS
	"if [ -n \"$u\" ] && [ -f \"$u\" ]; then\n"
	"  systemctl disable --now fwfleet-agent.service\n"
	"  rm -f -- \"$u\" && systemctl daemon-reload\n"
	"fi\n"
	"[ -x \"$e\" ] && \"$e\" agent stop --root \"${r:-/}\"\n"
	"made=$(cat \"$s/created-dirs\" 2>/dev/null)\n"
	"rm -rf -- \"$s\" \"$r/etc/fwfleet/agent.conf\" \"$e\" || exit 1\n"
	"printf '%s\\n' \"$made\" | while read -r x; do\n"
	"  [ -n \"$x\" ] && rmdir -- \"$x\" 2>/dev/null\n"
	"done\n"
	"[ ! -e \"$s\" ] && [ ! -e \"$e\" ] || exit 1\n"
	"echo removed\n";

static const char status_script[] =
	AGENT_VARS
	"[ -x \"$e\" ] && exec \"$e\" agent status --root \"${r:-/}\"\n"
	"echo installed=no\n";

/*
 * Whether this controller reaches the agent it just started. The agent
 * runs either way (--via auto then goes by SSH), but a firewall that
 * drops its port is worth a word. Refused while systemd starts it: tried
 * again until the connect timeout.
 */
static void check_reachable(struct node *n, uint16_t port)
{
	const struct fleet_opts *o = fleet_opts(n->fleet);
	uint64_t end = fw_now_ms() + (uint64_t)o->ssh.connect_timeout_s * 1000;
	char why[400], *out;
	int fd;

	while ((fd = node_dial(n, port, o->ssh.connect_timeout_s, why,
	    sizeof(why))) < 0 && errno == ECONNREFUSED && fw_now_ms() < end)
		usleep(200 * 1000);
	if (fd >= 0) {
		close(fd);
		return;
	}
	out = xasprintf("%s; but this controller cannot reach it: %s: %s",
	    n->job_out, why, o->open_firewall ? "its own firewall is open, "
	    "so one on the way drops the port" : "does a firewall drop the "
	    "port? `fwfleet agent install --open-firewall` opens the node's");
	free(n->job_out);
	n->job_out = out;
}

/* "READY <port>" or "READY systemd" from the start. */
static void agent_started(struct node *n, const char *out)
{
	const struct fleet_opts *o = fleet_opts(n->fleet);
	const char *ready = strstr(out, "READY ");
	char how[96], *end;
	uint16_t port = o->engine_port;
	long p = 0;
	int install;

	if (ready != NULL && strncmp(ready + 6, "systemd", 7) == 0) {
		fw_snprintf(how, sizeof(how), "(systemd unit fwfleet-agent)");
	} else if (ready != NULL && (p = strtol(ready + 6, &end, 10)) >= 1 &&
	    p <= 65535 && end != ready + 6) {
		port = (uint16_t)p;
		fw_snprintf(how, sizeof(how), "on port %ld (its own "
		    "supervisor)", p);
	} else {
		fw_snprintf(n->step_err, sizeof(n->step_err), "the agent did "
		    "not report READY and its port");
		n->step_rc = FW_ERR_PROTOCOL;
		return;
	}
	install = fleet_job(n->fleet) == FLEET_AGENT_INSTALL;
	n->job_out = xasprintf("agent running %s%s%s", how,
	    install && o->agent_repo_pub != NULL ? ", installing only "
	    "components signed by the pinned repository key" : "",
	    install && o->open_firewall ? ", its port open in the node's "
	    "firewall while it runs" : "");
	n->step_rc = 0;
	check_reachable(n, port);
}

void node_step_agent_install(void *arg)
{
	struct node *n = arg;
	struct exec_result res = { 0 };
	char *chain = NULL, *cmd;
	size_t len;

	n->step_rc = node_ship(n, install_tail, &res);
	n->engine_started = 0;	/* the tail removed the work directory */
	if (n->step_rc != 0)
		goto out;
	if ((n->step_rc = fleet_sign_agent(n->fleet, n, res.out, res.out_len,
	    &chain, &len)) != 0)
		goto out;
	if (fleet_opts(n->fleet)->agent_repo_pub != NULL) {
		/* --require-signed: the repository key to pin, after them. */
		char *all = xasprintf("%s%s", chain,
		    fleet_opts(n->fleet)->agent_repo_pub);

		free(chain);
		chain = all;
		len = strlen(chain);
	}
	exec_result_free(&res);
	cmd = enroll_script(fleet_opts(n->fleet)->engine_port, n->spec->name,
	    fleet_opts(n->fleet)->open_firewall);
	n->step_rc = node_exec(n, "cannot enroll and start the agent", cmd,
	    chain, len, AGENT_TIMEOUT_MS, &res);
	free(cmd);
	if (n->step_rc == 0)
		agent_started(n, res.out);
out:
	free(chain);
	exec_result_free(&res);
}

void node_step_agent_upgrade(void *arg)
{
	struct node *n = arg;
	struct exec_result res = { 0 };

	n->step_rc = node_ship(n, upgrade_tail, &res);
	n->engine_started = 0;
	if (n->step_rc == 0)
		agent_started(n, res.out);
	exec_result_free(&res);
}

void node_step_agent_remove(void *arg)
{
	struct node *n = arg;
	struct exec_result res = { 0 };

	n->step_rc = node_exec(n, "cannot remove the agent", remove_script,
	    NULL, 0, AGENT_TIMEOUT_MS, &res);
	if (n->step_rc == 0)
		n->job_out = xstrdup("agent removed; nothing left");
	exec_result_free(&res);
}

void node_step_agent_status(void *arg)
{
	struct node *n = arg;
	struct exec_result res = { 0 };

	n->step_rc = node_exec(n, "cannot ask for the agent's status",
	    status_script, NULL, 0, AGENT_TIMEOUT_MS, &res);
	if (n->step_rc == 0) {
		fw_rtrim(res.out);
		n->job_out = xstrdup(res.out);
	}
	exec_result_free(&res);
}
