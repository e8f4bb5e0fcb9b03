/*
 * The engine's fetcher: downloads a component's payload files from the
 * controller's HTTPS server (mutual TLS, the server checked to be the
 * session's controller) into a staging directory.
 *
 * Per file: the free space is checked first; bytes go to NAME.part in
 * chunks of the file's chunk_size, requested with HTTP Range in windows of
 * whole chunks, each chunk's sha256 checked as it completes; after a
 * broken connection or a 5xx the download resumes from the last verified
 * chunk (also across engine restarts: the chunks already in NAME.part are
 * verified again first), trying the base URLs in turn with a pause that
 * doubles (0.5, 1, 2, 4 s) and at most max_tries attempts per chunk; a
 * 4xx fails at once; a chunk whose hash is wrong is fetched once more,
 * then the fetch fails ("chunk 3 of fw.bin (bytes ...): sha256
 * mismatch"; chunks count from 0, as chunk_sha256 does). At the end the
 * whole file's sha256 is checked and NAME.part renamed to NAME. A NAME
 * already present with the right hash is kept.
 *
 * The download runs in a worker thread with blocking, timeout-bounded
 * I/O; progress and the result are handed to the event loop through a
 * pipe, and the callbacks run in the loop's thread.
 */
#ifndef FW_FETCH_H
#define FW_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "fwfleet.pb-c.h"

struct event_base;
struct fetch;

#define FETCH_MAX_TRIES		6		/* per chunk */
#define FETCH_BACKOFF_MS	500		/* first pause; doubles */
#define FETCH_BACKOFF_MAX_MS	4000
#define FETCH_WINDOW_BYTES	(8u << 20)	/* asked for per request */
#define FETCH_SPACE_MARGIN	(16u << 20)	/* kept free beyond the files */
#define FETCH_CONNECT_TIMEOUT_MS 10000
#define FETCH_IO_TIMEOUT_MS	30000

struct fetch_job {
	const Fwfleet__StageRequest *req;	/* copied */
	const char *staging_dir;		/* created (0700) if missing */
	SSL_CTX *ssl_ctx;	/* client context: engine cert, session CA */
	const char *session_id;
	/* Tuning, 0 for the defaults above. */
	unsigned max_tries;
	unsigned backoff_ms;
	unsigned backoff_max_ms;
	unsigned window_bytes;
	uint64_t space_margin;
	int connect_timeout_ms;
	int io_timeout_ms;
	/* Free bytes in a directory; NULL for diskspace_free (tests). */
	int (*free_bytes)(const char *dir, uint64_t *out);
};

struct fetch_progress {
	const char *component_id;
	const char *file;		/* the file being worked on */
	Fwfleet__Phase phase;		/* DOWNLOADING or VERIFYING */
	uint64_t bytes_done;		/* over all files */
	uint64_t bytes_total;
	unsigned percent;
};

struct fetch_result {
	int status;			/* 0, or an FW_ERR_* code */
	const char *error;		/* what failed, "" on success */
	uint64_t bytes_fetched;		/* verified bytes downloaded */
	unsigned requests;		/* HTTP requests sent */
	int unreachable;		/* failed, and no connection to the
					 * controller ever got through */
};

/* At most every 100 ms, and at each phase or file change. */
typedef void (*fetch_progress_cb)(void *arg, const struct fetch_progress *p);
/* Exactly once; the fetch is freed after it returns. */
typedef void (*fetch_done_cb)(void *arg, const struct fetch_result *res);

/*
 * Starts fetching job->req's files. Returns 0 and *out (valid until
 * done_cb has returned), or an FW_ERR_* code with err for a request that
 * cannot start (bad URL, bad file entry, no thread); then no callback is
 * made. progress_cb may be NULL.
 */
int fetch_start(struct event_base *base, const struct fetch_job *job,
    fetch_progress_cb progress_cb, fetch_done_cb done_cb, void *arg,
    struct fetch **out, char *err, size_t errlen);

/* Asks f to stop; done_cb follows soon with FW_ERR_CANCELLED. */
void fetch_cancel(struct fetch *f);

/*
 * Stops f and waits for its thread without calling done_cb (teardown).
 * Not from inside f's own callbacks. fetch_free(NULL) is a no-op.
 */
void fetch_free(struct fetch *f);

#endif
