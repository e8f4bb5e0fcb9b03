/*
 * Deploying: what a run of `fwfleet deploy` adds to a node's talk with its
 * engine. After the inventory, the node's plan (plan.h) is computed and
 * journalled; then each component to install is staged (the engine
 * fetches its payloads from the controller's HTTPS server) and installed,
 * in plan order. A component that fails makes those depending on it
 * skipped; the others go on. Ctrl-C lets the installer that runs finish
 * and skips the rest; a second Ctrl-C stops it too. Status pushes from
 * the engines (progress, installer output) go to the journal and, on a
 * terminal, to a live progress line.
 *
 * Everything here runs on the event loop's thread.
 */
#ifndef FW_DEPLOY_H
#define FW_DEPLOY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "fwfleet.pb-c.h"
#include "plan.h"

struct event_base;
struct journal;
struct node;
struct repo;
struct deploy_ctx;

enum reboot_policy { REBOOT_NEVER, REBOOT_IF_NEEDED, REBOOT_ALWAYS };

/* Parses "never", "if-needed", "always". 0 or FW_ERR_INVALID. */
int reboot_policy_parse(const char *s, enum reboot_policy *out);

/* Borrows repo, *popts (and its arrays) and j for the context's life. */
struct deploy_ctx *deploy_ctx_new(const struct repo *repo,
    const struct plan_opts *popts, struct journal *j);
void deploy_ctx_free(struct deploy_ctx *d);

/*
 * After its components, a node is rebooted (delay_s later) when policy
 * says so: always, or if-needed when a component needs it. Never when a
 * component failed or the run was interrupted: the report names the node
 * as needing a reboot, for the operator to decide.
 */
void deploy_ctx_set_reboot(struct deploy_ctx *d, enum reboot_policy policy,
    unsigned delay_s);

/*
 * Starts the HTTPS server on port (both families) with server_ctx,
 * serving every payload file of the repository at
 * /payload/<id>/<version>/<file> to engines of session sid, and taking
 * their status pushes for nodes[0..n). Returns 0 or FW_ERR_* with err.
 */
int deploy_ctx_start(struct deploy_ctx *d, struct event_base *base,
    SSL_CTX *server_ctx, const char *sid, uint16_t port, struct node *nodes,
    size_t n, char *err, size_t errlen);

/* Stops the server (before the event base goes). Idempotent. */
void deploy_ctx_stop(struct deploy_ctx *d);

/* Node hooks, called by node.c. */
void deploy_node_state(struct deploy_ctx *d, struct node *n,
    const char *state);
void deploy_node_inventory(struct deploy_ctx *d, struct node *n);
void deploy_node_reply(struct deploy_ctx *d, struct node *n,
    const Fwfleet__EngineMsg *r);
/* Ctrl-C while staging or installing: asks the engine to cancel (hard:
 * kill the installer too). Returns 1 if the node keeps talking. */
int deploy_node_abort(struct deploy_ctx *d, struct node *n, int hard);
void deploy_node_done(struct deploy_ctx *d, struct node *n);
void deploy_node_free(struct node *n);

/* For the summary: what happened to node n's components. */
void deploy_node_print(FILE *f, const struct node *n);

#endif
