/*
 * The engine's deploy operations: Stage (fetch a component's payloads)
 * and Install (run its installer), one at a time, each answered when it
 * ends rather than when it is asked; Cancel; and the status pushes that
 * report progress and installer output to the controller's HTTPS server.
 */
#ifndef FW_DEPLOY_H
#define FW_DEPLOY_H

#include <stddef.h>
#include <stdint.h>

#include "fwfleet.pb-c.h"

struct engine;
struct deploy;

/* Sends reply (for request id) to whoever asked; called when an
 * operation ends. Provided by control.c. */
void control_reply_later(struct engine *e, uint32_t id,
    Fwfleet__EngineMsg *reply);

/*
 * Sets up deploying for e: a TLS client context from the bootstrap's
 * certificate (for fetches and pushes) and the status pusher aimed at the
 * bootstrap's controller URLs. Returns 0 or FW_ERR_* with err.
 */
int deploy_new(struct engine *e, struct deploy **out, char *err,
    size_t errlen);

/*
 * Starts staging req's files into <workdir>/staging/<component>/. The
 * StageReply for id follows through control_reply_later. Returns 0, or
 * FW_ERR_* with err (busy, bad request) and then no reply follows.
 */
int deploy_stage(struct deploy *d, uint32_t id, const Fwfleet__StageRequest *req,
    char *err, size_t errlen);

/* Likewise for running a staged component's installer: InstallReply. */
int deploy_install(struct deploy *d, uint32_t id,
    const Fwfleet__InstallRequest *req, char *err, size_t errlen);

/*
 * Cancel: a staging stops at once; a running installer is let finish
 * (kill_running = 0) or killed with its process group (1). Its reply
 * says cancelled.
 */
void deploy_cancel(struct deploy *d, int kill_running);

/* What is running, for Diag and the watchdog: NULL when idle, else e.g.
 * "installing hpe-i40e-fw". */
const char *deploy_activity(const struct deploy *d);

/* Where one component of the current job stands, for Diag. */
struct deploy_component {
	char id[128];
	char version[64];
	Fwfleet__Phase phase;
	unsigned percent;		/* of the phase's bytes; 100: done */
	uint64_t bytes_done;		/* staged; kept while installing */
	uint64_t bytes_total;
	char error[256];		/* "" unless FAILED */
};

/*
 * The job the controller named in its last Stage or Install ("" none:
 * an older controller, or nothing asked yet), and that job's components
 * in the order first asked for (*n of them; NULL when d is NULL).
 */
const char *deploy_job_id(const struct deploy *d);
const struct deploy_component *deploy_components(const struct deploy *d,
    size_t *n);

/*
 * Before Shutdown is answered: sends the status pushes still queued (for
 * at most flush_ms) and stops pushing, so that once the controller has
 * its reply the engine has nothing left to do but exit.
 */
void deploy_quiesce(struct deploy *d, int flush_ms);

/* Stops what runs (killing an installer), flushes pushes briefly, frees. */
void deploy_free(struct deploy *d);

#endif
