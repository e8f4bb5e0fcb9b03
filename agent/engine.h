/*
 * The engine's lifecycle: configuration from the bootstrap file, the
 * control listener (IPv4 and IPv6), the idle watchdog, and shutdown.
 */
#ifndef FW_ENGINE_H
#define FW_ENGINE_H

#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>

#include "fwfleet.pb-c.h"

struct event_base;
struct event;
struct conn;
struct deploy;

#define ENGINE_MAX_CONNS	8

struct engine {
	Fwfleet__Bootstrap *bs;		/* owned */
	const char *sysroot;		/* inventory root */
	SSL_CTX *ssl_ctx;
	int listen_fd;
	uint16_t port;
	struct event_base *base;
	struct event *listen_ev;
	struct event *watchdog_ev;
	struct event *sigterm_ev;
	struct event *sigint_ev;
	struct conn *conns[ENGINE_MAX_CONNS];
	uint64_t started_ms;		/* monotonic */
	uint64_t last_seen_ms;		/* monotonic: last controller message */
	time_t last_seen_wall;
	uint64_t last_activity_ms;	/* monotonic: a deploy operation ended */
	struct deploy *deploy;		/* NULL if it could not be set up */
	struct conn *op_conn;		/* who awaits the running operation */
	unsigned idle_timeout_s;
	const char *state;		/* "serving", "shutting-down" */
	int workdir_removed;
};

/*
 * Builds an engine from a loaded bootstrap (ownership passes to the engine
 * on success): TLS context, and the control socket bound to the first free
 * port from the bootstrap's (default 62286, up to 64 tries) on [::] with
 * IPv4 mapped, or on 0.0.0.0 where IPv6 is unavailable.
 */
int engine_new(Fwfleet__Bootstrap *bs, const char *sysroot,
    struct engine **out, char *err, size_t errlen);

/*
 * Serves until Shutdown, the watchdog or SIGTERM. ready_fd (or -1) gets one
 * byte once the engine is serving. Returns the process exit code.
 */
int engine_run(struct engine *e, int ready_fd);

/* Notes that the controller spoke: resets the idle watchdog. */
void engine_touch(struct engine *e);

/* Notes that a deploy operation ended: the idle time counts from now
 * (while one runs, the controller is waiting for us, not gone). */
void engine_activity(struct engine *e);

/* Ends the loop after removing the work directory (when asked). */
void engine_stop(struct engine *e, int remove_workdir, const char *why);

void engine_free(struct engine *e);

/* control.c: accepts a connection on fd (takes ownership). */
void control_accept(struct engine *e, int fd);
/* control.c: closes every connection. */
void control_close_all(struct engine *e);

#endif
