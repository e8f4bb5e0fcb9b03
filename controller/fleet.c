#include "fleet.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <openssl/rand.h>

#include "deploy.h"
#include "err.h"
#include "firewall.h"
#include "log.h"
#include "node.h"
#include "pki.h"
#include "proto.h"
#include "sessions.h"
#include "tls.h"
#include "util.h"
#include "workq.h"

struct fleet {
	struct fleet_opts opts;
	char session_id[33];
	EVP_PKEY *ca_key;
	X509 *ca_cert;
	char *ca_pem;
	size_t ca_pem_len;
	SSL_CTX *client_ctx;
	SSL_CTX *server_ctx;	/* the HTTPS server's (deploy runs) */
	struct deploy_ctx *dctx;	/* NULL for an inventory */
	struct event_base *base;
	struct workq *wq;
	struct event *sigint_ev;
	struct event *sigterm_ev;
	struct node *nodes;
	size_t n_nodes;
	size_t next;		/* next node to start */
	size_t running;
	size_t done;
	int scheduling;		/* inside fleet_start_more */
	int interrupted;
	struct node_result *results;
	char **dead;			/* crashed runs of ours (sessions.h) */
	size_t n_dead;
	int registered;			/* our own record is written */
	struct firewall *fw;		/* our HTTPS port, --open-firewall */
	enum fleet_job job;		/* FLEET_SESSION: an engine session */
	void (*job_step)(void *);	/* the node step of any other job */
	char host_swept[600];		/* what it did on this host */
	pthread_mutex_t ca_lock;	/* agent CSRs are signed on workers */
	char *revoked;			/* STATE/pki/revoked: serials, lines */
};

void fleet_opts_init(struct fleet_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->parallel = 32;
	o->talk_timeout_s = 120;
	o->idle_timeout_s = FW_IDLE_TIMEOUT_S;
	o->remote_dir = "/tmp";
	o->engine_port = FW_ENGINE_PORT;
	o->cert_validity_s = 24 * 3600;
	o->ssh.connect_timeout_s = 10;
	o->https_port = FW_HTTPS_PORT;
	o->agent_cert_validity_s = 90L * 86400;
	o->renew_within_s = 30L * 86400;
}

struct event_base *fleet_base(struct fleet *f)
{
	return f->base;
}

SSL_CTX *fleet_client_ctx(struct fleet *f)
{
	return f->client_ctx;
}

struct deploy_ctx *fleet_deploy_ctx(struct fleet *f)
{
	return f->dctx;
}

const char *fleet_session_id(const struct fleet *f)
{
	return f->session_id;
}

char **fleet_dead_sessions(const struct fleet *f, size_t *n)
{
	*n = f->n_dead;
	return f->dead;
}

enum fleet_job fleet_job(const struct fleet *f)
{
	return f->job;
}

fleet_step_fn fleet_job_step(const struct fleet *f)
{
	return f->job_step;
}

const struct fleet_opts *fleet_opts(const struct fleet *f)
{
	return &f->opts;
}

static void step_done(void *arg)
{
	struct node *n = arg;

	node_fsm(n, n->step_rc == 0 ? NEV_STEP_OK : NEV_STEP_FAILED);
}

void fleet_submit(struct fleet *f, struct node *n, void (*step)(void *))
{
	n->step_rc = 0;
	n->step_err[0] = '\0';
	workq_submit(f->wq, step, step_done, n);
}

static void fleet_start_more(struct fleet *f)
{
	/* A node can end while being started (cancelled at once): the outer
	 * call goes on starting nodes, so nested calls return, and the
	 * stack stays flat however many nodes there are. */
	if (f->scheduling)
		return;
	f->scheduling = 1;
	while (f->running < (size_t)f->opts.parallel && f->next < f->n_nodes) {
		struct node *n = &f->nodes[f->next++];

		f->running++;
		node_fsm(n, f->interrupted ? NEV_ABORT : NEV_START);
	}
	f->scheduling = 0;
	if (f->done == f->n_nodes)
		event_base_loopexit(f->base, NULL);
}

void fleet_node_done(struct fleet *f, struct node *n)
{
	if (n->failed)
		log_error("%s: failed: %s", n->label, n->error);
	else
		log_info("%s: ok", n->label);
	f->running--;
	f->done++;
	fleet_start_more(f);
}

static void sans_for(const struct node *n, const char *sid, char *ip_or_dns,
    size_t len1, char *uri, size_t len2)
{
	const struct fw_addr *a = &n->spec->addr;

	fw_snprintf(ip_or_dns, len1, "%s:%s",
	    a->kind == ADDR_NAME ? "DNS" : "IP", a->host);
	fw_snprintf(uri, len2, "URI:%s%s", TLS_SESSION_URI_PREFIX, sid);
}

/*
 * The controller's HTTPS URL as the node sees it: our end of the node's
 * SSH connection, in the same family ("https://[2001:db8::1]:63002"). A
 * link-local address goes without its zone, which only means something
 * here: the engine adds the zone of the interface it talks to us on.
 */
void fleet_controller_url(const struct fleet *f, const struct node *n,
    char *url, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "";
	const struct sockaddr_storage *ss = &n->local;

	if (f->opts.tunnel) {
		/* The node's sshd forwards this port to us. */
		fw_snprintf(url, len, "https://127.0.0.1:%u", n->tunnel_port);
		return;
	}
	if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr,
		    host, sizeof(host));
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
		    host, sizeof(host));
	fw_snprintf(url, len, ss->ss_family == AF_INET6 ? "https://[%s]:%u" :
	    "https://%s:%u", host, f->opts.https_port);
}

/* The node's address as SSH reached it, numeric, without a zone. */
static void node_host(const struct node *n, char *host, size_t len)
{
	const struct sockaddr_storage *ss = &n->peer;

	host[0] = '\0';
	if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr,
		    host, (socklen_t)len);
	else if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
		    host, (socklen_t)len);
}

static void pack_bootstrap(struct fleet *f, struct node *n,
    const struct pki_pem *pem)
{
	Fwfleet__Bootstrap bs = FWFLEET__BOOTSTRAP__INIT;
	char url[128], node_addr[INET6_ADDRSTRLEN];
	char *urls[1] = { url };

	bs.session_id = f->session_id;
	bs.ca_cert_pem.data = (uint8_t *)f->ca_pem;
	bs.ca_cert_pem.len = f->ca_pem_len;
	bs.cert_pem.data = (uint8_t *)pem->cert;
	bs.cert_pem.len = pem->cert_len;
	bs.key_pem.data = (uint8_t *)pem->key;
	bs.key_pem.len = pem->key_len;
	bs.port = f->opts.engine_port;
	bs.idle_timeout_s = f->opts.idle_timeout_s;
	bs.workdir = n->workdir;
	bs.node_name = n->spec->name;
	bs.open_firewall = f->opts.open_firewall;
	bs.loopback_only = f->opts.tunnel;
	bs.dead_sessions = f->dead;
	bs.n_dead_sessions = f->n_dead;
	node_host(n, node_addr, sizeof(node_addr));
	bs.node_address = node_addr;
	fleet_controller_url(f, n, url, sizeof(url));
	bs.n_controller_urls = 1;
	bs.controller_urls = urls;
	n->bootstrap_len = fwfleet__bootstrap__get_packed_size(&bs);
	n->bootstrap = xmalloc(n->bootstrap_len);
	fwfleet__bootstrap__pack(&bs, (uint8_t *)n->bootstrap);
}

/* Keeps the serial of an agent's certificate, for `pki revoke NODE`. */
static void record_agent_cert(struct fleet *f, const struct node *n,
    X509 *cert)
{
	char serial[128], *dir, *path, *line;
	size_t i;

	if (f->opts.state_dir == NULL ||
	    pki_cert_serial(cert, serial, sizeof(serial)) != 0)
		return;
	dir = xasprintf("%s/pki/agents", f->opts.state_dir);
	path = xasprintf("%s/%s", dir, n->spec->name);
	for (i = strlen(dir) + 1; path[i] != '\0'; i++)
		if (path[i] == '/')
			path[i] = '_';
	line = xasprintf("%s\n", serial);
	if (fw_mkdirs(dir, 0700) != 0 || fw_append_file(path, line,
	    strlen(line), 0600) != 0)
		node_log(n, LOG_LVL_WARN, "cannot record the agent's "
		    "certificate in %s: `pki revoke` will not know it", dir);
	free(line);
	free(path);
	free(dir);
}

int fleet_sign_agent(struct fleet *f, struct node *n, const char *csr,
    size_t csr_len, char **chain, size_t *chain_len)
{
	char san_host[300], san_uri[128], san_agent[400], cn[300];
	const char *sans[4] = { san_host,
	    "URI:" TLS_ROLE_URI_PREFIX TLS_ROLE_ENGINE, san_agent, NULL };
	X509 *cert = NULL;
	char *pem = NULL;
	size_t len;
	int r;

	sans_for(n, f->session_id, san_host, sizeof(san_host), san_uri,
	    sizeof(san_uri));
	fw_snprintf(cn, sizeof(cn), "fwfleet-agent %s", n->spec->name);
	fw_snprintf(san_agent, sizeof(san_agent), "URI:%s%s",
	    TLS_AGENT_URI_PREFIX, n->spec->name);
	pthread_mutex_lock(&f->ca_lock);
	r = pki_sign_csr(f->ca_key, f->ca_cert, csr, csr_len, cn, sans,
	    f->opts.agent_cert_validity_s, &cert, n->step_err,
	    sizeof(n->step_err));
	if (r == 0)
		record_agent_cert(f, n, cert);
	pthread_mutex_unlock(&f->ca_lock);
	if (r == 0 && (r = pki_cert_to_pem(cert, &pem, &len)) == 0) {
		*chain = xasprintf("%s%s", pem, f->ca_pem);
		*chain_len = strlen(*chain);
	}
	free(pem);
	X509_free(cert);
	return r;
}

int fleet_revoked(const struct fleet *f, const char *serial)
{
	return pki_revoked_has(f->revoked, serial);
}

/* The engine's sweep knows work directories by this name. */
void fleet_set_workdir(const struct fleet *f, struct node *n)
{
	fw_snprintf(n->workdir, sizeof(n->workdir), "%s/fwfleet-%s-%d",
	    f->opts.remote_dir, f->session_id, n->index);
}

int fleet_issue_engine_cert(struct fleet *f, struct node *n)
{
	char san_host[300], san_uri[128], san_node[64], cn[300];
	const char *sans[5] = { san_host, san_uri,
	    "URI:" TLS_ROLE_URI_PREFIX TLS_ROLE_ENGINE, san_node, NULL };
	struct pki_pem pem;
	int r;

	fleet_set_workdir(f, n);
	sans_for(n, f->session_id, san_host, sizeof(san_host), san_uri,
	    sizeof(san_uri));
	/* Which node of the session: status pushes are matched by it. */
	fw_snprintf(san_node, sizeof(san_node), "URI:%s%d", TLS_NODE_URI_PREFIX,
	    n->index);
	fw_snprintf(cn, sizeof(cn), "fwfleet-engine %s", n->spec->addr.host);
	if ((r = pki_issue_pem(f->ca_key, f->ca_cert, cn, sans,
	    f->opts.cert_validity_s, &pem, n->step_err,
	    sizeof(n->step_err))) != 0)
		return r;
	pack_bootstrap(f, n, &pem);
	pki_pem_clear(&pem);
	return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct fleet *f = arg;
	size_t i;

	if (f->interrupted) {
		log_warn("interrupted again: stopping running installers; "
		    "still cleaning up %zu node(s)", f->running);
		for (i = 0; i < f->n_nodes; i++)
			if (f->nodes[i].state == NODE_TALKING)
				node_fsm(&f->nodes[i], NEV_ABORT);
		return;
	}
	log_warn(f->dctx != NULL ? "interrupted: running installers finish, "
	    "the rest is skipped; Ctrl-C again to stop them" :
	    "interrupted: stopping and cleaning up every node");
	f->interrupted = 1;
	/* Nodes not started yet are cancelled as the scheduler reaches them. */
	for (i = 0; i < f->n_nodes; i++)
		if (f->nodes[i].state != NODE_IDLE)
			node_fsm(&f->nodes[i], NEV_ABORT);
}

static int make_session(struct fleet *f, const char *pki_dir, char *err,
    size_t errlen)
{
	char san_uri[128], cn[64];
	const char *sans[3] = { san_uri,
	    "URI:" TLS_ROLE_URI_PREFIX TLS_ROLE_CONTROLLER, NULL };
	unsigned char rnd[8];
	struct pki_pem pem = { 0 };
	int r;

	if ((r = pki_ca_load(pki_dir, &f->ca_key, &f->ca_cert, err,
	    errlen)) != 0)
		return r;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		fatal("no randomness for the session id");
	fw_hex_encode(rnd, sizeof(rnd), f->session_id);
	fw_snprintf(san_uri, sizeof(san_uri), "URI:%s%s",
	    TLS_SESSION_URI_PREFIX, f->session_id);
	fw_snprintf(cn, sizeof(cn), "fwfleet-controller %s", f->session_id);
	if ((r = pki_issue_pem(f->ca_key, f->ca_cert, cn, sans,
	    f->opts.cert_validity_s, &pem, err, errlen)) != 0 ||
	    (r = pki_cert_to_pem(f->ca_cert, &f->ca_pem, &f->ca_pem_len)) != 0)
		goto out;
	f->client_ctx = tls_ctx_new(TLS_ROLE_CLIENT, f->ca_pem, f->ca_pem_len,
	    pem.cert, pem.cert_len, pem.key, pem.key_len, err, errlen);
	r = f->client_ctx != NULL ? 0 : FW_ERR_TLS;
	if (r == 0 && f->dctx != NULL) {
		/* The same certificate serves payloads and status pushes. */
		f->server_ctx = tls_ctx_new(TLS_ROLE_SERVER, f->ca_pem,
		    f->ca_pem_len, pem.cert, pem.cert_len, pem.key,
		    pem.key_len, err, errlen);
		r = f->server_ctx != NULL ? 0 : FW_ERR_TLS;
	}
out:
	pki_pem_clear(&pem);
	return r;
}

/* Ctrl-C must reach us even if the parent blocked or ignored it (a
 * background job, a test harness): worker threads inherit this mask. */
static void accept_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

static int make_loop(struct fleet *f)
{
	accept_signals();
	evthread_use_pthreads();
	if ((f->base = event_base_new()) == NULL)
		return FW_ERR_NOMEM;
	f->wq = workq_new(f->base, f->opts.parallel);
	f->sigint_ev = evsignal_new(f->base, SIGINT, on_signal, f);
	f->sigterm_ev = evsignal_new(f->base, SIGTERM, on_signal, f);
	if (f->sigint_ev == NULL || f->sigterm_ev == NULL ||
	    event_add(f->sigint_ev, NULL) != 0 ||
	    event_add(f->sigterm_ev, NULL) != 0)
		return FW_ERR_INTERNAL;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

static void collect_results(struct fleet *f)
{
	size_t i;

	f->results = xcalloc(f->n_nodes, sizeof(*f->results));
	for (i = 0; i < f->n_nodes; i++) {
		struct node *n = &f->nodes[i];
		struct node_result *r = &f->results[i];

		r->name = n->spec->name;
		r->address = n->addr;
		r->ok = !n->failed && (n->inv != NULL || f->job != FLEET_SESSION);
		r->error = n->failed ? n->error : NULL;
		r->inv = n->inv;
		r->output = n->job_out;
		r->elapsed_s = n->finished_ms > n->started_ms ?
		    (double)(n->finished_ms - n->started_ms) / 1000.0 : 0;
	}
}

/*
 * Records this run (so that a later one can tell if it died) and learns
 * which earlier runs died: their leftovers are swept, here and on nodes.
 */
static int record_session(struct fleet *f, char *err, size_t errlen)
{
	if (f->opts.state_dir == NULL)
		return 0;
	f->n_dead = sessions_dead(f->opts.state_dir, &f->dead);
	if (sessions_register(f->opts.state_dir, f->session_id, err,
	    errlen) != 0)
		return FW_ERR_SYSTEM;
	f->registered = 1;
	return 0;
}

static int keep_live_rule(const char *tag, void *arg)
{
	struct fleet *f = arg;

	return !sessions_contains(f->dead, f->n_dead, tag);
}

/* With --force, only rules of runs recorded as live survive. */
static int keep_rule_forced(const char *tag, void *arg)
{
	struct fleet *f = arg;
	char *path = xasprintf("%s/sessions/%s", f->opts.state_dir, tag);
	int live = strcmp(tag, f->session_id) == 0 ||
	    (access(path, F_OK) == 0 && !sessions_contains(f->dead, f->n_dead,
	    tag));

	free(path);
	return live;
}

/* fwfleet cleanup on this host: the HTTPS port rules of dead runs. */
static void sweep_here(struct fleet *f)
{
	char why[512];
	size_t swept = 0;

	if (geteuid() != 0) {
		fw_snprintf(f->host_swept, sizeof(f->host_swept), "not root: "
		    "firewall rules on this host not checked");
		return;
	}
	if (firewall_sweep(f->job == FLEET_CLEANUP_FORCE ? keep_rule_forced :
	    keep_live_rule,
	    f, &swept, why, sizeof(why)) != 0)
		fw_snprintf(f->host_swept, sizeof(f->host_swept), "cannot "
		    "sweep firewall rules: %s", why);
	else if (swept > 0)
		fw_snprintf(f->host_swept, sizeof(f->host_swept), "removed "
		    "%zu firewall rule(s) of earlier runs", swept);
}

const char *fleet_host_swept(const struct fleet *f)
{
	return f->host_swept;
}

/*
 * --open-firewall on this host: the nodes must reach our HTTPS port. Rules
 * that crashed runs of ours left go first.
 */
static int open_https_port(struct fleet *f, char *err, size_t errlen)
{
	char why[512];
	size_t i, swept = 0;

	if (!f->opts.open_firewall || f->opts.tunnel)
		return 0;
	if (firewall_sweep(keep_live_rule, f, &swept, why, sizeof(why)) != 0)
		log_warn("cannot sweep old firewall rules on this host: %s",
		    why);
	else if (swept > 0)
		log_info("removed %zu firewall rule(s) left on this host by "
		    "earlier runs", swept);
	if (firewall_open(f->opts.https_port, f->session_id, &f->fw, why,
	    sizeof(why)) != 0) {
		fw_snprintf(err, errlen, "--open-firewall: cannot open port %u "
		    "on this host: %s", f->opts.https_port, why);
		return FW_ERR_SYSTEM;
	}
	for (i = 0; i < firewall_count(f->fw); i++)
		log_debug("opened on this host: %s", firewall_rule(f->fw, i));
	return 0;
}

static void close_https_port(struct fleet *f)
{
	char why[512];

	if (f->fw != NULL && firewall_close(f->fw, why, sizeof(why)) != 0)
		log_error("cannot close the firewall rules on this host: %s; "
		    "`fwfleet cleanup` removes them", why);
	f->fw = NULL;
}

/* What each job runs on a node once SSH is up. */
static void (*const job_steps[])(void *) = {
	[FLEET_SESSION] = NULL,
	[FLEET_CLEANUP] = node_step_sweep,
	[FLEET_CLEANUP_FORCE] = node_step_sweep,
	[FLEET_AGENT_INSTALL] = node_step_agent_install,
	[FLEET_AGENT_UPGRADE] = node_step_agent_upgrade,
	[FLEET_AGENT_REMOVE] = node_step_agent_remove,
	[FLEET_AGENT_STATUS] = node_step_agent_status,
};

static int fleet_run(const struct fleet_opts *o, const struct node_list *nodes,
    const char *pki_dir, struct deploy_ctx *dctx, enum fleet_job job,
    struct fleet **out, char *err, size_t errlen)
{
	struct fleet *f = xcalloc(1, sizeof(*f));
	size_t i;
	int r;

	f->job = job;
	f->job_step = job_steps[job];
	pthread_mutex_init(&f->ca_lock, NULL);

	*out = NULL;
	/* Until the loop's handlers are in place, Ctrl-C simply ends us:
	 * no node has been touched yet (and an inherited SIG_IGN must not
	 * swallow it). */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	accept_signals();
	f->opts = *o;
	f->dctx = dctx;
	if (f->opts.parallel < 1)
		f->opts.parallel = 1;
	f->revoked = pki_revoked_load(pki_dir);
	if ((r = make_session(f, pki_dir, err, errlen)) != 0)
		goto out;
	if ((r = make_loop(f)) != 0) {
		fw_snprintf(err, errlen, "cannot set up the event loop");
		goto out;
	}
	f->n_nodes = nodes->n;
	f->nodes = xcalloc(f->n_nodes, sizeof(*f->nodes));
	for (i = 0; i < f->n_nodes; i++)
		node_init(&f->nodes[i], f, &nodes->v[i], (int)i);
	if ((r = record_session(f, err, errlen)) != 0)
		goto out;
	if (job == FLEET_CLEANUP || job == FLEET_CLEANUP_FORCE)
		sweep_here(f);
	if (dctx != NULL && (r = deploy_ctx_start(dctx, f->base, f->server_ctx,
	    f->session_id, f->opts.https_port, f->nodes, f->n_nodes, err,
	    errlen)) != 0)
		goto out;
	if (dctx != NULL && (r = open_https_port(f, err, errlen)) != 0)
		goto out;
	log_debug("session %s: %zu node(s), %d in parallel", f->session_id,
	    f->n_nodes, f->opts.parallel);
	fleet_start_more(f);
	if (f->n_nodes > 0)
		event_base_dispatch(f->base);
	if (dctx != NULL)
		deploy_ctx_stop(dctx);
	close_https_port(f);
	collect_results(f);
	*out = f;
	f = NULL;
	r = 0;
out:
	if (f != NULL && dctx != NULL)
		deploy_ctx_stop(dctx);
	fleet_free(f);
	return r;
}

int fleet_inventory(const struct fleet_opts *o, const struct node_list *nodes,
    const char *pki_dir, struct fleet **out, char *err, size_t errlen)
{
	return fleet_run(o, nodes, pki_dir, NULL, FLEET_SESSION, out, err,
	    errlen);
}

int fleet_run_job(const struct fleet_opts *o, const struct node_list *nodes,
    const char *pki_dir, enum fleet_job job, struct fleet **out, char *err,
    size_t errlen)
{
	return fleet_run(o, nodes, pki_dir, NULL, job, out, err, errlen);
}

int fleet_deploy(const struct fleet_opts *o, const struct node_list *nodes,
    const char *pki_dir, struct deploy_ctx *dctx, struct fleet **out,
    char *err, size_t errlen)
{
	return fleet_run(o, nodes, pki_dir, dctx, FLEET_SESSION, out, err,
	    errlen);
}

const struct node *fleet_node(const struct fleet *f, size_t i)
{
	return i < f->n_nodes ? &f->nodes[i] : NULL;
}

const struct node_result *fleet_results(const struct fleet *f, size_t *n)
{
	*n = f->n_nodes;
	return f->results;
}

int fleet_interrupted(const struct fleet *f)
{
	return f->interrupted;
}

static int leftovers(const struct fleet *f)
{
	size_t i;

	for (i = 0; i < f->n_nodes; i++)
		if (f->nodes[i].leftovers)
			return 1;
	return 0;
}

void fleet_free(struct fleet *f)
{
	size_t i;

	if (f == NULL)
		return;
	close_https_port(f);
	workq_free(f->wq);
	/* Every node cleaned up: nothing of this run is left to sweep. A
	 * node whose cleanup failed keeps the record, which turns "dead"
	 * when we exit, so that later runs sweep it. */
	if (f->registered && !leftovers(f))
		sessions_unregister(f->opts.state_dir, f->session_id);
	for (i = 0; i < f->n_nodes; i++)
		node_free(&f->nodes[i]);
	free(f->nodes);
	free(f->results);
	if (f->sigint_ev != NULL)
		event_free(f->sigint_ev);
	if (f->sigterm_ev != NULL)
		event_free(f->sigterm_ev);
	if (f->base != NULL)
		event_base_free(f->base);
	SSL_CTX_free(f->client_ctx);
	SSL_CTX_free(f->server_ctx);
	free(f->ca_pem);
	EVP_PKEY_free(f->ca_key);
	X509_free(f->ca_cert);
	sessions_free(f->dead, f->n_dead);
	pthread_mutex_destroy(&f->ca_lock);
	free(f->revoked);
	free(f);
}
