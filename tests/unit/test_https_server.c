/*
 * The controller's HTTPS server over real sockets on loopback and real
 * TLS 1.3: the test's main thread runs the server's event loop while
 * blocking OpenSSL clients run in threads, each with a certificate issued
 * by pki_issue_pem. Counters and callback results are read only once the
 * clients are done and the loop is stopped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "err.h"
#include "https_server.h"
#include "pki.h"
#include "tls.h"
#include "util.h"

#define SID		"s-0123456789abcdef"
#define SMALL_SIZE	100000u
#define BIG_SIZE	(64u * 1024 * 1024)
#define BIG_CLIENTS	8
#define MAX_RESP	4
#define HEAD_MAX	8192

struct ca {
	EVP_PKEY *key;
	X509 *cert;
	char *pem;
	size_t len;
};

struct fixture {
	struct ca good;
	struct ca other;
	SSL_CTX *server_ctx;
	SSL_CTX *engine;		/* engine of SID, good CA */
	SSL_CTX *foreign;		/* engine of SID, another CA */
	SSL_CTX *controller;		/* controller of SID */
	SSL_CTX *other_session;		/* engine of another session */
	struct event_base *base;
	unsigned int threads;		/* the server's opts.threads */
	struct https_server *srv;
	char dir[64];
	char small[128];
	char big[128];
	char empty[128];
	/* What the status callback saw. */
	int pushes;
	char node[64];
	char cert_node[32];	/* the node its certificate names */
	char component[64];
	char peer[80];
	unsigned int percent;
	int phase;
	size_t nlines;
	char line1[64];
};

struct resp {
	int status;
	char head[HEAD_MAX];
	unsigned char *body;
	uint64_t body_len;
};

/* One client connection: raw request bytes out, responses in. */
struct job {
	SSL_CTX *ctx;
	const char *host;
	uint16_t port;
	const char *req;
	const void *body;		/* sent after the head(s) */
	size_t body_len;
	int wait_continue;		/* send body only after a 100 */
	int nresp;
	int head_only[MAX_RESP];
	int stream;			/* check bodies: the pattern */
	uint64_t stream_first;
	uint64_t abort_after;		/* stream: hang up after this */
	unsigned int stall_ms;		/* stream: wait before reading */
	int wait_eof;			/* read until the server closes */
	/* results */
	int tls_ok;
	int got;
	struct resp resp[MAX_RESP];
	int eof;			/* the server closed cleanly or not */
	int stream_ok;
	uint64_t streamed;
	atomic_int done;
};

/* The byte at offset i of every test file. */
static unsigned char pattern(uint64_t i)
{
	return (unsigned char)((i * 131u) ^ (i >> 11) ^ (i >> 23));
}

static void ca_make(struct ca *ca, const char *cn)
{
	char err[256];

	assert_int_equal(pki_ca_create(cn, 30, &ca->key, &ca->cert, err,
	    sizeof(err)), 0);
	assert_int_equal(pki_cert_to_pem(ca->cert, &ca->pem, &ca->len), 0);
}

static void ca_free(struct ca *ca)
{
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
	free(ca->pem);
}

/* A TLS context of role with a certificate issued by issuer naming
 * session sid and role name, trusting the good CA. */
static SSL_CTX *ctx_make(struct fixture *f, enum tls_role role,
    const struct ca *issuer, const char *sid, const char *name)
{
	char san_sid[128], san_role[128], err[256];
	const char *sans[] = { san_sid, san_role, "IP:127.0.0.1", "IP:::1",
		"URI:" TLS_NODE_URI_PREFIX "3", NULL };
	struct pki_pem pem = { 0 };
	SSL_CTX *ctx;

	snprintf(san_sid, sizeof(san_sid), "URI:%s%s", TLS_SESSION_URI_PREFIX,
	    sid);
	snprintf(san_role, sizeof(san_role), "URI:%s%s", TLS_ROLE_URI_PREFIX,
	    name);
	assert_int_equal(pki_issue_pem(issuer->key, issuer->cert, "test",
	    sans, 3600, &pem, err, sizeof(err)), 0);
	ctx = tls_ctx_new(role, f->good.pem, f->good.len, pem.cert,
	    pem.cert_len, pem.key, pem.key_len, err, sizeof(err));
	if (ctx == NULL)
		fail_msg("tls_ctx_new: %s", err);
	pki_pem_clear(&pem);
	return ctx;
}

static void file_make(const char *path, uint64_t size)
{
	static unsigned char buf[1 << 20];
	uint64_t off = 0;
	size_t n, i;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	while (off < size) {
		n = size - off < sizeof(buf) ? (size_t)(size - off) :
		    sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = pattern(off + i);
		assert_int_equal(write(fd, buf, n), (ssize_t)n);
		off += n;
	}
	assert_int_equal(close(fd), 0);
}

static void on_status(void *arg, const Fwfleet__StatusPush *st,
    const char *peer, const char *node)
{
	struct fixture *f = arg;

	f->pushes++;
	snprintf(f->node, sizeof(f->node), "%s", st->node_name);
	snprintf(f->component, sizeof(f->component), "%s", st->component_id);
	snprintf(f->peer, sizeof(f->peer), "%s", peer);
	snprintf(f->cert_node, sizeof(f->cert_node), "%s", node);
	f->percent = st->percent;
	f->phase = (int)st->phase;
	f->nlines = st->n_log_lines;
	snprintf(f->line1, sizeof(f->line1), "%s",
	    st->n_log_lines > 1 ? st->log_lines[1] : "");
}

static struct https_server *server_start(struct fixture *f,
    const char *const *addrs, unsigned int idle, unsigned int send,
    unsigned int max_conns)
{
	struct https_server_opts o = {
		.ctx = f->server_ctx,
		.session_id = SID,
		.bind_addrs = addrs,
		.on_status = on_status,
		.arg = f,
		.threads = f->threads,
		.idle_timeout_s = idle,
		.send_timeout_s = send,
		.max_conns = max_conns,
	};
	struct https_server *s = NULL;
	char err[256];

	if (https_server_start(f->base, &o, &s, err, sizeof(err)) != 0)
		fail_msg("https_server_start: %s", err);
	assert_non_null(s);
	assert_true(https_server_port(s) != 0);
	return s;
}

static int group_setup(void **state, unsigned int threads)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->threads = threads;
	ca_make(&f->good, "test CA");
	ca_make(&f->other, "another CA");
	f->server_ctx = ctx_make(f, TLS_ROLE_SERVER, &f->good, SID,
	    TLS_ROLE_CONTROLLER);
	f->engine = ctx_make(f, TLS_ROLE_CLIENT, &f->good, SID,
	    TLS_ROLE_ENGINE);
	f->foreign = ctx_make(f, TLS_ROLE_CLIENT, &f->other, SID,
	    TLS_ROLE_ENGINE);
	f->controller = ctx_make(f, TLS_ROLE_CLIENT, &f->good, SID,
	    TLS_ROLE_CONTROLLER);
	f->other_session = ctx_make(f, TLS_ROLE_CLIENT, &f->good,
	    "s-another", TLS_ROLE_ENGINE);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_https.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->small, sizeof(f->small), "%s/small.bin", f->dir);
	snprintf(f->big, sizeof(f->big), "%s/big.bin", f->dir);
	snprintf(f->empty, sizeof(f->empty), "%s/empty.bin", f->dir);
	file_make(f->small, SMALL_SIZE);
	file_make(f->big, BIG_SIZE);
	file_make(f->empty, 0);
	assert_non_null(f->base = event_base_new());
	f->srv = server_start(f, NULL, 0, 0, 0);
	assert_int_equal(https_server_add_file(f->srv, "/payload/small.bin",
	    f->small), 0);
	assert_int_equal(https_server_add_file(f->srv, "/payload/big.bin",
	    f->big), 0);
	assert_int_equal(https_server_add_file(f->srv, "/payload/empty.bin",
	    f->empty), 0);
	assert_int_equal(https_server_add_file(f->srv,
	    "/payload/with space.bin", f->small), 0);
	*state = f;
	return 0;
}

/* Everything on the test's loop. */
static int setup_inline(void **state)
{
	return group_setup(state, 0);
}

/* Connections on two worker threads. */
static int setup_threads(void **state)
{
	return group_setup(state, 2);
}

static int group_teardown(void **state)
{
	struct fixture *f = *state;

	https_server_free(f->srv);
	event_base_free(f->base);
	unlink(f->small);
	unlink(f->big);
	unlink(f->empty);
	rmdir(f->dir);
	SSL_CTX_free(f->server_ctx);
	SSL_CTX_free(f->engine);
	SSL_CTX_free(f->foreign);
	SSL_CTX_free(f->controller);
	SSL_CTX_free(f->other_session);
	ca_free(&f->good);
	ca_free(&f->other);
	free(f);
	return 0;
}

/* --- a blocking client ---------------------------------------------------- */

struct cl {
	SSL *ssl;
	unsigned char buf[65536];
	size_t off;
	size_t len;
};

/* Reads more bytes into the buffer. Returns > 0, 0 at a clean EOF, < 0. */
static int cl_fill(struct cl *k)
{
	int n;

	if (k->off == k->len)
		k->off = k->len = 0;
	if (k->len == sizeof(k->buf)) {
		memmove(k->buf, k->buf + k->off, k->len - k->off);
		k->len -= k->off;
		k->off = 0;
	}
	ERR_clear_error();
	n = SSL_read(k->ssl, k->buf + k->len, (int)(sizeof(k->buf) - k->len));
	if (n > 0) {
		k->len += (size_t)n;
		return n;
	}
	return SSL_get_error(k->ssl, n) == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

/* Reads one response head into head (NUL-terminated). Returns 0 or -1. */
static int cl_head(struct cl *k, char *head, size_t max)
{
	unsigned char *e;
	size_t n;

	for (;;) {
		e = memmem(k->buf + k->off, k->len - k->off, "\r\n\r\n", 4);
		if (e != NULL) {
			n = (size_t)(e - (k->buf + k->off)) + 4;
			if (n >= max)
				return -1;
			memcpy(head, k->buf + k->off, n);
			head[n] = '\0';
			k->off += n;
			return 0;
		}
		if (cl_fill(k) <= 0)
			return -1;
	}
}

/* Reads n body bytes: into out if not NULL, else checks the pattern;
 * *gotp counts them as they come. */
static int cl_body(struct cl *k, unsigned char *out, uint64_t n,
    uint64_t first, int *pattern_ok, uint64_t *gotp)
{
	uint64_t got = 0;
	size_t take, i;

	while (got < n) {
		*gotp = got;
		if (k->off == k->len && cl_fill(k) <= 0)
			return -1;
		take = k->len - k->off;
		if (take > n - got)
			take = (size_t)(n - got);
		if (out != NULL)
			memcpy(out + got, k->buf + k->off, take);
		else
			for (i = 0; i < take; i++)
				if (k->buf[k->off + i] !=
				    pattern(first + got + i))
					*pattern_ok = 0;
		k->off += take;
		got += take;
	}
	*gotp = got;
	return 0;
}

/* The value of field name in a response head, or NULL. */
static const char *hdr(const char *head, const char *name, char *buf,
    size_t len)
{
	const char *p = head;
	size_t nlen = strlen(name), vlen;

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
			p += nlen + 1;
			while (*p == ' ')
				p++;
			vlen = strcspn(p, "\r");
			if (vlen >= len)
				return NULL;
			memcpy(buf, p, vlen);
			buf[vlen] = '\0';
			return buf;
		}
	}
	return NULL;
}

static int cl_response(struct job *j, struct cl *k, struct resp *r,
    int head_only)
{
	char v[64];
	uint64_t clen = 0;
	int ok = 1;

	do {
		if (cl_head(k, r->head, sizeof(r->head)) != 0 ||
		    strncmp(r->head, "HTTP/1.1 ", 9) != 0)
			return -1;
		r->status = (int)strtol(r->head + 9, NULL, 10);
		/* A 100 Continue: send the body now. */
		if (r->status == 100 && j->wait_continue &&
		    SSL_write(k->ssl, j->body, (int)j->body_len) <= 0)
			return -1;
	} while (r->status == 100);
	if (hdr(r->head, "Content-Length", v, sizeof(v)) != NULL)
		clen = strtoull(v, NULL, 10);
	if (head_only || r->status == 204)
		return 0;
	if (j->stream && r->status / 100 == 2) {
		if (j->stall_ms > 0)
			usleep(j->stall_ms * 1000u);
		if (j->abort_after > 0 && j->abort_after < clen)
			clen = j->abort_after;
		if (cl_body(k, NULL, clen, j->stream_first, &ok,
		    &j->streamed) != 0)
			return -1;
		j->stream_ok = ok;
		return 0;
	}
	r->body = malloc(clen + 1);
	if (r->body == NULL || cl_body(k, r->body, clen, 0, &ok,
	    &r->body_len) != 0)
		return -1;
	r->body_len = (size_t)clen;
	return 0;
}

static int cl_connect(struct job *j)
{
	struct sockaddr_storage ss;
	struct timeval tv = { 20, 0 };
	socklen_t sl;
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (strchr(j->host, ':') != NULL) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(j->port);
		inet_pton(AF_INET6, j->host, &s6->sin6_addr);
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(j->port);
		inet_pton(AF_INET, j->host, &s4->sin_addr);
		sl = sizeof(*s4);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void *client_main(void *arg)
{
	struct job *j = arg;
	struct cl *k = calloc(1, sizeof(*k));
	int fd = -1, i;

	if (k == NULL || (fd = cl_connect(j)) < 0 ||
	    (k->ssl = SSL_new(j->ctx)) == NULL || SSL_set_fd(k->ssl, fd) != 1)
		goto out;
	if (SSL_connect(k->ssl) != 1)
		goto out;
	j->tls_ok = 1;
	if (j->req[0] != '\0' &&
	    SSL_write(k->ssl, j->req, (int)strlen(j->req)) <= 0)
		goto out;
	if (j->body_len > 0 && !j->wait_continue &&
	    SSL_write(k->ssl, j->body, (int)j->body_len) <= 0)
		goto out;
	for (i = 0; i < j->nresp; i++) {
		if (cl_response(j, k, &j->resp[i], j->head_only[i]) != 0)
			goto out;
		j->got++;
	}
	if (j->wait_eof) {
		while (k->off == k->len && cl_fill(k) > 0)
			;
		j->eof = k->off == k->len;
	}
out:
	if (k != NULL) {
		SSL_free(k->ssl);
		free(k);
	}
	if (fd >= 0)
		close(fd);
	ERR_clear_error();
	atomic_store(&j->done, 1);
	return NULL;
}

struct tick {
	struct job *jobs;
	size_t n;
	struct event_base *base;
};

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct tick *t = arg;
	size_t i;

	for (i = 0; i < t->n; i++)
		if (!atomic_load(&t->jobs[i].done))
			return;
	event_base_loopbreak(t->base);
}

/* Runs the loop for ms milliseconds (lets the server settle). */
static void loop_for(struct fixture *f, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(f->base, &tv);
	event_base_dispatch(f->base);
}

/* Runs the jobs in threads while this thread runs the server. */
static void run_jobs(struct fixture *f, struct job *jobs, size_t n)
{
	struct timeval tv = { 0, 2000 };
	struct tick t = { jobs, n, f->base };
	pthread_t th[BIG_CLIENTS];
	struct event *ev;
	size_t i;

	assert_true(n <= BIG_CLIENTS);
	ev = event_new(f->base, -1, EV_PERSIST, on_tick, &t);
	assert_non_null(ev);
	event_add(ev, &tv);
	for (i = 0; i < n; i++) {
		if (jobs[i].port == 0)
			jobs[i].port = https_server_port(f->srv);
		if (jobs[i].host == NULL)
			jobs[i].host = "127.0.0.1";
		if (jobs[i].nresp == 0)
			jobs[i].nresp = 1;
		assert_int_equal(pthread_create(&th[i], NULL, client_main,
		    &jobs[i]), 0);
	}
	event_base_dispatch(f->base);
	event_free(ev);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	loop_for(f, 30);
}

static void job_clear(struct job *j)
{
	int i;

	for (i = 0; i < MAX_RESP; i++)
		free(j->resp[i].body);
}

/* One request on one connection with the engine certificate. */
static void run1(struct fixture *f, struct job *j, const char *req)
{
	if (j->ctx == NULL)
		j->ctx = f->engine;
	j->req = req;
	run_jobs(f, j, 1);
}

static void check_small_body(const struct resp *r, uint64_t first,
    uint64_t n)
{
	uint64_t i;

	assert_int_equal(r->body_len, n);
	for (i = 0; i < n; i++)
		if (r->body[i] != pattern(first + i))
			fail_msg("byte %llu differs", (unsigned long long)i);
}

static void stats(struct fixture *f, struct https_server_stats *st)
{
	https_server_get_stats(f->srv, st);
}

/* Runs the loop until the server has refused want connections in all
 * (worker threads count them in their own time), for 10 s at most. */
static void wait_refused(struct fixture *f, uint64_t want)
{
	struct https_server_stats st;
	uint64_t t0 = fw_now_ms();

	for (;;) {
		stats(f, &st);
		if (st.refused >= want || fw_now_ms() - t0 > 10000)
			return;
		loop_for(f, 10);
	}
}

/* --- tests ---------------------------------------------------------------- */

static void test_get_full(void **state)
{
	struct fixture *f = *state;
	struct job j = { 0 };
	char v[128];

	run1(f, &j, "GET /payload/small.bin HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(j.got, 1);
	assert_int_equal(j.resp[0].status, 200);
	assert_string_equal(hdr(j.resp[0].head, "Content-Length", v,
	    sizeof(v)), "100000");
	assert_string_equal(hdr(j.resp[0].head, "Accept-Ranges", v,
	    sizeof(v)), "bytes");
	assert_non_null(hdr(j.resp[0].head, "ETag", v, sizeof(v)));
	assert_non_null(hdr(j.resp[0].head, "Date", v, sizeof(v)));
	assert_null(hdr(j.resp[0].head, "Content-Range", v, sizeof(v)));
	check_small_body(&j.resp[0], 0, SMALL_SIZE);
	job_clear(&j);
}

static void test_get_range(void **state)
{
	struct fixture *f = *state;
	struct job j = { 0 };
	char v[128];

	run1(f, &j, "GET /payload/small.bin HTTP/1.1\r\nHost: x\r\n"
	    "Range: bytes=100-199\r\n\r\n");
	assert_int_equal(j.resp[0].status, 206);
	assert_string_equal(hdr(j.resp[0].head, "Content-Range", v,
	    sizeof(v)), "bytes 100-199/100000");
	assert_string_equal(hdr(j.resp[0].head, "Content-Length", v,
	    sizeof(v)), "100");
	check_small_body(&j.resp[0], 100, 100);
	job_clear(&j);
}

static void test_resume_and_suffix(void **state)
{
	struct fixture *f = *state;
	struct job j = { .nresp = 3 };
	char v[128];

	/* Resume from the middle, the last 10 bytes and a clipped range,
	 * pipelined on one connection. */
	run1(f, &j, "GET /payload/small.bin HTTP/1.1\r\nHost: x\r\n"
	    "Range: bytes=54321-\r\n\r\n"
	    "GET /payload/small.bin HTTP/1.1\r\nHost: x\r\n"
	    "Range: bytes=-10\r\n\r\n"
	    "GET /payload/small.bin HTTP/1.1\r\nHost: x\r\n"
	    "Range: bytes=99990-200000\r\n\r\n");
	assert_int_equal(j.got, 3);
	assert_int_equal(j.resp[0].status, 206);
	assert_string_equal(hdr(j.resp[0].head, "Content-Range", v,
	    sizeof(v)), "bytes 54321-99999/100000");
	check_small_body(&j.resp[0], 54321, SMALL_SIZE - 54321);
	assert_int_equal(j.resp[1].status, 206);
	check_small_body(&j.resp[1], SMALL_SIZE - 10, 10);
	assert_int_equal(j.resp[2].status, 206);
	assert_string_equal(hdr(j.resp[2].head, "Content-Range", v,
	    sizeof(v)), "bytes 99990-99999/100000");
	check_small_body(&j.resp[2], 99990, 10);
	job_clear(&j);
}

static void test_range_ignored(void **state)
{
	struct fixture *f = *state;
	struct job j = { .nresp = 3 };
	char v[128], req[1024], etag[128];

	/* Several ranges, a malformed one, another unit: the whole file. */
	run1(f, &j, "GET /payload/small.bin HTTP/1.1\r\nHost: x\r\n"
	    "Range: bytes=0-9,20-29\r\n\r\n"
	    "GET /payload/small.bin HTTP/1.1\r\nHost: x\r\n"
	    "Range: bytes=9-5\r\n\r\n"
	    "GET /payload/small.bin HTTP/1.1\r\nHost: x\r\n"
	    "Range: items=0-9\r\n\r\n");
	assert_int_equal(j.got, 3);
	assert_int_equal(j.resp[0].status, 200);
	check_small_body(&j.resp[0], 0, SMALL_SIZE);
	assert_int_equal(j.resp[1].status, 200);
	assert_int_equal(j.resp[2].status, 200);
	assert_non_null(hdr(j.resp[0].head, "ETag", etag, sizeof(etag)));
	job_clear(&j);

	/* If-Range: our ETag honours the range, another one does not. */
	memset(&j, 0, sizeof(j));
	j.nresp = 2;
	snprintf(req, sizeof(req), "GET /payload/small.bin HTTP/1.1\r\n"
	    "Host: x\r\nRange: bytes=0-9\r\nIf-Range: %s\r\n\r\n"
	    "GET /payload/small.bin HTTP/1.1\r\nHost: x\r\n"
	    "Range: bytes=0-9\r\nIf-Range: \"stale\"\r\n\r\n", etag);
	run1(f, &j, req);
	assert_int_equal(j.got, 2);
	assert_int_equal(j.resp[0].status, 206);
	check_small_body(&j.resp[0], 0, 10);
	assert_int_equal(j.resp[1].status, 200);
	assert_null(hdr(j.resp[1].head, "Content-Range", v, sizeof(v)));
	job_clear(&j);
}

static void test_unsatisfiable(void **state)
{
	struct fixture *f = *state;
	struct job j = { .nresp = 2 };
	char v[128];

	run1(f, &j, "GET /payload/small.bin HTTP/1.1\r\nHost: x\r\n"
	    "Range: bytes=100000-\r\n\r\n"
	    "GET /payload/empty.bin HTTP/1.1\r\nHost: x\r\n"
	    "Range: bytes=0-0\r\n\r\n");
	assert_int_equal(j.got, 2);
	assert_int_equal(j.resp[0].status, 416);
	assert_string_equal(hdr(j.resp[0].head, "Content-Range", v,
	    sizeof(v)), "bytes */100000");
	assert_int_equal(j.resp[1].status, 416);
	assert_string_equal(hdr(j.resp[1].head, "Content-Range", v,
	    sizeof(v)), "bytes */0");
	job_clear(&j);
}

static void test_empty_file_and_head(void **state)
{
	struct fixture *f = *state;
	struct job j = { .nresp = 3, .head_only = { 0, 1, 0 } };
	char v[128];

	run1(f, &j, "GET /payload/empty.bin HTTP/1.1\r\nHost: x\r\n\r\n"
	    "HEAD /payload/small.bin HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /payload/with%20space.bin HTTP/1.1\r\nHost: x\r\n"
	    "Range: bytes=0-0\r\n\r\n");
	assert_int_equal(j.got, 3);
	assert_int_equal(j.resp[0].status, 200);
	assert_int_equal(j.resp[0].body_len, 0);
	assert_int_equal(j.resp[1].status, 200);
	assert_string_equal(hdr(j.resp[1].head, "Content-Length", v,
	    sizeof(v)), "100000");
	/* HEAD sent no body: the next response follows at once. */
	assert_int_equal(j.resp[2].status, 206);
	check_small_body(&j.resp[2], 0, 1);
	job_clear(&j);
}

static void test_not_found_and_methods(void **state)
{
	struct fixture *f = *state;
	struct job j = { .nresp = 4 };
	char v[128];

	run1(f, &j, "GET /etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /payload/../payload/small.bin HTTP/1.1\r\nHost: x\r\n\r\n"
	    "DELETE /payload/small.bin HTTP/1.1\r\nHost: x\r\n\r\n"
	    "GET /status HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(j.got, 4);
	assert_int_equal(j.resp[0].status, 404);
	assert_int_equal(j.resp[1].status, 404);
	assert_int_equal(j.resp[2].status, 405);
	assert_string_equal(hdr(j.resp[2].head, "Allow", v, sizeof(v)),
	    "GET, HEAD");
	assert_int_equal(j.resp[3].status, 405);
	assert_string_equal(hdr(j.resp[3].head, "Allow", v, sizeof(v)),
	    "POST");
	job_clear(&j);
}

static void test_bad_requests(void **state)
{
	struct fixture *f = *state;
	struct job j = { .wait_eof = 1 };
	char *big;
	size_t n = 20000;

	run1(f, &j, "GET /payload/small.bin HTTP/1.1\r\n\r\n");
	assert_int_equal(j.resp[0].status, 400);	/* no Host */
	assert_true(j.eof);
	job_clear(&j);

	memset(&j, 0, sizeof(j));
	j.wait_eof = 1;
	run1(f, &j, "GET /payload/small.bin HTTP/2.0\r\nHost: x\r\n\r\n");
	assert_int_equal(j.resp[0].status, 505);
	job_clear(&j);

	memset(&j, 0, sizeof(j));
	run1(f, &j, "GET /payload/small.bin HTTP/1.1\r\nHost: x\r\n"
	    " folded\r\n\r\n");
	assert_int_equal(j.resp[0].status, 400);
	job_clear(&j);

	memset(&j, 0, sizeof(j));
	run1(f, &j, "GET /payload/small%00.bin HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(j.resp[0].status, 400);
	job_clear(&j);

	/* A head larger than the server takes. */
	big = malloc(n + 64);
	assert_non_null(big);
	snprintf(big, 64, "GET / HTTP/1.1\r\nHost: x\r\nX: ");
	memset(big + strlen(big), 'a', n);
	big[n + 20] = '\0';
	memset(&j, 0, sizeof(j));
	j.wait_eof = 1;
	run1(f, &j, big);
	assert_int_equal(j.resp[0].status, 431);
	job_clear(&j);
	free(big);

	/* Content-Length and Transfer-Encoding together. */
	memset(&j, 0, sizeof(j));
	run1(f, &j, "POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	assert_int_equal(j.resp[0].status, 400);
	job_clear(&j);
}

static uint8_t *push_pack(size_t *len)
{
	Fwfleet__StatusPush st = FWFLEET__STATUS_PUSH__INIT;
	char *lines[] = { "starting", "flashing 1/3" };
	uint8_t *buf;

	st.session_id = SID;
	st.node_name = "node7";
	st.component_id = "bios-2.10";
	st.phase = FWFLEET__PHASE__PHASE_INSTALLING;
	st.percent = 42;
	st.bytes_done = 1234;
	st.bytes_total = 5678;
	st.n_log_lines = 2;
	st.log_lines = lines;
	*len = fwfleet__status_push__get_packed_size(&st);
	buf = malloc(*len);
	assert_non_null(buf);
	fwfleet__status_push__pack(&st, buf);
	return buf;
}

static void test_post_status(void **state)
{
	struct fixture *f = *state;
	struct https_server_stats before, after;
	struct job j = { 0 };
	char req[512];
	size_t len;
	uint8_t *body = push_pack(&len);

	stats(f, &before);
	f->pushes = 0;
	snprintf(req, sizeof(req), "POST /status HTTP/1.1\r\nHost: x\r\n"
	    "Content-Type: application/x-protobuf\r\n"
	    "Content-Length: %zu\r\n\r\n", len);
	j.body = body;
	j.body_len = len;
	j.req = req;
	j.ctx = f->engine;
	j.nresp = 1;
	run_jobs(f, &j, 1);
	assert_int_equal(j.got, 1);
	assert_int_equal(j.resp[0].status, 204);
	assert_int_equal(f->pushes, 1);
	assert_string_equal(f->node, "node7");
	/* What the sender wrote, and what its certificate says. */
	assert_string_equal(f->cert_node, "3");
	assert_string_equal(f->component, "bios-2.10");
	assert_int_equal(f->percent, 42);
	assert_int_equal(f->phase, FWFLEET__PHASE__PHASE_INSTALLING);
	assert_int_equal(f->nlines, 2);
	assert_string_equal(f->line1, "flashing 1/3");
	assert_true(strncmp(f->peer, "127.0.0.1:", 10) == 0);
	stats(f, &after);
	assert_int_equal(after.status_pushes, before.status_pushes + 1);
	job_clear(&j);

	/* With Expect: 100-continue the body follows the interim 100. */
	memset(&j, 0, sizeof(j));
	snprintf(req, sizeof(req), "POST /status HTTP/1.1\r\nHost: x\r\n"
	    "Expect: 100-continue\r\nContent-Length: %zu\r\n\r\n", len);
	j.body = body;
	j.body_len = len;
	j.wait_continue = 1;
	run1(f, &j, req);
	assert_int_equal(j.resp[0].status, 204);
	assert_int_equal(f->pushes, 2);
	job_clear(&j);
	free(body);
}

static void test_post_too_big(void **state)
{
	struct fixture *f = *state;
	struct job j = { .wait_eof = 1 };
	size_t n = 1024 * 1024;
	char req[256];
	char *body;

	f->pushes = 0;
	/* Announced too big with Expect: refused before the body. */
	snprintf(req, sizeof(req), "POST /status HTTP/1.1\r\nHost: x\r\n"
	    "Expect: 100-continue\r\nContent-Length: %u\r\n\r\n",
	    HTTPS_STATUS_MAX_DEFAULT + 1);
	run1(f, &j, req);
	assert_int_equal(j.resp[0].status, 413);
	assert_true(j.eof);
	job_clear(&j);

	/* Without Expect the client sends 1 MiB anyway: the 413 still
	 * arrives (the server drains before closing). */
	body = calloc(1, n);
	assert_non_null(body);
	memset(&j, 0, sizeof(j));
	snprintf(req, sizeof(req), "POST /status HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: %zu\r\n\r\n", n);
	j.body = body;
	j.body_len = n;
	run1(f, &j, req);
	assert_int_equal(j.resp[0].status, 413);
	assert_int_equal(f->pushes, 0);
	job_clear(&j);
	free(body);

	/* No Content-Length at all. */
	memset(&j, 0, sizeof(j));
	run1(f, &j, "POST /status HTTP/1.1\r\nHost: x\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
	assert_int_equal(j.resp[0].status, 411);
	job_clear(&j);
}

static void test_post_garbage(void **state)
{
	struct fixture *f = *state;
	static const char garbage[] = "\xff\xff\xff\xff\xff\xff\xff\x01garbage";
	Fwfleet__StatusPush st = FWFLEET__STATUS_PUSH__INIT;
	struct job j = { .nresp = 2 };
	uint8_t wrong[256];
	char req[1024];
	size_t wlen;

	f->pushes = 0;
	st.session_id = "s-another";
	st.node_name = "n";
	wlen = fwfleet__status_push__pack(&st, wrong);
	snprintf(req, sizeof(req), "POST /status HTTP/1.1\r\nHost: x\r\n"
	    "Content-Length: %zu\r\n\r\n%s", sizeof(garbage) - 1, garbage);
	/* Then a push for another session, on the same connection. */
	snprintf(req + strlen(req), sizeof(req) - strlen(req),
	    "POST /status HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n",
	    wlen);
	j.body = wrong;
	j.body_len = wlen;
	run1(f, &j, req);
	assert_int_equal(j.got, 2);
	assert_int_equal(j.resp[0].status, 400);
	assert_int_equal(j.resp[1].status, 403);
	assert_int_equal(f->pushes, 0);
	job_clear(&j);
}

static void test_refused(void **state)
{
	struct fixture *f = *state;
	struct https_server_stats before, after;
	struct job j[3];
	const char *req = "GET /payload/small.bin HTTP/1.1\r\nHost: x\r\n\r\n";

	stats(f, &before);
	memset(j, 0, sizeof(j));
	j[0].ctx = f->foreign;
	j[1].ctx = f->controller;
	j[2].ctx = f->other_session;
	j[0].req = j[1].req = j[2].req = req;
	j[1].wait_eof = j[2].wait_eof = 1;
	run_jobs(f, j, 3);
	wait_refused(f, before.refused + 3);
	/* Another CA: the handshake fails; no HTTP at all. */
	assert_int_equal(j[0].got, 0);
	/* Our CA, but a controller's or another session's certificate. */
	assert_int_equal(j[1].got, 1);
	assert_int_equal(j[1].resp[0].status, 403);
	assert_int_equal(j[1].resp[0].body_len, strlen("forbidden\n"));
	assert_true(j[1].eof);
	assert_int_equal(j[2].resp[0].status, 403);
	stats(f, &after);
	assert_int_equal(after.refused, before.refused + 3);
	assert_int_equal(after.bytes_sent, before.bytes_sent);
	job_clear(&j[0]);
	job_clear(&j[1]);
	job_clear(&j[2]);
}

static void test_ipv6_and_ipv4(void **state)
{
	struct fixture *f = *state;
	struct job j[2];
	const char *req = "GET /payload/small.bin HTTP/1.1\r\nHost: x\r\n"
	    "Range: bytes=-3\r\n\r\n";

	memset(j, 0, sizeof(j));
	j[0].ctx = j[1].ctx = f->engine;
	j[0].req = j[1].req = req;
	j[0].host = "::1";
	j[1].host = "127.0.0.1";
	run_jobs(f, j, 2);
	assert_int_equal(j[0].resp[0].status, 206);
	check_small_body(&j[0].resp[0], SMALL_SIZE - 3, 3);
	assert_int_equal(j[1].resp[0].status, 206);
	job_clear(&j[0]);
	job_clear(&j[1]);
}

/* Resident and peak resident set size of this process, in KiB. */
static long proc_status_kb(const char *field)
{
	char line[256];
	size_t n = strlen(field);
	long v = -1;
	FILE *fp = fopen("/proc/self/status", "r");

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, field, n) == 0 && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(fp);
	return v;
}

/* Under valgrind or AddressSanitizer the process's RSS is theirs. */
static int rss_meaningful(void)
{
	const char *pre = getenv("LD_PRELOAD");

#if defined(__SANITIZE_ADDRESS__)
	return 0;
#endif
	return pre == NULL || strstr(pre, "vgpreload") == NULL;
}

static void test_big_file_memory(void **state)
{
	struct fixture *f = *state;
	struct https_server_stats before, after;
	struct job j[BIG_CLIENTS];
	const char *full = "GET /payload/big.bin HTTP/1.1\r\nHost: x\r\n\r\n";
	const char *resume = "GET /payload/big.bin HTTP/1.1\r\nHost: x\r\n"
	    "Range: bytes=33554431-\r\n\r\n";
	long rss0, peak;
	int fd, i, peak_reset;

	/* Warm up (threads, TLS, allocator), then reset the peak. */
	memset(j, 0, sizeof(j));
	j[0].ctx = f->engine;
	j[0].req = "GET /payload/small.bin HTTP/1.1\r\nHost: x\r\n\r\n";
	run_jobs(f, j, 1);
	job_clear(&j[0]);
	fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	peak_reset = fd >= 0 && write(fd, "5", 1) == 1;
	if (fd >= 0)
		close(fd);
	rss0 = proc_status_kb("VmRSS");
	stats(f, &before);

	memset(j, 0, sizeof(j));
	for (i = 0; i < BIG_CLIENTS; i++) {
		j[i].ctx = f->engine;
		j[i].stream = 1;
		j[i].req = i == 0 ? resume : full;
		j[i].stream_first = i == 0 ? 33554431u : 0;
	}
	run_jobs(f, j, BIG_CLIENTS);
	peak = peak_reset ? proc_status_kb("VmHWM") :
	    proc_status_kb("VmRSS");
	for (i = 0; i < BIG_CLIENTS; i++) {
		assert_int_equal(j[i].resp[0].status, i == 0 ? 206 : 200);
		assert_true(j[i].stream_ok);
		assert_int_equal(j[i].streamed, i == 0 ?
		    BIG_SIZE - 33554431u : BIG_SIZE);
	}
	stats(f, &after);
	assert_int_equal(after.bytes_sent - before.bytes_sent,
	    (uint64_t)BIG_SIZE * BIG_CLIENTS - 33554431u);
	print_message("%d clients x 64 MiB: RSS %ld KiB before, %s %ld KiB\n",
	    BIG_CLIENTS, rss0, peak_reset ? "peak" : "after", peak);
	if (rss_meaningful())
		assert_true(peak - rss0 < 16 * 1024);
}

static void test_idle_timeout_and_limit(void **state)
{
	struct fixture *f = *state;
	struct https_server *main_srv = f->srv;
	const char *addrs[] = { "127.0.0.1", NULL };
	struct job j[2];
	uint64_t t0;

	/* One connection at a time, 1 s to send a request. */
	f->srv = server_start(f, addrs, 1, 0, 1);
	assert_int_equal(https_server_add_file(f->srv, "/a", f->small), 0);
	memset(j, 0, sizeof(j));
	/* Sends nothing: closed by the idle deadline. The second waits
	 * for the first to go, then is served. */
	j[0].ctx = j[1].ctx = f->engine;
	j[0].req = "";
	j[0].nresp = 1;
	j[1].req = "GET /a HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0\r\n\r\n";
	t0 = fw_now_ms();
	run_jobs(f, j, 2);
	assert_int_equal(j[0].got, 0);
	assert_true(j[0].tls_ok);
	assert_int_equal(j[1].resp[0].status, 206);
	assert_true(fw_now_ms() - t0 >= 900);
	assert_true(fw_now_ms() - t0 < 10000);
	job_clear(&j[1]);
	https_server_free(f->srv);
	f->srv = main_srv;
}

static void test_http10(void **state)
{
	struct fixture *f = *state;
	struct job j = { .wait_eof = 1 };
	char v[64];

	/* HTTP/1.0 needs no Host and closes unless asked not to. */
	run1(f, &j, "GET /payload/small.bin HTTP/1.0\r\nRange: bytes=1-2\r\n"
	    "\r\n");
	assert_int_equal(j.resp[0].status, 206);
	assert_string_equal(hdr(j.resp[0].head, "Connection", v, sizeof(v)),
	    "close");
	check_small_body(&j.resp[0], 1, 2);
	assert_true(j.eof);
	job_clear(&j);

	memset(&j, 0, sizeof(j));
	j.nresp = 2;
	j.head_only[0] = 1;
	run1(f, &j, "HEAD /payload/small.bin HTTP/1.0\r\n"
	    "Connection: keep-alive\r\n\r\n"
	    "GET /payload/empty.bin HTTP/1.0\r\n\r\n");
	assert_int_equal(j.got, 2);
	assert_string_equal(hdr(j.resp[0].head, "Connection", v, sizeof(v)),
	    "keep-alive");
	assert_int_equal(j.resp[1].status, 200);
	job_clear(&j);
}

/* Clients that hang up mid-way or stop reading: the server lets go. */
static void test_abort_and_stall(void **state)
{
	struct fixture *f = *state;
	struct https_server *main_srv = f->srv;
	const char *addrs[] = { "::1", "127.0.0.1", NULL };
	const char *req = "GET /b HTTP/1.1\r\nHost: x\r\n\r\n";
	struct https_server_stats st;
	struct job j[2];

	f->srv = server_start(f, addrs, 0, 1, 0);
	assert_int_equal(https_server_add_file(f->srv, "/b", f->big), 0);
	memset(j, 0, sizeof(j));
	j[0].ctx = j[1].ctx = f->engine;
	j[0].req = j[1].req = req;
	j[0].stream = j[1].stream = 1;
	j[0].abort_after = 3 * 1024 * 1024 + 17;
	j[0].host = "::1";
	/* Stops reading for 3 s: the 1 s send timeout closes it. */
	j[1].stall_ms = 3000;
	run_jobs(f, j, 2);
	assert_true(j[0].stream_ok);
	assert_int_equal(j[0].streamed, 3 * 1024 * 1024 + 17);
	assert_true(j[1].streamed < BIG_SIZE);
	loop_for(f, 200);
	https_server_get_stats(f->srv, &st);
	assert_int_equal(st.requests, 2);
	assert_true(st.bytes_sent < 2ull * BIG_SIZE);
	https_server_free(f->srv);
	f->srv = main_srv;
}

static void test_api(void **state)
{
	struct fixture *f = *state;
	const char *bad[] = { "not-an-address", NULL };
	struct https_server_opts o = { .ctx = f->server_ctx,
		.session_id = SID, .bind_addrs = bad };
	struct https_server *s = (struct https_server *)1;
	char err[256];

	assert_int_equal(https_server_start(f->base, &o, &s, err,
	    sizeof(err)), FW_ERR_INVALID);
	assert_null(s);
	assert_non_null(strstr(err, "not-an-address"));
	o.bind_addrs = NULL;
	o.session_id = "";
	assert_int_equal(https_server_start(f->base, &o, &s, err,
	    sizeof(err)), FW_ERR_INVALID);

	assert_int_equal(https_server_add_file(f->srv, "/status", f->small),
	    FW_ERR_INVALID);
	assert_int_equal(https_server_add_file(f->srv, "relative", f->small),
	    FW_ERR_INVALID);
	assert_int_equal(https_server_add_file(f->srv, "/q?x", f->small),
	    FW_ERR_INVALID);
	assert_int_equal(https_server_add_file(f->srv, "/payload/small.bin",
	    f->small), 0);
	assert_int_equal(https_server_add_file(f->srv, "/payload/small.bin",
	    f->big), FW_ERR_EXISTS);
	assert_int_equal(https_server_add_file(f->srv, "/tmp", f->big), 0);
	assert_int_equal(https_server_remove_file(f->srv, "/tmp"), 0);
	assert_int_equal(https_server_remove_file(f->srv, "/tmp"),
	    FW_ERR_NOT_FOUND);
	https_server_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_full),
		cmocka_unit_test(test_get_range),
		cmocka_unit_test(test_resume_and_suffix),
		cmocka_unit_test(test_range_ignored),
		cmocka_unit_test(test_unsatisfiable),
		cmocka_unit_test(test_empty_file_and_head),
		cmocka_unit_test(test_not_found_and_methods),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_post_status),
		cmocka_unit_test(test_post_too_big),
		cmocka_unit_test(test_post_garbage),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_ipv6_and_ipv4),
		cmocka_unit_test(test_big_file_memory),
		cmocka_unit_test(test_idle_timeout_and_limit),
		cmocka_unit_test(test_http10),
		cmocka_unit_test(test_abort_and_stall),
		cmocka_unit_test(test_api),
	};

	int failed;

	signal(SIGPIPE, SIG_IGN);
	/* For slow runs (helgrind): FWFLEET_TEST_SKIP=test_big_file_memory */
	if (getenv("FWFLEET_TEST_SKIP") != NULL)
		cmocka_set_skip_filter(getenv("FWFLEET_TEST_SKIP"));
	failed = cmocka_run_group_tests_name("inline", tests, setup_inline,
	    group_teardown);
	failed += cmocka_run_group_tests_name("threads", tests, setup_threads,
	    group_teardown);
	return failed;
}
