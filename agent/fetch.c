/*
 * The fetcher: one worker thread per StageRequest doing blocking,
 * timeout-bounded HTTPS (http_client.c), so the sequential logic of
 * resume, retry and verification reads top to bottom and the event loop
 * never waits on the network or the disk. The worker hands progress and
 * its result to the loop through a mutex-guarded slot and a pipe.
 */
#include "fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/evp.h>

#include "err.h"
#include "http_client.h"
#include "log.h"
#include "proto.h"
#include "process.h"
#include "tls.h"
#include "util.h"

#define FETCH_BUF		(256u << 10)
#define FETCH_ERR_MAX		512
#define FETCH_PROGRESS_MS	100
#define FETCH_MB		(1024u * 1024u)
#define FETCH_ERROR_BODY_MAX	(64u << 10)

/* Internal: a chunk arrived damaged once; fetch it again at once. */
#define FETCH_REFETCH		1

struct fetch {
	struct event_base *base;
	Fwfleet__StageRequest *req;		/* our own copy */
	char *dir;
	SSL_CTX *ctx;
	char *session_id;
	struct http_url *urls;
	size_t n_urls;
	struct fetch_job tune;			/* tuning, defaults applied */
	fetch_progress_cb progress_cb;
	fetch_done_cb done_cb;
	void *arg;

	pthread_t thread;
	int thread_started;
	atomic_int cancelled;
	int cancel_pipe[2];		/* worker polls [0] */
	int notify_pipe[2];		/* worker writes [1], loop reads [0] */
	struct event *notify_ev;

	pthread_mutex_t mu;		/* guards the slot below */
	struct fetch_progress prog;
	char prog_file[256];
	int prog_dirty;
	int done;
	struct fetch_result res;
	char res_error[FETCH_ERR_MAX];

	/* The worker's own. */
	struct http_conn *conn;
	size_t url_idx;
	uint64_t total;			/* bytes of all files */
	uint64_t done_before;		/* bytes of the files finished */
	uint64_t last_post_ms;
	Fwfleet__Phase last_phase;
	const char *last_file;
	int permanent;			/* the last error: no retry */
	int connected;			/* a connection got through */
	int connect_failed;		/* the last error was connecting */
	char werr[FETCH_ERR_MAX];
	uint64_t fetched;
	unsigned requests;
	unsigned char *buf;
};

/* One payload file being fetched. */
struct ffile {
	const Fwfleet__PayloadFile *pf;
	char final[4096];
	char part[4096];
	int fd;
	uint64_t verified;		/* bytes of NAME.part known good */
	unsigned tries;			/* failed tries, current chunk */
	uint64_t bad_chunk;		/* a chunk that arrived damaged once */
	int bad_seen;
};

static int fetch_fail(struct fetch *f, int permanent, int r, const char *fmt,
    ...) __attribute__((format(printf, 4, 5)));

/* Records why the worker failed; returns r. */
static int fetch_fail(struct fetch *f, int permanent, int r, const char *fmt,
    ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(f->werr, sizeof(f->werr), fmt, ap);
	va_end(ap);
	f->permanent = permanent;
	return r;
}

/* --- validating a request ------------------------------------------- */

static int is_hex64(const char *s)
{
	size_t i;

	for (i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return s[64] == '\0';
}

static int name_ok(const char *n)
{
	size_t len = strlen(n);

	return len > 0 && len < 200 && strchr(n, '/') == NULL &&
	    strcmp(n, ".") != 0 && strcmp(n, "..") != 0;
}

static uint64_t chunk_count(const Fwfleet__PayloadFile *pf)
{
	if (pf->size == 0 || pf->chunk_size == 0)
		return 0;
	return (pf->size - 1) / pf->chunk_size + 1;
}

static int file_check(const Fwfleet__PayloadFile *pf, char *err,
    size_t errlen)
{
	size_t i;

	if (!name_ok(pf->name)) {
		fw_snprintf(err, errlen, "bad payload file name '%.100s'",
		    pf->name);
		return FW_ERR_INVALID;
	}
	if (pf->url_path[0] != '/' || strlen(pf->url_path) >= HTTP_PATH_MAX) {
		fw_snprintf(err, errlen, "%s: bad url_path", pf->name);
		return FW_ERR_INVALID;
	}
	if (!is_hex64(pf->sha256)) {
		fw_snprintf(err, errlen, "%s: bad sha256", pf->name);
		return FW_ERR_INVALID;
	}
	if (pf->size > 0 && pf->chunk_size == 0) {
		fw_snprintf(err, errlen, "%s: chunk_size is 0", pf->name);
		return FW_ERR_INVALID;
	}
	if (pf->n_chunk_sha256 != chunk_count(pf)) {
		fw_snprintf(err, errlen, "%s: %zu chunk hashes for %llu chunks",
		    pf->name, pf->n_chunk_sha256,
		    (unsigned long long)chunk_count(pf));
		return FW_ERR_INVALID;
	}
	for (i = 0; i < pf->n_chunk_sha256; i++)
		if (!is_hex64(pf->chunk_sha256[i])) {
			fw_snprintf(err, errlen, "%s: bad sha256 for chunk %zu",
			    pf->name, i);
			return FW_ERR_INVALID;
		}
	return 0;
}

static int request_check(const Fwfleet__StageRequest *req, char *err,
    size_t errlen)
{
	size_t i;
	int r;

	if (req->component_id == NULL || req->component_id[0] == '\0') {
		fw_snprintf(err, errlen, "stage request without component_id");
		return FW_ERR_INVALID;
	}
	if (req->n_base_urls == 0) {
		fw_snprintf(err, errlen, "%s: no base URL to fetch from",
		    req->component_id);
		return FW_ERR_INVALID;
	}
	for (i = 0; i < req->n_files; i++)
		if ((r = file_check(req->files[i], err, errlen)) != 0)
			return r;
	return 0;
}

/* --- talking to the loop -------------------------------------------- */

static void notify(struct fetch *f)
{
	ssize_t n;

	/* A full pipe already holds a wake-up: nothing is lost. */
	do {
		n = write(f->notify_pipe[1], "x", 1);
	} while (n < 0 && errno == EINTR);
}

static void post_progress(struct fetch *f, const char *file,
    Fwfleet__Phase phase, uint64_t done, int force)
{
	uint64_t now = fw_now_ms();

	if (!force && phase == f->last_phase && file == f->last_file &&
	    now - f->last_post_ms < FETCH_PROGRESS_MS)
		return;
	f->last_post_ms = now;
	f->last_phase = phase;
	f->last_file = file;
	pthread_mutex_lock(&f->mu);
	f->prog.phase = phase;
	f->prog.bytes_done = done;
	f->prog.bytes_total = f->total;
	f->prog.percent = f->total ? (unsigned)(done * 100 / f->total) : 100;
	fw_snprintf(f->prog_file, sizeof(f->prog_file), "%s", file);
	f->prog_dirty = 1;
	pthread_mutex_unlock(&f->mu);
	notify(f);
}

/* Only connecting failed, and never did a connection get through: a
 * firewall, most likely, between us and the controller's HTTPS port. */
static int never_got_through(const struct fetch *f)
{
	return f->connect_failed && !f->connected;
}

static void post_done(struct fetch *f, int status)
{
	pthread_mutex_lock(&f->mu);
	f->done = 1;
	f->res.status = status;
	fw_snprintf(f->res_error, sizeof(f->res_error), "%s",
	    status ? f->werr : "");
	f->res.bytes_fetched = f->fetched;
	f->res.requests = f->requests;
	f->res.unreachable = status != 0 && never_got_through(f);
	pthread_mutex_unlock(&f->mu);
	notify(f);
}

/* Sleeps ms or until cancelled. */
static int pause_ms(struct fetch *f, unsigned ms)
{
	struct pollfd p = { .fd = f->cancel_pipe[0], .events = POLLIN };

	while (poll(&p, 1, (int)ms) < 0 && errno == EINTR)
		;
	return atomic_load(&f->cancelled) ? FW_ERR_CANCELLED : 0;
}

/* --- local files ------------------------------------------------------ */

static int pwrite_all(int fd, const unsigned char *p, size_t len, off_t off)
{
	ssize_t n;

	while (len > 0) {
		n = pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return FW_ERR_SYSTEM;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Reads exactly len bytes at off; FW_ERR_EOF if the file is shorter. */
static int pread_all(int fd, unsigned char *p, size_t len, off_t off)
{
	ssize_t n;

	while (len > 0) {
		n = pread(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return FW_ERR_SYSTEM;
		if (n == 0)
			return FW_ERR_EOF;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static void md_hex(EVP_MD_CTX *md, char hex[65])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	EVP_DigestFinal_ex(md, d, &dlen);
	fw_hex_encode(d, dlen < 32 ? dlen : 32, hex);
}

/* sha256 of bytes [off, off+len) of fd into hex. */
static int hash_range(struct fetch *f, int fd, uint64_t off, uint64_t len,
    char hex[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t n;
	int r = FW_ERR_NOMEM;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto out;
	while (len > 0) {
		if (atomic_load(&f->cancelled)) {
			r = FW_ERR_CANCELLED;
			goto out;
		}
		n = len > FETCH_BUF ? FETCH_BUF : (size_t)len;
		if ((r = pread_all(fd, f->buf, n, (off_t)off)) != 0)
			goto out;
		EVP_DigestUpdate(md, f->buf, n);
		off += n;
		len -= n;
	}
	md_hex(md, hex);
	r = 0;
out:
	EVP_MD_CTX_free(md);
	return r;
}

static uint64_t chunk_len(const Fwfleet__PayloadFile *pf, uint64_t k)
{
	uint64_t off = k * pf->chunk_size;

	return pf->size - off < pf->chunk_size ? pf->size - off :
	    pf->chunk_size;
}

/* Size of a regular file at path, or -1. */
static int64_t file_size(const char *path)
{
	struct stat st;

	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return -1;
	return (int64_t)st.st_size;
}

static int check_space(struct fetch *f)
{
	const Fwfleet__PayloadFile *pf;
	char path[4096];
	uint64_t need = 0, have = 0, left;
	int64_t have_part;
	size_t i;
	int r;

	for (i = 0; i < f->req->n_files; i++) {
		pf = f->req->files[i];
		if (fw_snprintf(path, sizeof(path), "%s/%s", f->dir,
		    pf->name) == 0 && file_size(path) == (int64_t)pf->size)
			continue;
		have_part = -1;
		if (fw_snprintf(path, sizeof(path), "%s/%s.part", f->dir,
		    pf->name) == 0)
			have_part = file_size(path);
		left = pf->size;
		if (have_part > 0)
			left -= (uint64_t)have_part < left ?
			    (uint64_t)have_part : left;
		need = need + left < need ? UINT64_MAX : need + left;
	}
	need = need + f->tune.space_margin < need ? UINT64_MAX :
	    need + f->tune.space_margin;
	if ((r = f->tune.free_bytes(f->dir, &have)) != 0)
		return fetch_fail(f, 1, r, "cannot check the free space in "
		    "%s: %s", f->dir, strerror(errno));
	if (have < need)
		return fetch_fail(f, 1, FW_ERR_SYSTEM, "not enough disk space "
		    "to stage %s: need %llu MB in %s, have %llu MB",
		    f->req->component_id,
		    (unsigned long long)(need / FETCH_MB +
		    (need % FETCH_MB != 0)), f->dir,
		    (unsigned long long)(have / FETCH_MB));
	return 0;
}

/*
 * Whether NAME is already there with the right sha256 (1), else 0 after
 * removing a wrong one.
 */
static int already_there(struct fetch *f, struct ffile *ff)
{
	char hex[65];
	int fd, r, ok = 0;

	if (file_size(ff->final) != (int64_t)ff->pf->size) {
		unlink(ff->final);
		return 0;
	}
	if ((fd = open(ff->final, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return 0;
	r = hash_range(f, fd, 0, ff->pf->size, hex);
	close(fd);
	if (r == FW_ERR_CANCELLED)
		return r;
	ok = r == 0 && strcasecmp(hex, ff->pf->sha256) == 0;
	if (!ok)
		unlink(ff->final);
	else
		unlink(ff->part);
	return ok;
}

/*
 * Verifies the chunks NAME.part holds already and cuts it back to the
 * last good one: a restart resumes from there.
 */
static int resume_verify(struct fetch *f, struct ffile *ff)
{
	const Fwfleet__PayloadFile *pf = ff->pf;
	char hex[65];
	struct stat st;
	uint64_t k, off = 0, len;
	int r;

	if (fstat(ff->fd, &st) != 0)
		return fetch_fail(f, 1, FW_ERR_SYSTEM, "stat %s: %s", ff->part,
		    strerror(errno));
	for (k = 0; k < pf->n_chunk_sha256; k++) {
		len = chunk_len(pf, k);
		if (off + len > (uint64_t)st.st_size)
			break;
		if ((r = hash_range(f, ff->fd, off, len, hex)) != 0)
			return fetch_fail(f, 1, r, "reading %s: %s", ff->part,
			    r == FW_ERR_SYSTEM ? strerror(errno) :
			    fw_strerror(r));
		if (strcasecmp(hex, pf->chunk_sha256[k]) != 0)
			break;
		off += len;
	}
	if ((uint64_t)st.st_size != off && ftruncate(ff->fd, (off_t)off) != 0)
		return fetch_fail(f, 1, FW_ERR_SYSTEM, "truncate %s: %s",
		    ff->part, strerror(errno));
	if (off > 0)
		log_info("%s: resuming %s at byte %llu of %llu (%llu chunks "
		    "verified)", f->req->component_id, pf->name,
		    (unsigned long long)off, (unsigned long long)pf->size,
		    (unsigned long long)k);
	ff->verified = off;
	return 0;
}

/* --- one request: a window of whole chunks -------------------------- */

static int ensure_conn(struct fetch *f)
{
	struct http_client_opts o = {
		.ctx = f->ctx,
		.session_id = f->session_id,
		.peer_role = TLS_ROLE_CONTROLLER,
		.connect_timeout_ms = f->tune.connect_timeout_ms,
		.io_timeout_ms = f->tune.io_timeout_ms,
		.cancel_fd = f->cancel_pipe[0],
	};
	int r;

	if (f->conn != NULL && http_reusable(f->conn))
		return 0;
	http_close(f->conn);
	f->conn = NULL;
	r = http_connect(&o, &f->urls[f->url_idx], &f->conn, f->werr,
	    sizeof(f->werr));
	f->connect_failed = r != 0;
	f->connected |= r == 0;
	/* A refused certificate will not change by trying again. */
	if (r != 0)
		f->permanent = r == FW_ERR_CANCELLED ||
		    r == FW_ERR_UNSUPPORTED || r == FW_ERR_CERT;
	return r;
}

/* Checks the response to GET Range first..last; 0 if the body follows. */
static int check_response(struct fetch *f, struct ffile *ff,
    const struct http_response *resp, uint64_t first, uint64_t last)
{
	const char *url = f->urls[f->url_idx].text;
	const Fwfleet__PayloadFile *pf = ff->pf;

	if (resp->status == 206) {
		if (resp->has_range && resp->range_total != pf->size)
			return fetch_fail(f, 1, FW_ERR_PROTOCOL,
			    "GET %s%s: the server's %s has %llu bytes, the "
			    "index says %llu",
			    url, pf->url_path, pf->name,
			    (unsigned long long)resp->range_total,
			    (unsigned long long)pf->size);
		if (resp->has_range && resp->range_first == first &&
		    resp->range_last == last)
			return 0;
		return fetch_fail(f, 0, FW_ERR_PROTOCOL, "GET %s%s: asked for "
		    "bytes %llu-%llu, got another range", url, pf->url_path,
		    (unsigned long long)first, (unsigned long long)last);
	}
	/* A server that ignores Range: usable from the start only. */
	if (resp->status == 200 && first == 0 &&
	    (resp->content_length < 0 ||
	    (uint64_t)resp->content_length == pf->size))
		return 0;
	return fetch_fail(f, resp->status >= 400 && resp->status < 500,
	    FW_ERR_REMOTE, "GET %s%s: HTTP %d %s", url, pf->url_path,
	    resp->status, resp->reason);
}

/* Reads chunk k (len bytes at off) from the body into NAME.part. */
static int read_chunk(struct fetch *f, struct ffile *ff, uint64_t k,
    uint64_t off, uint64_t len, char hex[65])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint64_t have = 0;
	size_t want, got, filled;
	int r = FW_ERR_NOMEM;

	if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
		goto out;
	while (have < len) {
		want = len - have > FETCH_BUF ? FETCH_BUF :
		    (size_t)(len - have);
		/* Fill the buffer before writing and hashing it: TLS hands
		 * over at most a record (16 KiB) at a time. */
		for (filled = 0; filled < want; filled += got) {
			if ((r = http_read_body(f->conn, f->buf + filled,
			    want - filled, &got, f->werr,
			    sizeof(f->werr))) != 0) {
				f->permanent = r == FW_ERR_CANCELLED;
				goto out;
			}
			if (got == 0) {
				r = fetch_fail(f, 0, FW_ERR_EOF, "%s: the "
				    "response ended inside chunk %llu of %s",
				    f->urls[f->url_idx].text,
				    (unsigned long long)k, ff->pf->name);
				goto out;
			}
		}
		if (pwrite_all(ff->fd, f->buf, filled, (off_t)(off + have)) !=
		    0) {
			r = fetch_fail(f, 1, FW_ERR_SYSTEM, "write %s: %s",
			    ff->part, strerror(errno));
			goto out;
		}
		EVP_DigestUpdate(md, f->buf, filled);
		have += filled;
		post_progress(f, ff->pf->name,
		    FWFLEET__PHASE__PHASE_DOWNLOADING,
		    f->done_before + off + have, 0);
	}
	md_hex(md, hex);
	r = 0;
out:
	EVP_MD_CTX_free(md);
	return r;
}

/* A chunk whose hash is wrong: cut it off; refetch once, then fail. */
static int chunk_mismatch(struct fetch *f, struct ffile *ff, uint64_t k,
    uint64_t off, uint64_t len)
{
	if (ftruncate(ff->fd, (off_t)off) != 0)
		return fetch_fail(f, 1, FW_ERR_SYSTEM, "truncate %s: %s",
		    ff->part, strerror(errno));
	http_close(f->conn);
	f->conn = NULL;
	if (ff->bad_seen && ff->bad_chunk == k)
		return fetch_fail(f, 1, FW_ERR_INVALID, "chunk %llu of %s "
		    "(bytes %llu-%llu): sha256 mismatch",
		    (unsigned long long)k, ff->pf->name,
		    (unsigned long long)off,
		    (unsigned long long)(off + len - 1));
	log_warn("%s: chunk %llu of %s arrived damaged (sha256 mismatch); "
	    "fetching it again", f->req->component_id, (unsigned long long)k,
	    ff->pf->name);
	ff->bad_seen = 1;
	ff->bad_chunk = k;
	return FETCH_REFETCH;
}

static int fetch_window(struct fetch *f, struct ffile *ff)
{
	const Fwfleet__PayloadFile *pf = ff->pf;
	struct http_response resp;
	char range[64], hex[65], scratch[FETCH_ERR_MAX];
	const char *hdrs[] = { range, NULL };
	uint64_t first = ff->verified, end, k, len, nch;
	int r;

	nch = f->tune.window_bytes / pf->chunk_size;
	nch = nch ? nch : 1;
	end = pf->size - first > nch * pf->chunk_size ?
	    first + nch * pf->chunk_size : pf->size;
	fw_snprintf(range, sizeof(range), "Range: bytes=%llu-%llu",
	    (unsigned long long)first, (unsigned long long)(end - 1));
	if ((r = ensure_conn(f)) != 0)
		return r;
	f->requests++;
	if ((r = http_request(f->conn, "GET", pf->url_path, hdrs, NULL, NULL,
	    0, &resp, f->werr, sizeof(f->werr))) != 0) {
		f->permanent = r == FW_ERR_CANCELLED || r == FW_ERR_INVALID;
		return r;
	}
	if ((r = check_response(f, ff, &resp, first, end - 1)) != 0)
		return r;
	for (k = first / pf->chunk_size; ff->verified < end; k++) {
		len = chunk_len(pf, k);
		if ((r = read_chunk(f, ff, k, ff->verified, len, hex)) != 0)
			return r;
		if (strcasecmp(hex, pf->chunk_sha256[k]) != 0)
			return chunk_mismatch(f, ff, k, ff->verified, len);
		ff->verified += len;
		f->fetched += len;
		ff->tries = 0;
		if (ff->bad_seen && ff->bad_chunk == k)
			ff->bad_seen = 0;
	}
	/* Read the end of the body (a last empty chunk) to reuse the
	 * connection; a server sending more than asked loses it. */
	if (resp.status != 206 || http_skip_body(f->conn, 0, scratch,
	    sizeof(scratch)) != 0) {
		http_close(f->conn);
		f->conn = NULL;
	}
	return 0;
}

/* --- one file --------------------------------------------------------- */

/* After a failed attempt: next URL, a pause; 0 to try again. */
static int retry_after(struct fetch *f, struct ffile *ff, int r)
{
	uint64_t k = ff->verified / (ff->pf->chunk_size ? ff->pf->chunk_size :
	    1);
	char last[FETCH_ERR_MAX];
	unsigned ms, i;

	if (f->permanent || r == FW_ERR_CANCELLED)
		return r;
	if (++ff->tries >= f->tune.max_tries) {
		memcpy(last, f->werr, sizeof(last));
		return fetch_fail(f, 1, r, "chunk %llu of %s: giving up after "
		    "%u %s: %s%s", (unsigned long long)k, ff->pf->name,
		    ff->tries, ff->tries == 1 ? "try" : "tries", last,
		    never_got_through(f) ?
		    "; no connection to the controller's HTTPS port got "
		    "through: a firewall on the controller's host or on the "
		    "way drops it (--open-firewall opens it on the "
		    "controller's host; --tunnel carries payloads inside "
		    "SSH)" : "");
	}
	ms = f->tune.backoff_ms;
	for (i = 1; i < ff->tries && ms < f->tune.backoff_max_ms; i++)
		ms *= 2;
	if (ms > f->tune.backoff_max_ms)
		ms = f->tune.backoff_max_ms;
	http_close(f->conn);
	f->conn = NULL;
	f->url_idx = (f->url_idx + 1) % f->n_urls;
	log_warn("%s: %s (try %u of %u); retrying in %u ms from %s",
	    f->req->component_id, f->werr, ff->tries, f->tune.max_tries, ms,
	    f->urls[f->url_idx].text);
	if (pause_ms(f, ms) != 0)
		return fetch_fail(f, 1, FW_ERR_CANCELLED, "cancelled");
	return 0;
}

static int finish_file(struct fetch *f, struct ffile *ff)
{
	char hex[65];
	int r, dfd;

	post_progress(f, ff->pf->name, FWFLEET__PHASE__PHASE_VERIFYING,
	    f->done_before + ff->pf->size, 1);
	if ((r = hash_range(f, ff->fd, 0, ff->pf->size, hex)) != 0)
		return fetch_fail(f, 1, r, "verifying %s: %s", ff->part,
		    r == FW_ERR_SYSTEM ? strerror(errno) : fw_strerror(r));
	if (strcasecmp(hex, ff->pf->sha256) != 0) {
		unlink(ff->part);
		return fetch_fail(f, 1, FW_ERR_INVALID, "%s: sha256 mismatch "
		    "for the whole file (got %s)", ff->pf->name, hex);
	}
	if (fsync(ff->fd) != 0 || rename(ff->part, ff->final) != 0)
		return fetch_fail(f, 1, FW_ERR_SYSTEM, "cannot finish %s: %s",
		    ff->final, strerror(errno));
	/* The rename itself must survive a crash too. */
	if ((dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

static int fetch_file(struct fetch *f, const Fwfleet__PayloadFile *pf)
{
	struct ffile ff = { .pf = pf, .fd = -1 };
	int r;

	if (fw_snprintf(ff.final, sizeof(ff.final), "%s/%s", f->dir,
	    pf->name) != 0 || fw_snprintf(ff.part, sizeof(ff.part),
	    "%s/%s.part", f->dir, pf->name) != 0)
		return fetch_fail(f, 1, FW_ERR_INVALID, "path too long");
	post_progress(f, pf->name, FWFLEET__PHASE__PHASE_DOWNLOADING,
	    f->done_before, 1);
	if ((r = already_there(f, &ff)) != 0) {
		if (r < 0)
			return fetch_fail(f, 1, r, "cancelled");
		log_info("%s: %s already staged", f->req->component_id,
		    pf->name);
		goto done;
	}
	ff.fd = open(ff.part, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (ff.fd < 0)
		return fetch_fail(f, 1, FW_ERR_SYSTEM, "open %s: %s", ff.part,
		    strerror(errno));
	if ((r = resume_verify(f, &ff)) != 0)
		goto out;
	while (ff.verified < pf->size) {
		r = fetch_window(f, &ff);
		if (r == FETCH_REFETCH)
			continue;
		if (r != 0 && (r = retry_after(f, &ff, r)) != 0)
			goto out;
	}
	if ((r = finish_file(f, &ff)) != 0)
		goto out;
done:
	f->done_before += pf->size;
	post_progress(f, pf->name, FWFLEET__PHASE__PHASE_DOWNLOADING,
	    f->done_before, 1);
	r = 0;
out:
	if (ff.fd >= 0)
		close(ff.fd);
	return r;
}

static int make_dir(struct fetch *f)
{
	struct stat st;

	if (mkdir(f->dir, 0700) != 0 && errno != EEXIST)
		return fetch_fail(f, 1, FW_ERR_SYSTEM, "mkdir %s: %s", f->dir,
		    strerror(errno));
	if (stat(f->dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return fetch_fail(f, 1, FW_ERR_SYSTEM, "%s is not a directory",
		    f->dir);
	return 0;
}

static void *fetch_main(void *arg)
{
	struct fetch *f = arg;
	size_t i;
	int r;

	f->buf = xmalloc(FETCH_BUF);
	for (i = 0; i < f->req->n_files; i++)
		f->total += f->req->files[i]->size;
	if ((r = make_dir(f)) == 0 && (r = check_space(f)) == 0)
		for (i = 0; r == 0 && i < f->req->n_files; i++)
			r = fetch_file(f, f->req->files[i]);
	if (r == 0 && f->req->n_files == 0)
		post_progress(f, "", FWFLEET__PHASE__PHASE_DOWNLOADING, 0, 1);
	if (r == FW_ERR_CANCELLED)
		fw_snprintf(f->werr, sizeof(f->werr), "%s: fetch cancelled",
		    f->req->component_id);
	http_close(f->conn);
	f->conn = NULL;
	free(f->buf);
	f->buf = NULL;
	post_done(f, r);
	return NULL;
}

/* --- the loop's side -------------------------------------------------- */

static void fetch_destroy(struct fetch *f)
{
	int i;

	if (f == NULL)
		return;
	if (f->notify_ev != NULL)
		event_free(f->notify_ev);
	for (i = 0; i < 2; i++) {
		if (f->cancel_pipe[i] >= 0)
			close(f->cancel_pipe[i]);
		if (f->notify_pipe[i] >= 0)
			close(f->notify_pipe[i]);
	}
	pthread_mutex_destroy(&f->mu);
	if (f->req != NULL)
		fwfleet__stage_request__free_unpacked(f->req, NULL);
	SSL_CTX_free(f->ctx);
	free(f->urls);
	free(f->dir);
	free(f->session_id);
	free(f);
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
	struct fetch *f = arg;
	struct fetch_progress prog;
	struct fetch_result res;
	char file[256], error[FETCH_ERR_MAX];
	int dirty, done;

	while (read(fd, file, sizeof(file)) > 0)
		;
	pthread_mutex_lock(&f->mu);
	prog = f->prog;
	memcpy(file, f->prog_file, sizeof(file));
	dirty = f->prog_dirty;
	f->prog_dirty = 0;
	done = f->done;
	res = f->res;
	memcpy(error, f->res_error, sizeof(error));
	pthread_mutex_unlock(&f->mu);
	prog.file = file;
	prog.component_id = f->req->component_id;
	if (dirty && f->progress_cb != NULL)
		f->progress_cb(f->arg, &prog);
	if (!done)
		return;
	pthread_join(f->thread, NULL);
	f->thread_started = 0;
	res.error = error;
	f->done_cb(f->arg, &res);
	fetch_destroy(f);
}

static void tune_defaults(struct fetch_job *t, const struct fetch_job *job)
{
	*t = *job;
	t->max_tries = t->max_tries ? t->max_tries : FETCH_MAX_TRIES;
	t->backoff_ms = t->backoff_ms ? t->backoff_ms : FETCH_BACKOFF_MS;
	t->backoff_max_ms = t->backoff_max_ms ? t->backoff_max_ms :
	    FETCH_BACKOFF_MAX_MS;
	t->window_bytes = t->window_bytes ? t->window_bytes :
	    FETCH_WINDOW_BYTES;
	t->space_margin = t->space_margin ? t->space_margin :
	    FETCH_SPACE_MARGIN;
	t->connect_timeout_ms = t->connect_timeout_ms > 0 ?
	    t->connect_timeout_ms : FETCH_CONNECT_TIMEOUT_MS;
	t->io_timeout_ms = t->io_timeout_ms > 0 ? t->io_timeout_ms :
	    FETCH_IO_TIMEOUT_MS;
	t->free_bytes = t->free_bytes ? t->free_bytes : diskspace_free;
	t->req = NULL;
	t->staging_dir = NULL;
	t->session_id = NULL;
	t->ssl_ctx = NULL;
}

static int fetch_setup(struct fetch *f, const struct fetch_job *job,
    char *err, size_t errlen)
{
	size_t i;
	int r;

	if (job->req == NULL || job->staging_dir == NULL ||
	    job->ssl_ctx == NULL || job->session_id == NULL) {
		fw_snprintf(err, errlen, "incomplete fetch job");
		return FW_ERR_INVALID;
	}
	if ((r = request_check(job->req, err, errlen)) != 0)
		return r;
	f->urls = xcalloc(job->req->n_base_urls, sizeof(*f->urls));
	f->n_urls = job->req->n_base_urls;
	for (i = 0; i < f->n_urls; i++)
		if ((r = http_url_parse(job->req->base_urls[i], &f->urls[i],
		    err, errlen)) != 0)
			return r;
	if (pipe2(f->cancel_pipe, O_CLOEXEC | O_NONBLOCK) != 0 ||
	    pipe2(f->notify_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		fw_snprintf(err, errlen, "pipe: %s", strerror(errno));
		return FW_ERR_SYSTEM;
	}
	f->req = (Fwfleet__StageRequest *)proto_copy(&job->req->base);
	f->dir = xstrdup(job->staging_dir);
	f->session_id = xstrdup(job->session_id);
	SSL_CTX_up_ref(job->ssl_ctx);
	f->ctx = job->ssl_ctx;
	tune_defaults(&f->tune, job);
	return 0;
}

int fetch_start(struct event_base *base, const struct fetch_job *job,
    fetch_progress_cb progress_cb, fetch_done_cb done_cb, void *arg,
    struct fetch **out, char *err, size_t errlen)
{
	struct fetch *f = xcalloc(1, sizeof(*f));
	int r = FW_ERR_INTERNAL;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	f->cancel_pipe[0] = f->cancel_pipe[1] = -1;
	f->notify_pipe[0] = f->notify_pipe[1] = -1;
	pthread_mutex_init(&f->mu, NULL);
	f->base = base;
	f->progress_cb = progress_cb;
	f->done_cb = done_cb;
	f->arg = arg;
	f->last_phase = FWFLEET__PHASE__PHASE_UNKNOWN;
	if ((r = fetch_setup(f, job, err, errlen)) != 0)
		goto out;
	f->notify_ev = event_new(base, f->notify_pipe[0], EV_READ | EV_PERSIST,
	    on_notify, f);
	if (f->notify_ev == NULL || event_add(f->notify_ev, NULL) != 0) {
		fw_snprintf(err, errlen, "cannot watch the fetch thread");
		r = FW_ERR_NOMEM;
		goto out;
	}
	if ((r = pthread_create(&f->thread, NULL, fetch_main, f)) != 0) {
		fw_snprintf(err, errlen, "cannot start a thread: %s",
		    strerror(r));
		r = FW_ERR_SYSTEM;
		goto out;
	}
	f->thread_started = 1;
	*out = f;
	f = NULL;
	r = 0;
out:
	fetch_destroy(f);
	return r;
}

void fetch_cancel(struct fetch *f)
{
	ssize_t n;

	if (f == NULL || atomic_exchange(&f->cancelled, 1))
		return;
	do {
		n = write(f->cancel_pipe[1], "c", 1);
	} while (n < 0 && errno == EINTR);
}

void fetch_free(struct fetch *f)
{
	if (f == NULL)
		return;
	fetch_cancel(f);
	if (f->thread_started)
		pthread_join(f->thread, NULL);
	fetch_destroy(f);
}
