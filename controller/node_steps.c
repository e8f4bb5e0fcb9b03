/*
 * The blocking steps of a node's run, executed on worker threads. Each
 * step touches only its own node and sets step_rc / step_err; the FSM
 * acts on them back on the loop thread.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_image.h"
#include "err.h"
#include "fleet.h"
#include "log.h"
#include "node.h"
#include "util.h"

#define SHIP_TIMEOUT_MS		120000
#define CLEANUP_TIMEOUT_MS	30000

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
	socklen_t local_len;

	n->step_rc = transport_ssh_connect(n->spec, &o->ssh, &n->tp,
	    n->step_err, sizeof(n->step_err));
	if (n->step_rc == 0 &&
	    (transport_peer_addr(n->tp, &n->peer, &n->peer_len) != 0 ||
	    transport_local_addr(n->tp, &n->local, &local_len) != 0)) {
		fw_snprintf(n->step_err, sizeof(n->step_err), "cannot tell "
		    "the node's address from the SSH connection");
		n->step_rc = FW_ERR_INTERNAL;
	}
}

/*
 * One exec per node does the pre-inventory checks, writes the bootstrap
 * file, ships the engine and starts it: each SSH exec costs a login shell
 * on the node, so fewer is faster. Stdin carries the bootstrap, read with
 * `dd bs=1` (POSIX, and it never reads past its count, unlike some heads),
 * then the engine, read to EOF (gzip-compressed with --compress-engine, for
 * slow links: on a LAN, unpacking costs the node more CPU than the bytes
 * saved). Lengths are checked here (a full disk truncates); the engine
 * reports the sha256 of its own binary in its READY line and the
 * controller compares it. Exit codes 90-95 name the step that failed;
 * stderr says why.
 */
static const char ship_script[] =
	"umask 077\n"
	"p=$(uname -sm)\n"
	"[ \"$p\" = 'Linux x86_64' ] || { echo \"unsupported platform '$p' "
	"(engines: linux-x86_64)\" >&2; exit 90; }\n"
	"u=$(id -u)\n"
	"[ \"$u\" = 0 ] || { echo \"logged in as uid $u, but the engine "
	"needs root: log in as root or add --sudo\" >&2; exit 91; }\n"
	"d=%s\n"
	"unpack() { %s; }\n"
	"%s"
	"mkdir -m 700 -- \"$d\" || exit 92\n"
	"dd bs=1 count=%zu of=\"$d/bootstrap\" 2>/dev/null && "
	"[ \"$(wc -c < \"$d/bootstrap\")\" -eq %zu ] || "
	"{ echo 'short write (disk full?)' >&2; exit 94; }\n"
	"unpack > \"$d/fwfleet-engine\" || exit 93\n"
	"[ \"$(wc -c < \"$d/fwfleet-engine\")\" -eq %zu ] || "
	"{ echo 'short write (disk full?)' >&2; exit 93; }\n"
	"chmod 700 \"$d/fwfleet-engine\" || exit 93\n"
	"exec \"$d/fwfleet-engine\" start --bootstrap \"$d/bootstrap\"\n";

#define SHIP_NO_GZIP	95

static const char *ship_step(int exit_status)
{
	switch (exit_status) {
	case 90: return "pre-inventory";
	case 91: return "pre-inventory";
	case 92: return "cannot create the work directory";
	case 93: return "cannot ship the engine";
	case 94: return "cannot write the bootstrap file";
	case SHIP_NO_GZIP: return "no gzip on the node";
	}
	return "cannot start the engine";
}

/* Parses "READY <port> sha256=<hex>" and checks the engine's hash. */
static int parse_ready(struct node *n, const struct engine_image *img,
    const char *out)
{
	char line[160], *sha;
	long port;

	if (strncmp(out, "READY ", 6) != 0 ||
	    fw_snprintf(line, sizeof(line), "%s", out + 6) != 0 ||
	    (sha = strstr(line, " sha256=")) == NULL)
		goto bad;
	*sha = '\0';
	sha += 8;
	fw_rtrim(sha);
	if (fw_parse_long(line, 1, 65535, &port) != 0)
		goto bad;
	n->engine_port = (uint16_t)port;
	if (strcmp(sha, img->sha256) != 0) {
		fw_snprintf(n->step_err, sizeof(n->step_err), "the engine on "
		    "the node is not the one shipped (sha256 %.64s, expected "
		    "%s)", sha, img->sha256);
		return FW_ERR_REMOTE;
	}
	return 0;
bad:
	fw_snprintf(n->step_err, sizeof(n->step_err), "the engine started "
	    "but did not report READY (got '%.60s')", out);
	return FW_ERR_PROTOCOL;
}

/* Runs the ship script once, with the engine compressed or not. */
static int ship_once(struct node *n, const struct engine_image *img,
    int gz, struct exec_result *res, char *err, size_t errlen)
{
	struct iovec in[2];
	char *d = fw_sh_quote(n->workdir), *cmd;
	int r;

	cmd = xasprintf(ship_script, d, gz ? "gzip -dc" : "cat",
	    gz ? "command -v gzip >/dev/null || exit 95\n" : "",
	    n->bootstrap_len, n->bootstrap_len, img->len);
	in[0].iov_base = n->bootstrap;
	in[0].iov_len = n->bootstrap_len;
	in[1].iov_base = (void *)(uintptr_t)(gz ? img->gz : img->data);
	in[1].iov_len = gz ? img->gz_len : img->len;
	r = transport_execv(n->tp, cmd, in, 2, SHIP_TIMEOUT_MS, res, err,
	    errlen);
	free(cmd);
	free(d);
	return r;
}

void node_step_prepare(void *arg)
{
	struct node *n = arg;
	const struct engine_image *img;
	struct exec_result res = { 0 };
	char err[256];
	int r = FW_ERR_NOT_FOUND;

	if ((img = engine_image_get("linux-x86_64", err, sizeof(err))) == NULL) {
		fw_snprintf(n->step_err, sizeof(n->step_err), "%s", err);
		goto out;
	}
	n->engine_started = 1;	/* from here on, cleanup must look */
	r = ship_once(n, img, fleet_opts(n->fleet)->compress_engine, &res, err,
	    sizeof(err));
	if (r == 0 && res.exit_status == SHIP_NO_GZIP) {
		node_log(n, LOG_LVL_DEBUG, "no gzip: shipping uncompressed");
		exec_result_free(&res);
		r = ship_once(n, img, 0, &res, err, sizeof(err));
	}
	if (r == FW_ERR_AUTH) {
		fw_snprintf(n->step_err, sizeof(n->step_err), "%s", err);
	} else if (r != 0) {
		fw_snprintf(n->step_err, sizeof(n->step_err), "cannot ship "
		    "the engine: %s", err);
	} else if (res.exit_status != 0) {
		fw_rtrim(res.err);
		fw_snprintf(n->step_err, sizeof(n->step_err), "%s: %s",
		    ship_step(res.exit_status), res.err[0] ? res.err :
		    "failed without a message");
		r = FW_ERR_REMOTE;
	} else {
		r = parse_ready(n, img, res.out);
	}
	if (r == 0)
		node_log(n, LOG_LVL_DEBUG, "engine up on port %u in %s",
		    n->engine_port, n->workdir);
out:
	explicit_bzero(n->bootstrap, n->bootstrap_len);
	exec_result_free(&res);
	n->step_rc = r;
}

/*
 * Stops an engine that is still running (only if its pid file names a
 * process running the binary from this work directory), removes the work
 * directory, and checks both are gone.
 */
static const char cleanup_script[] =
	"d=%s\n"
	"alive() { [ -d \"/proc/$1\" ] && "
	"! grep -q '^State:[[:space:]]*Z' \"/proc/$1/status\" 2>/dev/null; }\n"
	"if [ -r \"$d/engine.pid\" ]; then\n"
	"  p=$(cat \"$d/engine.pid\")\n"
	"  case \"$(readlink \"/proc/$p/exe\" 2>/dev/null)\" in\n"
	"  \"$d\"/*)\n"
	"    kill \"$p\" 2>/dev/null; i=0\n"
	"    while alive \"$p\" && [ $i -lt 30 ]; do sleep 0.1; i=$((i+1)); done\n"
	"    alive \"$p\" && kill -9 \"$p\" 2>/dev/null\n"
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
	/* An engine that confirmed removing its work directory is exiting
	 * by itself: no need for another exec. */
	if (n->workdir[0] != '\0' && n->engine_started) {
		d = fw_sh_quote(n->workdir);
		cmd = xasprintf(cleanup_script, d);
		n->step_rc = run(n, "cleanup failed", cmd, NULL, 0,
		    CLEANUP_TIMEOUT_MS, &res);
		if (n->step_rc == 0 && strstr(res.out, "killed-engine"))
			node_log(n, LOG_LVL_DEBUG, "stopped a running engine");
		if (n->step_rc != 0) {
			char msg[sizeof(n->step_err)];

			fw_snprintf(msg, sizeof(msg), "%s; %s may remain on "
			    "the node", n->step_err, n->workdir);
			fw_snprintf(n->step_err, sizeof(n->step_err), "%s",
			    msg);
		}
		exec_result_free(&res);
		free(cmd);
		free(d);
	}
	transport_close(n->tp);
	n->tp = NULL;
}
