/*
 * The engine's installer runner: runs a staged component's installer as a
 * child process in a process group of its own, watched from the event
 * loop (its output pipe, and a 100 ms timer that checks for its exit and
 * its deadline; no process-wide SIGCHLD handler).
 *
 * argv[0] is taken inside the staging directory unless absolute; the
 * working directory is the staging directory; stdin is /dev/null; the
 * environment is the engine's, plus the request's env, plus
 *	FWFLEET_STAGING_DIR, FWFLEET_COMPONENT_ID, FWFLEET_COMPONENT_VERSION,
 *	FWFLEET_PAYLOAD_COUNT, FWFLEET_PAYLOAD_1 .. FWFLEET_PAYLOAD_<count>
 * (absolute paths of the payload files, in the order given; ours win over
 * the request's). stdout and stderr share one pipe: each line goes to the
 * engine's log and to the line callback, and the last INSTALL_OUTPUT_MAX
 * bytes are kept for the result.
 *
 * On timeout the whole group gets SIGTERM, then SIGKILL after the grace
 * period. install_cancel(kill_running = 0) lets the installer finish
 * (the caller skips what follows); kill_running = 1 kills the group as a
 * timeout does. A killed installer ends as OUTCOME_FAILED with exit code
 * -1; otherwise the exit code goes through rcmap_outcome().
 */
#ifndef FW_INSTALL_H
#define FW_INSTALL_H

#include <stddef.h>
#include <stdint.h>

#include "fwfleet.pb-c.h"

struct event_base;
struct install;

#define INSTALL_OUTPUT_MAX	(64u << 10)	/* output kept for the result */
#define INSTALL_LINE_MAX	1024		/* longer lines are split */
#define INSTALL_TIMEOUT_S	1800		/* if the request has none */
#define INSTALL_GRACE_MS	10000		/* SIGTERM -> SIGKILL */

struct install_spec {
	const Fwfleet__InstallRequest *req;	/* used during install_start */
	const char *staging_dir;		/* absolute */
	const char *const *payloads;	/* file names in staging_dir */
	size_t n_payloads;
	/* Tuning (tests), 0 for the defaults: overrides req->timeout_s. */
	unsigned timeout_ms;
	unsigned grace_ms;
};

struct install_result {
	Fwfleet__InstallOutcome outcome;
	int exit_code;			/* -1 if killed by a signal */
	int signo;			/* the signal that ended it, or 0 */
	int timed_out;
	int cancelled;			/* killed by install_cancel(.., 1) */
	long pgid;			/* its process group (= its pid) */
	uint64_t duration_ms;
	const char *error;		/* why it failed, or "" */
	const char *output;		/* the last output, NUL-terminated */
	size_t output_len;
	uint64_t output_total;		/* bytes it wrote in all */
	int output_truncated;		/* output lost its beginning */
	char *const *lines;		/* output split into lines */
	size_t n_lines;
};

/* Called with each output line (no newline; valid UTF-8). */
typedef void (*install_line_cb)(void *arg, const char *line);
/* Exactly once; the install is freed after it returns. */
typedef void (*install_done_cb)(void *arg, const struct install_result *res);

/*
 * Starts spec->req's installer. Returns 0 and *out (valid until done_cb
 * has returned), or an FW_ERR_* code with err when it cannot start (bad
 * request, installer missing or not executable); then no callback is
 * made. line_cb may be NULL.
 */
int install_start(struct event_base *base, const struct install_spec *spec,
    install_line_cb line_cb, install_done_cb done_cb, void *arg,
    struct install **out, char *err, size_t errlen);

/*
 * kill_running = 0: let the running installer finish (noted only);
 * 1: kill its whole group (SIGTERM, SIGKILL after the grace period);
 * done_cb follows with cancelled set.
 */
void install_cancel(struct install *in, int kill_running);

/* The installer's process group (its pid), for logs and diagnostics. */
long install_pgid(const struct install *in);

/*
 * Teardown: kills the group at once (SIGKILL), reaps what it can within
 * a second, frees in; no callback. Not from inside in's own callbacks.
 */
void install_free(struct install *in);

#endif
