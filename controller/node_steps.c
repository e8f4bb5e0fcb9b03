/*
 * The blocking steps of a node's run, executed on worker threads. Each
 * step touches only its own node and sets step_rc / step_err; the FSM
 * acts on them back on the loop thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "engine_image.h"
#include "err.h"
#include "fleet.h"
#include "log.h"
#include "node.h"
#include "tcp.h"
#include "tunnel.h"
#include "util.h"

#define SHIP_TIMEOUT_MS		120000
#define CLEANUP_TIMEOUT_MS	15000

int node_exec(struct node *n, const char *what, const char *cmd,
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

/*
 * --tunnel: the node's sshd forwards a port on its loopback to our HTTPS
 * server (deploy runs; an inventory needs none), which the engine is
 * told as the controller's URL.
 */
static int open_tunnel(struct node *n)
{
	struct sockaddr_in https = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int deploying = fleet_deploy_ctx(n->fleet) != NULL;
	char err[400];

	https.sin_port = htons(fleet_opts(n->fleet)->https_port);
	if (tunnel_open(n->tp, deploying ? (struct sockaddr *)&https : NULL,
	    sizeof(https), &n->tunnel_port, &n->tun, err, sizeof(err)) != 0) {
		fw_snprintf(n->step_err, sizeof(n->step_err), "--tunnel: %s",
		    err);
		return FW_ERR_SSH;
	}
	return 0;
}

int node_dial(const struct node *n, uint16_t port, int timeout_s,
    char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai = NULL;
	char host[300];
	int fd, r;

	if (addr_host_zone(&n->spec->addr, host, sizeof(host)) != 0) {
		fw_snprintf(why, whylen, "%s: address too long", n->spec->name);
		return -1;
	}
	if ((r = getaddrinfo(host, NULL, &hints, &ai)) != 0) {
		fw_snprintf(why, whylen, "%s port %u (%s)", host, port,
		    gai_strerror(r));
		return -1;
	}
	if ((fd = tcp_connect_any(ai, port, timeout_s)) < 0)
		fw_snprintf(why, whylen, "%s port %u (%s)", host, port,
		    strerror(r = errno));
	freeaddrinfo(ai);
	if (fd < 0)
		errno = r;
	return fd;
}

/*
 * --via auto|agent: connects to the agent's port first (with auto for at
 * most 3 s); the TLS handshake then runs on the loop over that socket.
 * With auto, a node where nothing answers goes on to SSH in this step.
 */
void node_step_probe(void *arg)
{
	struct node *n = arg;
	const struct fleet_opts *o = fleet_opts(n->fleet);
	socklen_t len = sizeof(n->peer);
	int timeout = o->ssh.connect_timeout_s, fd;
	char why[400];

	if (o->via == VIA_AUTO && timeout > 3)
		timeout = 3;
	fd = node_dial(n, o->engine_port, timeout, why, sizeof(why));
	if (fd >= 0 && getpeername(fd, (struct sockaddr *)&n->peer, &len) == 0) {
		n->peer_len = len;
		n->engine_port = o->engine_port;
		n->channel_fd = fd;
		n->step_rc = 0;
		return;
	}
	if (fd >= 0)
		close(fd);
	if (o->via == VIA_AUTO) {
		n->via_agent = 0;
		node_step_connect(n);
		return;
	}
	fw_snprintf(n->step_err, sizeof(n->step_err), "no agent answers on "
	    "%s: install one with `fwfleet agent install`, or use --via ssh",
	    why);
	n->step_rc = FW_ERR_SSH;
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
	if (n->step_rc == 0 && o->tunnel)
		n->step_rc = open_tunnel(n);
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
	"%s";

/* What the ship script ends with: start the engine, or (fwfleet cleanup)
 * run its sweep and remove it again. */
static const char start_tail[] =
	"exec \"$d/fwfleet-engine\" start --bootstrap \"$d/bootstrap\"\n";
static const char sweep_tail[] =
	"\"$d/fwfleet-engine\" sweep --remote-dir %s%s%s; r=$?\n"
	"rm -rf -- \"$d\"\n"
	"exit $r\n";

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

/* Logs the engine's "NOTE <text>" lines (what its sweep removed) and
 * returns its READY line. */
static const char *engine_notes(struct node *n, const char *out)
{
	size_t len;

	while (strncmp(out, "NOTE ", 5) == 0) {
		len = strcspn(out, "\n");
		node_log(n, LOG_LVL_INFO, "left by an earlier session: %.*s",
		    (int)len - 5, out + 5);
		out += len + (out[len] == '\n');
	}
	return out;
}

/* Parses "READY <port> sha256=<hex>" and checks the engine's hash. */
static int parse_ready(struct node *n, const struct engine_image *img,
    const char *out)
{
	char line[160], *sha;
	long port;

	out = engine_notes(n, out);
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
    int gz, const char *tail, struct exec_result *res, char *err,
    size_t errlen)
{
	struct iovec in[2];
	char *d = fw_sh_quote(n->workdir), *cmd;
	int r;

	cmd = xasprintf(ship_script, d, gz ? "gzip -dc" : "cat",
	    gz ? "command -v gzip >/dev/null || exit 95\n" : "",
	    n->bootstrap_len, n->bootstrap_len, img->len, tail);
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

/*
 * Ships the engine and runs the script's tail; a failure is described in
 * step_err. Returns 0 when the script exited 0 (*res holds its output).
 */
static int ship(struct node *n, const struct engine_image *img,
    const char *tail, struct exec_result *res)
{
	char err[256];
	int r;

	n->engine_started = 1;	/* from here on, cleanup must look */
	r = ship_once(n, img, fleet_opts(n->fleet)->compress_engine, tail, res,
	    err, sizeof(err));
	if (r == 0 && res->exit_status == SHIP_NO_GZIP) {
		node_log(n, LOG_LVL_DEBUG, "no gzip: shipping uncompressed");
		exec_result_free(res);
		r = ship_once(n, img, 0, tail, res, err, sizeof(err));
	}
	if (r == FW_ERR_AUTH)
		n->engine_started = 0;	/* sudo refused: nothing ran */
	if (r == FW_ERR_AUTH) {
		fw_snprintf(n->step_err, sizeof(n->step_err), "%s", err);
	} else if (r != 0) {
		fw_snprintf(n->step_err, sizeof(n->step_err), "cannot ship "
		    "the engine: %s", err);
	} else if (res->exit_status != 0) {
		fw_rtrim(res->err);
		fw_snprintf(n->step_err, sizeof(n->step_err), "%s: %s",
		    ship_step(res->exit_status), res->err[0] ? res->err :
		    "failed without a message");
		r = FW_ERR_REMOTE;
	}
	return r;
}

static const struct engine_image *node_image(struct node *n)
{
	const struct engine_image *img;
	char err[256];

	if ((img = engine_image_get("linux-x86_64", err, sizeof(err))) == NULL)
		fw_snprintf(n->step_err, sizeof(n->step_err), "%s", err);
	return img;
}

int node_ship(struct node *n, const char *tail, struct exec_result *res)
{
	const struct engine_image *img = node_image(n);

	return img != NULL ? ship(n, img, tail, res) : FW_ERR_NOT_FOUND;
}

void node_step_prepare(void *arg)
{
	struct node *n = arg;
	const struct engine_image *img;
	struct exec_result res = { 0 };
	char err[256];
	int r = FW_ERR_NOT_FOUND;

	if ((img = node_image(n)) == NULL)
		goto out;
	if ((r = ship(n, img, start_tail, &res)) == 0)
		r = parse_ready(n, img, res.out);
	if (r == 0)
		node_log(n, LOG_LVL_DEBUG, "engine up on port %u in %s",
		    n->engine_port, n->workdir);
	if (r == 0 && n->tun != NULL &&
	    (r = tunnel_start(n->tun, n->engine_port, &n->channel_fd, err,
	    sizeof(err))) != 0)
		fw_snprintf(n->step_err, sizeof(n->step_err), "--tunnel: %s",
		    err);
out:
	explicit_bzero(n->bootstrap, n->bootstrap_len);
	exec_result_free(&res);
	n->step_rc = r;
}

/*
 * fwfleet cleanup: ships the engine, runs its sweep of what earlier
 * sessions left (the dead sessions of this controller; with force, every
 * session without a running engine's controller) and removes it again.
 * What was swept is in n->job_out.
 */
void node_step_sweep(void *arg)
{
	struct node *n = arg;
	const struct fleet_opts *o = fleet_opts(n->fleet);
	struct exec_result res = { 0 };
	char *rd, *dead = xstrdup(""), *prev, *q, *tail;
	size_t i, n_dead;
	char **ids = fleet_dead_sessions(n->fleet, &n_dead);

	for (i = 0; i < n_dead; i++) {
		prev = dead;
		q = fw_sh_quote(ids[i]);
		dead = xasprintf("%s --dead %s", prev, q);
		free(q);
		free(prev);
	}
	rd = fw_sh_quote(o->remote_dir);
	tail = xasprintf(sweep_tail, rd, dead,
	    fleet_job(n->fleet) == FLEET_CLEANUP_FORCE ? " --force" : "");
	n->step_rc = node_ship(n, tail, &res);
	free(tail);
	free(rd);
	if (n->step_rc == 0 || res.exit_status == 1) {
		fw_rtrim(res.out);
		n->job_out = xstrdup(res.out);
	}
	if (n->step_rc == 0)
		n->engine_started = 0;	/* the script removed it */
	else if (res.exit_status == 1)
		fw_snprintf(n->step_err, sizeof(n->step_err), "the sweep could "
		    "not remove everything");
	free(dead);
	exec_result_free(&res);
}

/*
 * Stops an engine of this session that is still running, closes the
 * firewall rules it held and removes the work directory: the engine's own
 * sweep does the first two (it finds engines by the binary they run and
 * rules by their session tag), if its binary is there; then the checks
 * that nothing is left.
 */
static const char cleanup_script[] =
	"d=%s\n"
	"if [ -x \"$d/fwfleet-engine\" ]; then\n"
	"  \"$d/fwfleet-engine\" sweep --remote-dir %s --workdir \"$d\" "
	"--dead %s || exit 1\n"
	"fi\n"
	"rm -rf -- \"$d\" && [ ! -e \"$d\" ]\n";

/*
 * Runs the cleanup script; if the SSH connection broke (a network cut,
 * the node's sshd restarted), connects once more and tries again.
 */
static int cleanup_exec(struct node *n, const char *cmd,
    struct exec_result *res)
{
	const struct fleet_opts *o = fleet_opts(n->fleet);
	int r;

	r = node_exec(n, "cleanup failed", cmd, NULL, 0, CLEANUP_TIMEOUT_MS,
	    res);
	if (r == 0 || r == FW_ERR_REMOTE)
		return r;
	node_log(n, LOG_LVL_INFO, "cleanup: %s; connecting again", n->step_err);
	exec_result_free(res);
	transport_close(n->tp);
	if ((r = transport_ssh_connect(n->spec, &o->ssh, &n->tp, n->step_err,
	    sizeof(n->step_err))) != 0) {
		n->tp = NULL;
		return r;
	}
	return node_exec(n, "cleanup failed", cmd, NULL, 0, CLEANUP_TIMEOUT_MS,
	    res);
}

void node_step_cleanup(void *arg)
{
	struct node *n = arg;
	const struct fleet_opts *o = fleet_opts(n->fleet);
	struct exec_result res = { 0 };
	char *d, *rd, *cmd, msg[sizeof(n->step_err)];

	n->step_rc = 0;
	if (n->tun != NULL) {
		struct tunnel_stats st;

		tunnel_get_stats(n->tun, &st);
		node_log(n, LOG_LVL_DEBUG, "tunnel: %llu bytes to the node, "
		    "%llu from it, %u forwarded connections%s",
		    (unsigned long long)st.to_node,
		    (unsigned long long)st.from_node, st.accepted,
		    st.dead ? "; the SSH connection died" : "");
	}
	/* The pump owns the SSH session until it is joined. */
	tunnel_close(n->tun);
	n->tun = NULL;
	/* An engine that confirmed removing its work directory and rules is
	 * exiting by itself: no need for another exec. */
	if (n->workdir[0] != '\0' && n->engine_started) {
		d = fw_sh_quote(n->workdir);
		rd = fw_sh_quote(o->remote_dir);
		cmd = xasprintf(cleanup_script, d, rd,
		    fleet_session_id(n->fleet));
		n->step_rc = cleanup_exec(n, cmd, &res);
		if (n->step_rc == 0 && res.out[0] != '\0') {
			fw_rtrim(res.out);
			node_log(n, LOG_LVL_INFO, "cleanup: %s", res.out);
		}
		if (n->step_rc != 0) {
			fw_snprintf(msg, sizeof(msg), "%s; %s and its firewall "
			    "rules may remain on the node: its engine removes "
			    "them after %u s without us, `fwfleet cleanup` "
			    "at any time", n->step_err, n->workdir,
			    o->idle_timeout_s);
			fw_snprintf(n->step_err, sizeof(n->step_err), "%s",
			    msg);
		}
		exec_result_free(&res);
		free(cmd);
		free(rd);
		free(d);
	}
	transport_close(n->tp);
	n->tp = NULL;
}
