/*
 * The blocking steps of a node's run, executed on worker threads. Each
 * step touches only its own node and sets step_rc / step_err; the FSM
 * acts on them back on the loop thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_image.h"
#include "err.h"
#include "fleet.h"
#include "log.h"
#include "node.h"
#include "util.h"

#define PRE_TIMEOUT_MS		30000
#define SHIP_TIMEOUT_MS		120000
#define START_TIMEOUT_MS	30000
#define CLEANUP_TIMEOUT_MS	30000

/* Single-quotes s for /bin/sh. Caller frees. */
static char *sh_quote(const char *s)
{
	size_t n = 2, i, j = 0;
	char *q;

	for (i = 0; s[i]; i++)
		n += s[i] == '\'' ? 4 : 1;
	q = xmalloc(n + 1);
	q[j++] = '\'';
	for (i = 0; s[i]; i++) {
		if (s[i] == '\'') {
			memcpy(q + j, "'\\''", 4);
			j += 4;
		} else {
			q[j++] = s[i];
		}
	}
	q[j++] = '\'';
	q[j] = '\0';
	return q;
}

/* Runs cmd; a non-zero exit becomes FW_ERR_REMOTE with what/stderr. */
static int run(struct node *n, const char *what, const char *cmd,
    const void *in, size_t inlen, int timeout_ms, struct exec_result *res)
{
	char err[512];
	int r;

	r = transport_exec(n->tp, cmd, in, inlen, timeout_ms, res, err,
	    sizeof(err));
	if (r != 0) {
		fw_snprintf(n->step_err, sizeof(n->step_err), "%s: %s", what,
		    err);
		return r;
	}
	if (res->exit_status != 0) {
		fw_rtrim(res->err);
		fw_snprintf(n->step_err, sizeof(n->step_err), "%s: exit "
		    "status %d%s%s", what, res->exit_status,
		    res->err[0] ? ": " : "", res->err);
		return FW_ERR_REMOTE;
	}
	return 0;
}

void node_step_connect(void *arg)
{
	struct node *n = arg;
	const struct fleet_opts *o = fleet_opts(n->fleet);

	n->step_rc = transport_ssh_connect(n->spec, &o->ssh, &n->tp,
	    n->step_err, sizeof(n->step_err));
	if (n->step_rc == 0 &&
	    transport_peer_addr(n->tp, &n->peer, &n->peer_len) != 0) {
		fw_snprintf(n->step_err, sizeof(n->step_err), "cannot tell "
		    "the node's address from the SSH connection");
		n->step_rc = FW_ERR_INTERNAL;
	}
}

/* Reads OS, arch and uid; picks the engine build. */
static int pre_inventory(struct node *n)
{
	const struct fleet_opts *o = fleet_opts(n->fleet);
	struct exec_result res = { 0 };
	const char *target;
	char *nl, *uid;
	int r;

	if ((r = run(n, "pre-inventory", "uname -sm && id -u", NULL, 0,
	    PRE_TIMEOUT_MS, &res)) != 0)
		goto out;
	r = FW_ERR_UNSUPPORTED;
	if ((nl = strchr(res.out, '\n')) == NULL)
		goto bad;
	*nl = '\0';
	uid = nl + 1;
	fw_rtrim(uid);
	if ((target = engine_image_target(res.out)) == NULL) {
		fw_snprintf(n->step_err, sizeof(n->step_err), "unsupported "
		    "platform '%s' (engines: linux-x86_64)", res.out);
		goto out;
	}
	fw_snprintf(n->target, sizeof(n->target), "%s", target);
	if (strcmp(uid, "0") != 0 && !o->ssh.use_sudo) {
		fw_snprintf(n->step_err, sizeof(n->step_err), "logged in as "
		    "uid %s, but the engine needs root: log in as root or "
		    "add --sudo", uid);
		goto out;
	}
	r = 0;
	goto out;
bad:
	fw_snprintf(n->step_err, sizeof(n->step_err), "pre-inventory: "
	    "unexpected output from uname/id");
out:
	exec_result_free(&res);
	return r;
}

static int ship_engine(struct node *n)
{
	const struct engine_image *img;
	struct exec_result res = { 0 };
	char *d = sh_quote(n->workdir), *cmd = NULL;
	char err[256];
	int r = FW_ERR_NOT_FOUND;

	if ((img = engine_image_get(n->target, err, sizeof(err))) == NULL) {
		fw_snprintf(n->step_err, sizeof(n->step_err), "%s", err);
		goto out;
	}
	cmd = xasprintf("umask 077 && mkdir -m 700 -- %s && "
	    "cat > %s/fwfleet-engine && chmod 700 %s/fwfleet-engine",
	    d, d, d);
	r = run(n, "cannot ship the engine", cmd, img->data, img->len,
	    SHIP_TIMEOUT_MS, &res);
out:
	exec_result_free(&res);
	free(cmd);
	free(d);
	return r;
}

static int parse_ready(struct node *n, const char *out)
{
	long port;
	char line[64];

	if (strncmp(out, "READY ", 6) != 0 ||
	    fw_snprintf(line, sizeof(line), "%s", out + 6) != 0)
		goto bad;
	fw_rtrim(line);
	if (fw_parse_long(line, 1, 65535, &port) != 0)
		goto bad;
	n->engine_port = (uint16_t)port;
	return 0;
bad:
	fw_snprintf(n->step_err, sizeof(n->step_err), "the engine started "
	    "but did not report READY (got '%.40s')", out);
	return FW_ERR_PROTOCOL;
}

static int start_engine(struct node *n)
{
	struct exec_result res = { 0 };
	char *d = sh_quote(n->workdir), *cmd;
	int r;

	cmd = xasprintf("umask 077 && cat > %s/bootstrap && "
	    "exec %s/fwfleet-engine start --bootstrap %s/bootstrap", d, d, d);
	n->engine_started = 1;
	r = run(n, "cannot start the engine", cmd, n->bootstrap,
	    n->bootstrap_len, START_TIMEOUT_MS, &res);
	if (r == 0)
		r = parse_ready(n, res.out);
	exec_result_free(&res);
	free(cmd);
	free(d);
	return r;
}

void node_step_prepare(void *arg)
{
	struct node *n = arg;
	int r;

	if ((r = pre_inventory(n)) == 0 && (r = ship_engine(n)) == 0)
		r = start_engine(n);
	explicit_bzero(n->bootstrap, n->bootstrap_len);
	n->step_rc = r;
}

/*
 * Stops an engine that is still running (only if its pid file names a
 * process running the binary from this work directory), removes the work
 * directory, and checks both are gone.
 */
static const char cleanup_script[] =
	"d=%s\n"
	"if [ -r \"$d/engine.pid\" ]; then\n"
	"  p=$(cat \"$d/engine.pid\")\n"
	"  case \"$(readlink \"/proc/$p/exe\" 2>/dev/null)\" in\n"
	"  \"$d\"/*)\n"
	"    kill \"$p\" 2>/dev/null; i=0\n"
	"    while [ -d \"/proc/$p\" ] && [ $i -lt 30 ]; do\n"
	"      sleep 0.1; i=$((i+1)); done\n"
	"    [ -d \"/proc/$p\" ] && kill -9 \"$p\" 2>/dev/null\n"
	"    echo killed-engine;;\n"
	"  esac\n"
	"fi\n"
	"rm -rf -- \"$d\" && [ ! -e \"$d\" ]\n";

void node_step_cleanup(void *arg)
{
	struct node *n = arg;
	struct exec_result res = { 0 };
	char *d, *cmd;

	n->step_rc = 0;
	if (n->workdir[0] != '\0' && n->engine_started) {
		d = sh_quote(n->workdir);
		cmd = xasprintf(cleanup_script, d);
		n->step_rc = run(n, "cleanup failed", cmd, NULL, 0,
		    CLEANUP_TIMEOUT_MS, &res);
		if (n->step_rc == 0 && strstr(res.out, "killed-engine"))
			node_log(n, LOG_LVL_DEBUG, "stopped a running engine");
		exec_result_free(&res);
		free(cmd);
		free(d);
	} else if (n->workdir[0] != '\0') {
		d = sh_quote(n->workdir);
		cmd = xasprintf("rm -rf -- %s", d);
		n->step_rc = run(n, "cleanup failed", cmd, NULL, 0,
		    CLEANUP_TIMEOUT_MS, &res);
		exec_result_free(&res);
		free(cmd);
		free(d);
	}
	transport_close(n->tp);
	n->tp = NULL;
}
