/*
 * One run of the controller over a set of nodes: the session (id, CA,
 * controller certificate), the event loop, the worker pool, Ctrl-C, and a
 * scheduler that keeps at most `parallel` nodes in flight.
 */
#ifndef FW_FLEET_H
#define FW_FLEET_H

#include <stddef.h>
#include <stdint.h>

#include "nodes.h"
#include "render.h"
#include "transport.h"

struct fleet;
struct deploy_ctx;

struct fleet_opts {
	struct transport_opts ssh;
	int parallel;			/* nodes in flight (default 32) */
	int talk_timeout_s;		/* control channel, per request */
	unsigned idle_timeout_s;	/* engine watchdog */
	const char *remote_dir;		/* parent of work dirs (/tmp) */
	uint16_t engine_port;		/* first control port to try */
	long cert_validity_s;		/* per-engine certificates */
	int compress_engine;		/* ship it gzip-compressed */
	uint16_t https_port;		/* the payload/status server (63002) */
	int open_firewall;		/* open our ports, close them after */
	int tunnel;			/* engine traffic inside SSH */
	const char *state_dir;		/* session records (sessions.h) */
	long agent_cert_validity_s;	/* persistent agents' certificates */
	const char *agent_repo_pub;	/* agent install --require-signed: PEM */
	long renew_within_s;		/* renew an agent's certificate when it
					 * expires sooner (default 30 days) */
	enum fleet_via { VIA_AUTO, VIA_AGENT, VIA_SSH } via;
};

/* Fills o with the defaults. */
void fleet_opts_init(struct fleet_opts *o);

/*
 * Runs an inventory of every node in nodes. Returns 0 once every node has
 * finished (ok or failed) and been cleaned up; *out holds the run (free
 * with fleet_free). Returns an FW_ERR_* code with err filled if the run
 * could not start (no CA, bad options). *interrupted is set if the
 * operator pressed Ctrl-C.
 */
int fleet_inventory(const struct fleet_opts *o, const struct node_list *nodes,
    const char *pki_dir, struct fleet **out, char *err, size_t errlen);

/*
 * Deploys to every node: as fleet_inventory, then for each node the plan
 * that dctx computes from its inventory, carried out component by
 * component (stage, install) with the controller's HTTPS server serving
 * payloads and taking status pushes, everything journalled through dctx.
 */
int fleet_deploy(const struct fleet_opts *o, const struct node_list *nodes,
    const char *pki_dir, struct deploy_ctx *dctx, struct fleet **out,
    char *err, size_t errlen);

/*
 * What a run does on each node. FLEET_SESSION is an inventory or deploy
 * (fleet_inventory, fleet_deploy); the others run one step over SSH:
 *   FLEET_CLEANUP(_FORCE)  ships the engine only to sweep what earlier
 *                          runs left (processes, work directories, rules:
 *                          of this controller's dead runs; with force, of
 *                          every run), and sweeps this host's rules;
 *   FLEET_AGENT_*          installs, upgrades, removes or reports the
 *                          persistent agent (node_agent.c).
 * Each node's output is in its node_result.
 */
enum fleet_job {
	FLEET_SESSION, FLEET_CLEANUP, FLEET_CLEANUP_FORCE, FLEET_AGENT_INSTALL,
	FLEET_AGENT_UPGRADE, FLEET_AGENT_REMOVE, FLEET_AGENT_STATUS,
};

int fleet_run_job(const struct fleet_opts *o, const struct node_list *nodes,
    const char *pki_dir, enum fleet_job job, struct fleet **out, char *err,
    size_t errlen);

/* fwfleet cleanup: what it did on this host ("" nothing). */
const char *fleet_host_swept(const struct fleet *f);

/* The per-node results, in the order of the node list. */
const struct node_result *fleet_results(const struct fleet *f, size_t *n);

/* Node i of the run (NULL past the end). */
struct node;
const struct node *fleet_node(const struct fleet *f, size_t i);

/* True if the run was interrupted (Ctrl-C / SIGTERM). */
int fleet_interrupted(const struct fleet *f);

void fleet_free(struct fleet *f);

#endif
