/*
 * The engine's lifecycle: configuration from the bootstrap file, the
 * control listener (IPv4 and IPv6), the idle watchdog, and shutdown.
 */
#ifndef FW_ENGINE_H
#define FW_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>

#include "fwfleet.pb-c.h"

struct event_base;
struct event;
struct conn;
struct deploy;
struct diag;

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
	struct firewall *fw;		/* rules held open (--open-firewall) */
	char *notes;			/* "NOTE ..." lines for the starter */
	const char *state;		/* "serving", "shutting-down" */
	const char *mode;		/* "ephemeral", or "persistent" */
	const char *state_dir;		/* persistent: its state directory */
	EVP_PKEY *renew_key;		/* renewal: the key awaiting its cert */
	struct agent_journal *journal;	/* persistent: its job journal */
	char *repo_pub;			/* --require-signed: the pinned key */
	size_t repo_pub_len;
	int workdir_removed;
	struct diag *diag;		/* recent errors, local socket (diag.h) */
	char sha256[65];		/* of the engine binary ("" unknown) */
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
 * Gets the engine ready to serve: sweeps what earlier sessions left here
 * (e->notes says what), gives link-local controller URLs their zone, and
 * opens the control port in the firewall when the bootstrap asks. Returns
 * 0, or an FW_ERR_* code with err saying what failed.
 */
int engine_open(struct engine *e, char *err, size_t errlen);

/*
 * Serves until Shutdown, the watchdog or SIGTERM. ready_fd (or -1) gets one
 * byte once the engine is serving. Returns the process exit code.
 */
int engine_run(struct engine *e, int ready_fd);

/*
 * Gives each link-local URL in urls (malloc'd strings, replaced in place)
 * the zone of the interface the controller reached us on.
 */
void engine_zone_urls(const struct engine *e, char **urls, size_t n);

/* Notes that the controller spoke: resets the idle watchdog. */
void engine_touch(struct engine *e);

/* Notes that a deploy operation ended: the idle time counts from now
 * (while one runs, the controller is waiting for us, not gone). */
void engine_activity(struct engine *e);

/*
 * Closes the firewall rules the engine holds and removes its work
 * directory (once). Returns 0, or FW_ERR_SYSTEM with detail saying what is
 * left; a rule that could not be closed keeps the directory, so that the
 * controller's cleanup (which runs this binary's sweep) can try again.
 */
int engine_release(struct engine *e, char *detail, size_t len);

/* Ends the loop after engine_release (when asked). */
void engine_stop(struct engine *e, int remove_workdir, const char *why);

void engine_free(struct engine *e);

/*
 * The sha256 of the engine's own binary at path (argv[0]: the absolute
 * path it was started by; /proc may be missing, as in a chroot), or
 * "unknown": for the READY line, which the controller checks, and Diag.
 */
void engine_self_sha256(const char *path, char hex[65]);

/* True for a persistent agent (agent.h), false for a session's engine. */
int engine_persistent(const struct engine *e);

/* control.c: accepts a connection on fd (takes ownership). */
void control_accept(struct engine *e, int fd);
/* control.c: closes every connection. */
void control_close_all(struct engine *e);

#endif
