/*
 * The fetcher and the status pusher against a real HTTPS server run by
 * this test: a blocking OpenSSL server thread on a loopback socket that
 * serves one payload with HTTP Range and can be told to cut the
 * connection after K bytes, answer with an error status, corrupt a
 * chunk, use chunked transfer coding or stall. Real sockets, real TLS,
 * real files in a temporary staging directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "err.h"
#include "fetch.h"
#include "http_client.h"
#include "pki.h"
#include "platform.h"
#include "status_push.h"
#include "tls.h"
#include "util.h"

#define SID		"s-fetch-1"
#define CHUNK		65536u
#define DATA_SIZE	(16u * CHUNK + 1234u)	/* 17 chunks, last short */
#define WINDOW		(4u * CHUNK)
#define URL_PATH	"/payload/fw1/1.0/fw.bin"
#define MAX_RANGES	64
#define BODY_MAX	(64u << 10)

/* --- the test server ------------------------------------------------- */

struct srv {
	int lfd;
	uint16_t port;
	SSL_CTX *ctx;
	pthread_t th;
	pthread_mutex_t mu;
	int stop;
	/* behaviour */
	const unsigned char *data;
	size_t size;
	int status;		/* answer GETs with this status (0: serve) */
	long cut_after;		/* close after this many body bytes (once) */
	int corrupt_chunk;	/* flip a byte of this chunk (-1: none) */
	int corrupt_times;	/* ... this many times */
	int chunked;		/* Transfer-Encoding: chunked */
	int stall;		/* never answer */
	/* what happened */
	int requests;
	int handshakes_failed;
	long served;
	int n_ranges;
	uint64_t range_first[MAX_RANGES];
	int posts;
	unsigned char last_post[BODY_MAX];
	size_t last_post_len;
};

struct tcase {
	struct srv srv;
	char dir[256];
	char stage[300];
	struct event_base *base;
	int done;
	struct fetch_result res;
	char error[512];
	int progress_calls;
	unsigned last_percent;
};

/* Reads one request head (up to the empty line) into buf; 0 at EOF. */
static size_t srv_read_head(SSL *ssl, char *buf, size_t len)
{
	size_t n = 0;
	int r;

	while (n + 1 < len) {
		r = SSL_read(ssl, buf + n, 1);
		if (r <= 0)
			return 0;
		n++;
		if (n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0) {
			buf[n] = '\0';
			return n;
		}
	}
	return 0;
}

static const char *srv_header(const char *head, const char *name)
{
	const char *p = head;
	size_t n = strlen(name);

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':')
			return p + n + 1 + (p[n + 1] == ' ');
	}
	return NULL;
}

static int srv_write(SSL *ssl, const void *p, size_t n)
{
	return n == 0 || SSL_write(ssl, p, (int)n) == (int)n ? 0 : -1;
}

static int srv_printf(SSL *ssl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int srv_printf(SSL *ssl, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return srv_write(ssl, buf, (size_t)n);
}

static int srv_post(struct srv *s, SSL *ssl, const char *head)
{
	const char *cl = srv_header(head, "Content-Length");
	size_t len = cl ? strtoul(cl, NULL, 10) : 0, got = 0;
	unsigned char buf[BODY_MAX];
	int r;

	if (len > sizeof(buf))
		return -1;
	while (got < len) {
		if ((r = SSL_read(ssl, buf + got, (int)(len - got))) <= 0)
			return -1;
		got += (size_t)r;
	}
	pthread_mutex_lock(&s->mu);
	s->posts++;
	memcpy(s->last_post, buf, len);
	s->last_post_len = len;
	pthread_mutex_unlock(&s->mu);
	return srv_printf(ssl, "HTTP/1.1 204 No Content\r\n\r\n");
}

/* Sends data[first..last] with the test's faults; -1 to close. */
static int srv_body(struct srv *s, SSL *ssl, uint64_t first, uint64_t last)
{
	unsigned char buf[8192];
	uint64_t off = first, n, bad;
	int cut = 0;

	while (off <= last) {
		n = last - off + 1 > sizeof(buf) ? sizeof(buf) : last - off + 1;
		memcpy(buf, s->data + off, n);
		pthread_mutex_lock(&s->mu);
		bad = (uint64_t)s->corrupt_chunk * CHUNK + 100;
		if (s->corrupt_chunk >= 0 && s->corrupt_times > 0 &&
		    bad >= off && bad < off + n) {
			buf[bad - off] ^= 0xff;
			s->corrupt_times--;
		}
		if (s->cut_after >= 0 && s->served + (long)n > s->cut_after) {
			n = (uint64_t)(s->cut_after - s->served);
			s->cut_after = -1;
			cut = 1;
		}
		s->served += (long)n;
		pthread_mutex_unlock(&s->mu);
		if (s->chunked && n > 0 && srv_printf(ssl, "%llx\r\n",
		    (unsigned long long)n) != 0)
			return -1;
		if (srv_write(ssl, buf, n) != 0 || cut)
			return -1;
		if (s->chunked && srv_printf(ssl, "\r\n") != 0)
			return -1;
		off += n;
	}
	return s->chunked ? srv_printf(ssl, "0\r\n\r\n") : 0;
}

static int srv_get(struct srv *s, SSL *ssl, const char *head)
{
	const char *range = srv_header(head, "Range");
	uint64_t first = 0, last = s->size - 1;
	char *end;

	pthread_mutex_lock(&s->mu);
	if (range != NULL && strncmp(range, "bytes=", 6) == 0) {
		first = strtoull(range + 6, &end, 10);
		last = strtoull(end + 1, NULL, 10);
		if (s->n_ranges < MAX_RANGES)
			s->range_first[s->n_ranges++] = first;
	}
	pthread_mutex_unlock(&s->mu);
	if (s->stall) {
		sleep(3);
		return -1;
	}
	if (s->status != 0)
		return srv_printf(ssl, "HTTP/1.1 %d Test Error\r\n"
		    "Content-Length: 5\r\n\r\noops\n", s->status);
	if (strstr(head, URL_PATH) == NULL)
		return srv_printf(ssl, "HTTP/1.1 404 Not Found\r\n"
		    "Content-Length: 0\r\n\r\n");
	if (s->chunked)
		srv_printf(ssl, "HTTP/1.1 206 Partial Content\r\n"
		    "Content-Range: bytes %llu-%llu/%zu\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n",
		    (unsigned long long)first, (unsigned long long)last,
		    s->size);
	else
		srv_printf(ssl, "HTTP/1.1 206 Partial Content\r\n"
		    "Content-Range: bytes %llu-%llu/%zu\r\n"
		    "Content-Length: %llu\r\n\r\n",
		    (unsigned long long)first, (unsigned long long)last,
		    s->size, (unsigned long long)(last - first + 1));
	return srv_body(s, ssl, first, last);
}

static void srv_conn(struct srv *s, int fd)
{
	struct timeval tv = { 5, 0 };
	char head[8192];
	SSL *ssl = SSL_new(s->ctx);
	int r;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) != 1) {
		pthread_mutex_lock(&s->mu);
		s->handshakes_failed++;
		pthread_mutex_unlock(&s->mu);
		goto out;
	}
	while (srv_read_head(ssl, head, sizeof(head)) > 0) {
		pthread_mutex_lock(&s->mu);
		s->requests++;
		pthread_mutex_unlock(&s->mu);
		if (strncmp(head, "POST ", 5) == 0)
			r = srv_post(s, ssl, head);
		else
			r = srv_get(s, ssl, head);
		if (r != 0)
			break;
	}
out:
	SSL_free(ssl);
	ERR_clear_error();
	close(fd);
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	struct pollfd p = { .fd = s->lfd, .events = POLLIN };
	int fd, stop;

	for (;;) {
		pthread_mutex_lock(&s->mu);
		stop = s->stop;
		pthread_mutex_unlock(&s->mu);
		if (stop)
			break;
		if (poll(&p, 1, 50) <= 0)
			continue;
		if ((fd = accept(s->lfd, NULL, NULL)) >= 0)
			srv_conn(s, fd);
	}
	return NULL;
}

/* --- certificates ----------------------------------------------------- */

struct ca {
	EVP_PKEY *key;
	X509 *cert;
	char *pem;
	size_t len;
};

static struct ca good_ca, other_ca;
static unsigned char *payload;
static char payload_hex[65];
static char chunk_hex[DATA_SIZE / CHUNK + 1][65];

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

static SSL_CTX *ctx_make(enum tls_role role, const struct ca *issuer,
    const char *const *sans)
{
	struct pki_pem pem = { 0 };
	char err[256];
	SSL_CTX *ctx;

	assert_int_equal(pki_issue_pem(issuer->key, issuer->cert, "test",
	    sans, 3600, &pem, err, sizeof(err)), 0);
	ctx = tls_ctx_new(role, good_ca.pem, good_ca.len, pem.cert,
	    pem.cert_len, pem.key, pem.key_len, err, sizeof(err));
	if (ctx == NULL)
		fail_msg("tls_ctx_new: %s", err);
	pki_pem_clear(&pem);
	return ctx;
}

static SSL_CTX *server_ctx(const struct ca *issuer)
{
	static const char *const sans[] = {
		"URI:" TLS_SESSION_URI_PREFIX SID,
		"URI:" TLS_ROLE_URI_PREFIX TLS_ROLE_CONTROLLER,
		"IP:127.0.0.1", "IP:::1", NULL
	};

	return ctx_make(TLS_ROLE_SERVER, issuer, sans);
}

static SSL_CTX *client_ctx(void)
{
	static const char *const sans[] = {
		"URI:" TLS_SESSION_URI_PREFIX SID,
		"URI:" TLS_ROLE_URI_PREFIX TLS_ROLE_ENGINE,
		"IP:127.0.0.1", NULL
	};

	return ctx_make(TLS_ROLE_CLIENT, &good_ca, sans);
}

static int srv_start(struct srv *s, const struct ca *issuer, int af)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
	    .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_in a4 = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = af == AF_INET6 ? sizeof(a6) : sizeof(a4);

	memset(s, 0, sizeof(*s));
	s->corrupt_chunk = -1;
	s->cut_after = -1;
	s->data = payload;
	s->size = DATA_SIZE;
	pthread_mutex_init(&s->mu, NULL);
	assert_true((s->lfd = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	if (bind(s->lfd, af == AF_INET6 ? (struct sockaddr *)&a6 :
	    (struct sockaddr *)&a4, len) != 0) {
		close(s->lfd);
		return -1;
	}
	assert_int_equal(listen(s->lfd, 8), 0);
	if (af == AF_INET6) {
		assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a6,
		    &len), 0);
		s->port = ntohs(a6.sin6_port);
	} else {
		assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a4,
		    &len), 0);
		s->port = ntohs(a4.sin_port);
	}
	s->ctx = server_ctx(issuer);
	assert_int_equal(pthread_create(&s->th, NULL, srv_main, s), 0);
	return 0;
}

static void srv_stop(struct srv *s)
{
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	pthread_mutex_unlock(&s->mu);
	pthread_join(s->th, NULL);
	close(s->lfd);
	SSL_CTX_free(s->ctx);
	pthread_mutex_destroy(&s->mu);
}

/* --- fixtures and helpers --------------------------------------------- */

static int group_setup(void **state)
{
	size_t i;

	signal(SIGPIPE, SIG_IGN);
	ca_make(&good_ca, "fetch test CA");
	ca_make(&other_ca, "another CA");
	payload = malloc(DATA_SIZE);
	for (i = 0; i < DATA_SIZE; i++)
		payload[i] = (unsigned char)((i * 7919u) >> 3 ^ i);
	fw_sha256_hex(payload, DATA_SIZE, payload_hex);
	for (i = 0; i * CHUNK < DATA_SIZE; i++)
		fw_sha256_hex(payload + i * CHUNK,
		    DATA_SIZE - i * CHUNK < CHUNK ? DATA_SIZE - i * CHUNK :
		    CHUNK, chunk_hex[i]);
	return 0;
}

static int group_teardown(void **state)
{
	ca_free(&good_ca);
	ca_free(&other_ca);
	free(payload);
	return 0;
}

static int setup(void **state)
{
	struct tcase *t = calloc(1, sizeof(*t));

	snprintf(t->dir, sizeof(t->dir), "/tmp/fwfleet-test-fetch-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->stage, sizeof(t->stage), "%s/stage", t->dir);
	assert_non_null(t->base = event_base_new());
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct tcase *t = *state;

	platform_remove_workdir(t->dir);
	event_base_free(t->base);
	free(t);
	return 0;
}

static void on_progress(void *arg, const struct fetch_progress *p)
{
	struct tcase *t = arg;

	t->progress_calls++;
	t->last_percent = p->percent;
	assert_string_equal(p->component_id, "fw1");
	assert_true(p->bytes_done <= p->bytes_total);
}

static void on_done(void *arg, const struct fetch_result *res)
{
	struct tcase *t = arg;

	t->done = 1;
	t->res = *res;
	snprintf(t->error, sizeof(t->error), "%s", res->error);
	t->res.error = t->error;
	event_base_loopbreak(t->base);
}

struct req {
	Fwfleet__StageRequest sr;
	Fwfleet__PayloadFile pf;
	Fwfleet__PayloadFile *files[1];
	char *chunks[DATA_SIZE / CHUNK + 1];
	char *urls[2];
	char url[2][128];
};

static void req_make(struct req *q, const char *url0, const char *url1)
{
	size_t i;

	memset(q, 0, sizeof(*q));
	fwfleet__stage_request__init(&q->sr);
	fwfleet__payload_file__init(&q->pf);
	q->pf.name = (char *)"fw.bin";
	q->pf.url_path = (char *)URL_PATH;
	q->pf.size = DATA_SIZE;
	q->pf.sha256 = payload_hex;
	q->pf.chunk_size = CHUNK;
	for (i = 0; i < sizeof(q->chunks) / sizeof(q->chunks[0]); i++)
		q->chunks[i] = chunk_hex[i];
	q->pf.n_chunk_sha256 = sizeof(q->chunks) / sizeof(q->chunks[0]);
	q->pf.chunk_sha256 = q->chunks;
	q->files[0] = &q->pf;
	q->sr.component_id = (char *)"fw1";
	q->sr.version = (char *)"1.0";
	q->sr.n_files = 1;
	q->sr.files = q->files;
	snprintf(q->url[0], sizeof(q->url[0]), "%s", url0);
	q->urls[0] = q->url[0];
	q->sr.n_base_urls = 1;
	if (url1 != NULL) {
		snprintf(q->url[1], sizeof(q->url[1]), "%s", url1);
		q->urls[1] = q->url[1];
		q->sr.n_base_urls = 2;
	}
	q->sr.base_urls = q->urls;
}

static void job_make(struct fetch_job *job, struct tcase *t, struct req *q,
    SSL_CTX *ctx)
{
	memset(job, 0, sizeof(*job));
	job->req = &q->sr;
	job->staging_dir = t->stage;
	job->ssl_ctx = ctx;
	job->session_id = SID;
	job->backoff_ms = 10;
	job->backoff_max_ms = 40;
	job->window_bytes = WINDOW;
	job->connect_timeout_ms = 3000;
	job->io_timeout_ms = 3000;
}

/* Runs job until done_cb; returns the result status. */
static int run_job(struct tcase *t, const struct fetch_job *job)
{
	struct fetch *f = NULL;
	char err[256];
	int r;

	r = fetch_start(t->base, job, on_progress, on_done, t, &f, err,
	    sizeof(err));
	if (r != 0)
		fail_msg("fetch_start: %s", err);
	while (!t->done)
		event_base_dispatch(t->base);
	return t->res.status;
}

static void url4(char *buf, size_t len, uint16_t port)
{
	snprintf(buf, len, "https://127.0.0.1:%u", port);
}

static void assert_staged(struct tcase *t)
{
	char path[400], *data = NULL, hex[65];
	size_t len = 0;

	snprintf(path, sizeof(path), "%s/fw.bin", t->stage);
	assert_int_equal(fw_read_file(path, 4 * DATA_SIZE, &data, &len), 0);
	assert_int_equal(len, DATA_SIZE);
	fw_sha256_hex(data, len, hex);
	assert_string_equal(hex, payload_hex);
	free(data);
	snprintf(path, sizeof(path), "%s/fw.bin.part", t->stage);
	assert_int_equal(access(path, F_OK), -1);
}

/* Runs the standard request against t->srv with a fresh client ctx. */
static int run_default(struct tcase *t, unsigned max_tries)
{
	struct fetch_job job;
	struct req q;
	char url[128];
	SSL_CTX *ctx = client_ctx();
	int r;

	url4(url, sizeof(url), t->srv.port);
	req_make(&q, url, NULL);
	job_make(&job, t, &q, ctx);
	job.max_tries = max_tries;
	r = run_job(t, &job);
	SSL_CTX_free(ctx);
	return r;
}

/* --- tests ------------------------------------------------------------ */

static void test_full_download(void **state)
{
	struct tcase *t = *state;

	srv_start(&t->srv, &good_ca, AF_INET);
	assert_int_equal(run_default(t, 0), 0);
	srv_stop(&t->srv);
	assert_staged(t);
	assert_string_equal(t->error, "");
	assert_int_equal(t->res.bytes_fetched, DATA_SIZE);
	/* 17 chunks in windows of 4: five requests on one connection. */
	assert_int_equal(t->res.requests, 5);
	assert_int_equal(t->srv.requests, 5);
	assert_true(t->progress_calls > 0);
	assert_int_equal(t->last_percent, 100);
}

static void test_chunked_encoding(void **state)
{
	struct tcase *t = *state;

	srv_start(&t->srv, &good_ca, AF_INET);
	t->srv.chunked = 1;
	assert_int_equal(run_default(t, 0), 0);
	srv_stop(&t->srv);
	assert_staged(t);
	assert_int_equal(t->srv.requests, 5);
}

static void test_cut_resumes(void **state)
{
	struct tcase *t = *state;

	srv_start(&t->srv, &good_ca, AF_INET);
	/* Inside chunk 4 (the second window's first chunk). */
	t->srv.cut_after = WINDOW + 37856;
	assert_int_equal(run_default(t, 0), 0);
	srv_stop(&t->srv);
	assert_staged(t);
	/* The cut window is asked for again from its first chunk. */
	assert_int_equal(t->srv.requests, 6);
	assert_int_equal(t->srv.n_ranges, 6);
	assert_int_equal(t->srv.range_first[1], WINDOW);
	assert_int_equal(t->srv.range_first[2], WINDOW);
	assert_int_equal(t->res.bytes_fetched, DATA_SIZE);
}

static void test_not_found(void **state)
{
	struct tcase *t = *state;

	srv_start(&t->srv, &good_ca, AF_INET);
	t->srv.status = 404;
	assert_int_equal(run_default(t, 0), FW_ERR_REMOTE);
	srv_stop(&t->srv);
	assert_int_equal(t->srv.requests, 1);
	assert_non_null(strstr(t->error, "HTTP 404"));
	assert_non_null(strstr(t->error, "https://127.0.0.1:"));
	assert_non_null(strstr(t->error, URL_PATH));
}

static void test_server_error_retries(void **state)
{
	struct tcase *t = *state;

	srv_start(&t->srv, &good_ca, AF_INET);
	t->srv.status = 500;
	assert_int_equal(run_default(t, 4), FW_ERR_REMOTE);
	srv_stop(&t->srv);
	assert_int_equal(t->srv.requests, 4);
	assert_non_null(strstr(t->error, "giving up after 4 tries"));
	assert_non_null(strstr(t->error, "HTTP 500"));
	assert_non_null(strstr(t->error, "chunk 0 of fw.bin"));
	/* It got through: no firewall advice. */
	assert_null(strstr(t->error, "--open-firewall"));
	assert_false(t->res.unreachable);
}

/* No connection ever got through: the error says what to do. */
static void test_unreachable_advises(void **state)
{
	struct tcase *t = *state;

	srv_start(&t->srv, &good_ca, AF_INET);
	srv_stop(&t->srv);	/* its port now refuses */
	assert_int_not_equal(run_default(t, 2), 0);
	assert_non_null(strstr(t->error, "giving up after 2 tries"));
	assert_non_null(strstr(t->error, "no connection to the controller's "
	    "HTTPS port got through"));
	assert_non_null(strstr(t->error, "--open-firewall"));
	assert_non_null(strstr(t->error, "--tunnel"));
	assert_true(t->res.unreachable);
}

static void test_corrupt_chunk_fails(void **state)
{
	struct tcase *t = *state;

	srv_start(&t->srv, &good_ca, AF_INET);
	t->srv.corrupt_chunk = 3;
	t->srv.corrupt_times = 100;
	assert_int_equal(run_default(t, 0), FW_ERR_INVALID);
	srv_stop(&t->srv);
	assert_string_equal(t->error,
	    "chunk 3 of fw.bin (bytes 196608-262143): sha256 mismatch");
	/* The damaged window, and once more from the damaged chunk. */
	assert_int_equal(t->srv.requests, 2);
	assert_int_equal(t->srv.range_first[1], 3 * CHUNK);
}

static void test_corrupt_chunk_once(void **state)
{
	struct tcase *t = *state;

	srv_start(&t->srv, &good_ca, AF_INET);
	t->srv.corrupt_chunk = 5;
	t->srv.corrupt_times = 1;
	assert_int_equal(run_default(t, 0), 0);
	srv_stop(&t->srv);
	assert_staged(t);
	/* Windows 0-3, 4-7 (5 damaged), 5-8, 9-12, 13-16. */
	assert_int_equal(t->srv.requests, 5);
	assert_int_equal(t->srv.range_first[2], 5 * CHUNK);
}

static void test_resume_from_part(void **state)
{
	struct tcase *t = *state;
	char path[400];
	unsigned char junk[1000];
	int fd;

	assert_int_equal(mkdir(t->stage, 0700), 0);
	snprintf(path, sizeof(path), "%s/fw.bin.part", t->stage);
	assert_true((fd = open(path, O_WRONLY | O_CREAT, 0600)) >= 0);
	/* Three good chunks, then bytes that are not chunk 3's. */
	assert_int_equal(write(fd, payload, 3 * CHUNK), 3 * CHUNK);
	memset(junk, 0x5a, sizeof(junk));
	assert_int_equal(write(fd, junk, sizeof(junk)), sizeof(junk));
	close(fd);
	srv_start(&t->srv, &good_ca, AF_INET);
	assert_int_equal(run_default(t, 0), 0);
	srv_stop(&t->srv);
	assert_staged(t);
	assert_int_equal(t->srv.range_first[0], 3 * CHUNK);
	assert_int_equal(t->res.bytes_fetched, DATA_SIZE - 3 * CHUNK);
}

static void test_already_staged(void **state)
{
	struct tcase *t = *state;
	char path[400];

	assert_int_equal(mkdir(t->stage, 0700), 0);
	snprintf(path, sizeof(path), "%s/fw.bin", t->stage);
	assert_int_equal(fw_write_file(path, payload, DATA_SIZE, 0600), 0);
	srv_start(&t->srv, &good_ca, AF_INET);
	assert_int_equal(run_default(t, 0), 0);
	srv_stop(&t->srv);
	assert_int_equal(t->srv.requests, 0);
	assert_staged(t);
}

static int free_5mb(const char *dir, uint64_t *out)
{
	*out = 5u << 20;
	return 0;
}

static void test_disk_space_injected(void **state)
{
	struct tcase *t = *state;
	struct fetch_job job;
	struct req q;
	SSL_CTX *ctx = client_ctx();
	char want[512];

	req_make(&q, "https://127.0.0.1:9", NULL);
	job_make(&job, t, &q, ctx);
	job.free_bytes = free_5mb;
	assert_int_equal(run_job(t, &job), FW_ERR_SYSTEM);
	SSL_CTX_free(ctx);
	/* 1 MiB + 16 MiB margin = 18 MB, rounded up. */
	snprintf(want, sizeof(want), "not enough disk space to stage fw1: "
	    "need 18 MB in %s, have 5 MB", t->stage);
	assert_string_equal(t->error, want);
	assert_int_equal(t->res.requests, 0);
}

static void test_disk_space_petabyte(void **state)
{
	struct tcase *t = *state;
	struct fetch_job job;
	struct req q;
	SSL_CTX *ctx = client_ctx();
	size_t i, n = (size_t)((1ull << 50) / 0xffffffffull) + 1;
	char **hashes = calloc(n, sizeof(*hashes));

	for (i = 0; i < n; i++)
		hashes[i] = chunk_hex[0];
	req_make(&q, "https://127.0.0.1:9", NULL);
	q.pf.size = 1ull << 50;
	q.pf.chunk_size = 0xffffffffu;
	q.pf.n_chunk_sha256 = n;
	q.pf.chunk_sha256 = hashes;
	job_make(&job, t, &q, ctx);
	assert_int_equal(run_job(t, &job), FW_ERR_SYSTEM);
	SSL_CTX_free(ctx);
	free(hashes);
	assert_non_null(strstr(t->error, "need 1073741840 MB in "));
	assert_non_null(strstr(t->error, t->stage));
	assert_non_null(strstr(t->error, ", have "));
}

static void test_other_ca_refused(void **state)
{
	struct tcase *t = *state;

	srv_start(&t->srv, &other_ca, AF_INET);
	assert_int_not_equal(run_default(t, 2), 0);
	srv_stop(&t->srv);
	assert_int_equal(t->srv.requests, 0);
	assert_non_null(strstr(t->error, "certificate"));
	/* A refused certificate is not retried: trying again cannot help. */
	assert_null(strstr(t->error, "giving up after"));
}

static void test_ipv6(void **state)
{
	struct tcase *t = *state;
	struct fetch_job job;
	struct req q;
	char url[128];
	SSL_CTX *ctx;

	if (srv_start(&t->srv, &good_ca, AF_INET6) != 0)
		skip();
	ctx = client_ctx();
	snprintf(url, sizeof(url), "https://[::1]:%u/", t->srv.port);
	req_make(&q, url, NULL);
	job_make(&job, t, &q, ctx);
	assert_int_equal(run_job(t, &job), 0);
	SSL_CTX_free(ctx);
	srv_stop(&t->srv);
	assert_staged(t);
}

static void test_rotates_urls(void **state)
{
	struct tcase *t = *state;
	struct fetch_job job;
	struct req q;
	char url[128];
	SSL_CTX *ctx = client_ctx();

	srv_start(&t->srv, &good_ca, AF_INET);
	url4(url, sizeof(url), t->srv.port);
	/* Nothing listens on port 9 (discard) here: refused. */
	req_make(&q, "https://127.0.0.1:9", url);
	job_make(&job, t, &q, ctx);
	assert_int_equal(run_job(t, &job), 0);
	SSL_CTX_free(ctx);
	srv_stop(&t->srv);
	assert_staged(t);
}

static void on_timer_cancel(evutil_socket_t fd, short what, void *arg)
{
	fetch_cancel(arg);
}

static void test_cancel(void **state)
{
	struct tcase *t = *state;
	struct timeval tv = { 0, 200000 };
	struct fetch_job job;
	struct fetch *f = NULL;
	struct req q;
	char url[128], err[256];
	SSL_CTX *ctx = client_ctx();
	uint64_t start = fw_now_ms();

	srv_start(&t->srv, &good_ca, AF_INET);
	t->srv.stall = 1;
	url4(url, sizeof(url), t->srv.port);
	req_make(&q, url, NULL);
	job_make(&job, t, &q, ctx);
	job.io_timeout_ms = 30000;
	assert_int_equal(fetch_start(t->base, &job, on_progress, on_done, t,
	    &f, err, sizeof(err)), 0);
	event_base_once(t->base, -1, EV_TIMEOUT, on_timer_cancel, f, &tv);
	while (!t->done)
		event_base_dispatch(t->base);
	assert_int_equal(t->res.status, FW_ERR_CANCELLED);
	assert_true(fw_now_ms() - start < 2000);
	assert_non_null(strstr(t->error, "cancelled"));
	SSL_CTX_free(ctx);
	srv_stop(&t->srv);
}

static void test_bad_requests(void **state)
{
	struct tcase *t = *state;
	struct fetch_job job;
	struct fetch *f = NULL;
	struct req q;
	SSL_CTX *ctx = client_ctx();
	char err[256];

	req_make(&q, "https://fwfleet.example:63002", NULL);
	job_make(&job, t, &q, ctx);
	assert_int_equal(fetch_start(t->base, &job, NULL, on_done, t, &f, err,
	    sizeof(err)), FW_ERR_UNSUPPORTED);
	assert_non_null(strstr(err, "numeric addresses only"));
	req_make(&q, "https://127.0.0.1:63002", NULL);
	q.pf.name = (char *)"../evil";
	assert_int_equal(fetch_start(t->base, &job, NULL, on_done, t, &f, err,
	    sizeof(err)), FW_ERR_INVALID);
	req_make(&q, "https://127.0.0.1:63002", NULL);
	q.pf.n_chunk_sha256 = 3;
	assert_int_equal(fetch_start(t->base, &job, NULL, on_done, t, &f, err,
	    sizeof(err)), FW_ERR_INVALID);
	assert_string_equal(err, "fw.bin: 3 chunk hashes for 17 chunks");
	assert_null(f);
	SSL_CTX_free(ctx);
}

static void test_url_parse(void **state)
{
	struct http_url u;
	char err[256];

	assert_int_equal(http_url_parse("https://198.18.0.1:63002", &u, err,
	    sizeof(err)), 0);
	assert_string_equal(u.tls_host, "198.18.0.1");
	assert_string_equal(u.authority, "198.18.0.1:63002");
	assert_int_equal(u.addr.port, 63002);
	assert_string_equal(u.prefix, "");
	assert_int_equal(http_url_parse("https://[2001:db8::1]:63002/m/", &u,
	    err, sizeof(err)), 0);
	assert_string_equal(u.tls_host, "2001:db8::1");
	assert_string_equal(u.authority, "[2001:db8::1]:63002");
	assert_string_equal(u.prefix, "/m");
	assert_int_equal(http_url_parse("https://[fe80::1%25eth0]:63002", &u,
	    err, sizeof(err)), 0);
	assert_string_equal(u.addr.host, "fe80::1");
	assert_string_equal(u.addr.zone, "eth0");
	assert_string_equal(u.tls_host, "fe80::1%eth0");
	assert_string_equal(u.authority, "[fe80::1%25eth0]:63002");
	assert_int_equal(http_url_parse("https://10.0.0.1", &u, err,
	    sizeof(err)), 0);
	assert_int_equal(u.addr.port, 443);
	assert_int_equal(http_url_parse("http://10.0.0.1", &u, err,
	    sizeof(err)), FW_ERR_INVALID);
	assert_int_equal(http_url_parse("https://[fe80::1%eth0]:1", &u, err,
	    sizeof(err)), FW_ERR_INVALID);
	assert_int_equal(http_url_parse("https://ctl.example:1", &u, err,
	    sizeof(err)), FW_ERR_UNSUPPORTED);
	assert_int_equal(http_url_parse("https://10.0.0.1:99999", &u, err,
	    sizeof(err)), FW_ERR_INVALID);
}

/* --- status pushes ------------------------------------------------------ */

static void test_status_push(void **state)
{
	struct tcase *t = *state;
	struct status_target tg = { 0 };
	struct status_pusher *p = NULL;
	Fwfleet__StatusPush m = FWFLEET__STATUS_PUSH__INIT, *got;
	char url[128], err[256], *lines[] = { "flashing", "done" };
	const char *urls[1] = { url };
	SSL_CTX *ctx = client_ctx();
	uint64_t start;
	int i;

	srv_start(&t->srv, &good_ca, AF_INET);
	url4(url, sizeof(url), t->srv.port);
	tg.ssl_ctx = ctx;
	tg.session_id = SID;
	tg.node_name = "node1";
	tg.base_urls = urls;
	tg.n_base_urls = 1;
	assert_int_equal(status_pusher_new(&tg, &p, err, sizeof(err)), 0);
	start = fw_now_ms();
	/* 200 progress pushes in a burst: coalesced, at most 4 a second. */
	for (i = 1; i <= 200; i++)
		status_push_phase(p, "fw1", FWFLEET__PHASE__PHASE_DOWNLOADING,
		    (uint64_t)i, 200, FWFLEET__INSTALL_OUTCOME__OUTCOME_UNKNOWN,
		    NULL);
	m.component_id = (char *)"fw1";
	m.phase = FWFLEET__PHASE__PHASE_DONE;
	m.percent = 100;
	m.outcome = FWFLEET__INSTALL_OUTCOME__OUTCOME_SUCCESS;
	m.n_log_lines = 2;
	m.log_lines = lines;
	status_push(p, &m);
	while (status_pending(p) > 0 && fw_now_ms() - start < 5000)
		usleep(10000);
	status_pusher_free(p, 1000);
	SSL_CTX_free(ctx);
	srv_stop(&t->srv);
	assert_true(t->srv.posts >= 2);
	assert_true(t->srv.posts <= 3);
	got = fwfleet__status_push__unpack(NULL, t->srv.last_post_len,
	    t->srv.last_post);
	assert_non_null(got);
	assert_string_equal(got->session_id, SID);
	assert_string_equal(got->node_name, "node1");
	assert_string_equal(got->component_id, "fw1");
	assert_int_equal(got->phase, FWFLEET__PHASE__PHASE_DONE);
	assert_int_equal(got->outcome,
	    FWFLEET__INSTALL_OUTCOME__OUTCOME_SUCCESS);
	assert_int_equal(got->n_log_lines, 2);
	assert_string_equal(got->log_lines[1], "done");
	fwfleet__status_push__free_unpacked(got, NULL);
}

static void test_status_push_unreachable(void **state)
{
	struct status_target tg = { 0 };
	struct status_pusher *p = NULL;
	const char *urls[1] = { "https://127.0.0.1:9" };
	SSL_CTX *ctx = client_ctx();
	char err[256];
	uint64_t start = fw_now_ms();

	tg.ssl_ctx = ctx;
	tg.session_id = SID;
	tg.base_urls = urls;
	tg.n_base_urls = 1;
	assert_int_equal(status_pusher_new(&tg, &p, err, sizeof(err)), 0);
	status_push_phase(p, "fw1", FWFLEET__PHASE__PHASE_FAILED, 0, 0,
	    FWFLEET__INSTALL_OUTCOME__OUTCOME_FAILED, "boom");
	status_pusher_free(p, 500);
	SSL_CTX_free(ctx);
	assert_true(fw_now_ms() - start < 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_url_parse),
		cmocka_unit_test_setup_teardown(test_full_download, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_chunked_encoding, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cut_resumes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_not_found, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_server_error_retries,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_unreachable_advises, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_chunk_fails, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_chunk_once, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_resume_from_part, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_already_staged, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_disk_space_injected, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_disk_space_petabyte, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_other_ca_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotates_urls, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_requests, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_status_push, setup,
		    teardown),
		cmocka_unit_test(test_status_push_unreachable),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
