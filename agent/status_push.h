/*
 * Status pushes from the engine to the controller: StatusPush messages
 * POSTed to <base_url>/status (protobuf body, application/x-protobuf, at
 * most STATUS_BODY_MAX bytes) by a worker thread, best effort: a push
 * never blocks its caller, and one that cannot be delivered is dropped
 * after trying each base URL once.
 *
 * Progress pushes (no log lines, no outcome, no error, phase not DONE or
 * FAILED) are rate-limited per component to STATUS_PROGRESS_PER_S: a newer
 * one replaces a queued one of the same component. Everything else is
 * sent in order. The queue holds at most STATUS_QUEUE_MAX messages; when
 * it is full, progress pushes are dropped first.
 */
#ifndef FW_STATUS_PUSH_H
#define FW_STATUS_PUSH_H

#include <stddef.h>

#include <openssl/ssl.h>

#include "fwfleet.pb-c.h"

#define STATUS_PATH		"/status"
#define STATUS_BODY_MAX		(64u << 10)
#define STATUS_PROGRESS_PER_S	4
#define STATUS_QUEUE_MAX	256

struct status_pusher;

struct status_target {
	SSL_CTX *ssl_ctx;		/* client context; referenced */
	const char *session_id;		/* filled into pushes without one */
	const char *node_name;		/* likewise */
	const char *const *base_urls;	/* "https://198.18.0.1:63002" */
	size_t n_base_urls;
	int timeout_ms;			/* per attempt; 0 = 5000 */
};

/*
 * Starts a pusher (and its thread). Returns 0 and *out, or an FW_ERR_*
 * code with err (bad URL, no thread).
 */
int status_pusher_new(const struct status_target *t,
    struct status_pusher **out, char *err, size_t errlen);

/*
 * Queues a copy of msg (log lines dropped from the oldest on if the body
 * would be too big). Never blocks on the network; callable from any
 * thread.
 */
void status_push(struct status_pusher *p, const Fwfleet__StatusPush *msg);

/*
 * Builds and queues a push: phase, progress, an outcome (or UNKNOWN) and
 * an error (or NULL); no log lines.
 */
void status_push_phase(struct status_pusher *p, const char *component_id,
    Fwfleet__Phase phase, uint64_t bytes_done, uint64_t bytes_total,
    Fwfleet__InstallOutcome outcome, const char *error);

/* Pushes still queued or being sent. */
size_t status_pending(struct status_pusher *p);

/*
 * Sends what is queued for at most flush_ms, then stops the thread and
 * frees p. status_pusher_free(NULL, ..) is a no-op.
 */
void status_pusher_free(struct status_pusher *p, int flush_ms);

#endif
