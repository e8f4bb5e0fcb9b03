/*
 * The controller's HTTPS server: payload files (GET/HEAD with Range) and
 * status pushes (POST /status) for the engines of one session.
 *
 * A small HTTP/1.1 server on bufferevent_openssl, not evhttp: evhttp is
 * in libevent_extra, which the build does not link (core, openssl and
 * pthreads only; the static engine could not use it either), and
 * libevent 2.1 (Debian 12) evhttp has no connection limit
 * (evhttp_set_max_connections came with 2.2) and calls a streaming
 * reply's chunk callback only once the output is empty. Here the peer is
 * checked before any request is looked at, and a connection holds at
 * most HS_HEAD_MAX + status_max bytes of input and HS_NBUF pieces of
 * HS_PIECE bytes of file: each piece is read with pread into a buffer of
 * the connection and handed to the output by reference, and read again
 * once TLS has sent it. Files are never read whole and never mapped (a
 * file truncated under a mapping would SIGBUS the controller).
 *
 * All bufferevent callbacks are deferred (BEV_OPT_DEFER_CALLBACKS), so
 * they run from the loop, never inside our own calls into the
 * bufferevent. Helpers return < 0 to have the callback that called them
 * close the connection; only those callbacks free a connection.
 */
#include "https_server.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>

#include "err.h"
#include "http_range.h"
#include "log.h"
#include "pki.h"
#include "tls.h"
#include "util.h"

#define HS_HEAD_MAX		(16u * 1024)	/* request head */
#define HS_PATH_MAX		1024		/* decoded path */
#define HS_FIELD_MAX		256		/* Range, If-Range */
#define HS_PIECE		(256u * 1024)	/* read at once */
#define HS_NBUF			2		/* pieces in flight */
#define HS_LOW_WATER		HS_PIECE	/* refill at this */
#define HS_MAX_LISTENERS	16
#define HS_BACKLOG		512
#define HS_IDLE_TIMEOUT_S	30
#define HS_SEND_TIMEOUT_S	60
#define HS_LINGER_S		2		/* drain after close */
#define HS_ACCEPT_RETRY_S	1		/* after EMFILE */
#define HS_PEER_MAX		(INET6_ADDRSTRLEN + IF_NAMESIZE + 16)
#define HS_NODE_MAX		320	/* a node index, or "agent:<name>" */
#define HS_THREADS_MAX		64

enum conn_state {
	CONN_HANDSHAKE,		/* TLS handshake, peer not checked yet */
	CONN_HEAD,		/* waiting for a request head */
	CONN_BODY,		/* reading a status body */
	CONN_SEND,		/* streaming a file */
	CONN_CLOSING,		/* sending the last response */
	CONN_LINGER,		/* write side shut; draining input */
};

struct hs_file {
	char *url;
	char *path;
};

/*
 * A connection's file buffers, read into with pread and handed to the
 * output by reference (no copy, no allocation per piece). The output
 * may outlive the connection by a little (libevent frees a bufferevent
 * once its deferred callbacks ran), so the pool is counted: one
 * reference for the connection, one per piece still queued.
 */
struct hs_pool;

struct hs_slot {
	struct hs_pool *pool;
	int busy;		/* queued in the output */
	unsigned char *mem;
};

struct hs_pool {
	unsigned int refs;
	struct hs_slot slot[HS_NBUF];
	unsigned char mem[];
};

struct hs_worker;

struct hs_conn {
	struct https_server *s;
	struct hs_worker *w;	/* whose loop and list it is on */
	struct hs_conn *prev, *next;
	struct bufferevent *bev;
	struct event *timer;	/* idle deadline, then linger */
	enum conn_state state;
	int peer_ok;
	int keep_alive;		/* of the request being answered */
	int minor;		/* its HTTP/1.minor */
	int head_only;		/* HEAD: no body */
	char peer[HS_PEER_MAX];
	char node[HS_NODE_MAX];	/* from the peer's certificate */
	size_t body_len;	/* CONN_BODY: bytes of the status body */
	int fd;			/* CONN_SEND: the file, next offset */
	uint64_t off;
	uint64_t left;		/* and what is still to be queued */
	struct hs_pool *pool;	/* made at the first body sent */
};

/* An accepted socket on its way to a worker thread. */
struct hs_handoff {
	struct hs_handoff *next;
	int fd;
	char peer[HS_PEER_MAX];
};

/* A status push on its way from a worker thread to the caller's loop. */
struct hs_push {
	struct hs_push *next;
	Fwfleet__StatusPush *st;
	char peer[HS_PEER_MAX];
	char node[HS_NODE_MAX];
};

/*
 * An event loop and the connections on it. With opts.threads <= 1 the
 * only worker is inline: the caller's loop, no thread. Otherwise each is
 * a thread with a loop of its own; the caller's loop accepts and hands
 * sockets over (handoff under mu, then efd), and status pushes come
 * back the same way (https_server.pushes, efd).
 */
struct hs_worker {
	struct https_server *s;
	struct event_base *base;
	struct hs_conn *conns;
	int threaded;
	int started;		/* the thread runs: join it */
	pthread_t thread;
	int efd;
	struct event *wake;
	pthread_mutex_t mu;
	struct hs_handoff *handoff;
	int stop;
};

/* Counters, updated by every worker. */
struct hs_stats {
	_Atomic uint64_t bytes_sent;
	_Atomic uint64_t requests;
	_Atomic uint64_t status_pushes;
	_Atomic uint64_t refused;
	_Atomic uint64_t connections;
};

struct https_server {
	/* Set at start, then read-only (read by every worker). */
	struct event_base *base;
	SSL_CTX *ctx;
	char *session_id;
	size_t status_max;
	unsigned int max_conns;
	struct timeval idle_tv;
	struct timeval send_tv;
	https_status_cb on_status;
	int (*accept_agent)(void *, const char *, const char *);
	void *arg;
	/* The caller's loop only. */
	struct evconnlistener *ls[HS_MAX_LISTENERS];
	size_t nls;
	struct event *retry;	/* re-enables accepting after an error */
	uint16_t port;
	struct hs_worker *workers;
	size_t nworkers;
	size_t next_worker;
	int efd;		/* threads: wakes the caller's loop */
	struct event *wake;
	/* Shared. */
	atomic_int paused;
	atomic_uint nconns;
	int locks;		/* mu and files_lock are initialised */
	pthread_mutex_t mu;	/* pushes */
	struct hs_push *pushes;
	struct hs_push **push_tail;
	pthread_rwlock_t files_lock;
	struct hs_file *files;
	size_t nfiles;
	struct hs_stats st;
};

/* --- request heads -------------------------------------------------------- */

enum hs_method { HS_GET, HS_HEAD, HS_POST, HS_OTHER };

/* One parsed request head, copied out of the input. */
struct hs_req {
	enum hs_method method;
	int minor;
	int hosts;
	int has_clen;
	uint64_t clen;
	int has_te;
	int expect_continue;
	int expect_other;
	int conn_close;
	int conn_keep;
	int ranges;		/* Range field lines */
	int has_range;		/* one Range, kept in range */
	int has_if_range;
	char range[HS_FIELD_MAX];
	char if_range[HS_FIELD_MAX];
	char path[HS_PATH_MAX];
};

static int hs_is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return 1;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int hs_is_token(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!hs_is_tchar((unsigned char)s[i]))
			return 0;
	return n > 0;
}

/* Whether s[0..n) equals lit, ignoring ASCII case. */
static int hs_eq(const char *s, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

static int hs_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decodes t[0..n) into out. Returns 0 or an HTTP status. */
static int hs_decode_path(const char *t, size_t n, char *out, size_t outlen)
{
	size_t i, o = 0;
	int hi, lo;
	char c;

	for (i = 0; i < n; i++) {
		c = t[i];
		if (c == '%') {
			if (n - i < 3 || (hi = hs_hex(t[i + 1])) < 0 ||
			    (lo = hs_hex(t[i + 2])) < 0 || (hi | lo) == 0)
				return 400;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (o + 1 >= outlen)
			return 414;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* The request-target: origin-form, or absolute-form (RFC 9112 3.2.2). */
static int hs_parse_target(const char *t, size_t n, struct hs_req *r)
{
	const char *slash;
	size_t i, skip = 0, plen;

	for (i = 0; i < n; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
			return 400;
	if (n > 7 && strncasecmp(t, "http://", 7) == 0)
		skip = 7;
	else if (n > 8 && strncasecmp(t, "https://", 8) == 0)
		skip = 8;
	if (skip > 0) {
		slash = memchr(t + skip, '/', n - skip);
		if (slash == NULL)
			return hs_decode_path("/", 1, r->path, sizeof(r->path));
		n -= (size_t)(slash - t);
		t = slash;
	}
	if (n == 0 || t[0] != '/')
		return 400;
	for (plen = 0; plen < n && t[plen] != '?' && t[plen] != '#'; plen++)
		;
	return hs_decode_path(t, plen, r->path, sizeof(r->path));
}

/* "METHOD SP target SP HTTP/1.x" */
static int hs_parse_request_line(const char *l, size_t n, struct hs_req *r)
{
	const char *sp1, *sp2, *v;
	size_t mlen, vlen;

	if ((sp1 = memchr(l, ' ', n)) == NULL)
		return 400;
	mlen = (size_t)(sp1 - l);
	if ((sp2 = memchr(sp1 + 1, ' ', n - mlen - 1)) == NULL)
		return 400;
	v = sp2 + 1;
	vlen = n - (size_t)(v - l);
	if (!hs_is_token(l, mlen))
		return 400;
	if (vlen != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' ||
	    v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
		return 400;
	if (v[5] != '1')
		return 505;
	r->minor = v[7] - '0';
	if (mlen == 3 && memcmp(l, "GET", 3) == 0)
		r->method = HS_GET;
	else if (mlen == 4 && memcmp(l, "HEAD", 4) == 0)
		r->method = HS_HEAD;
	else if (mlen == 4 && memcmp(l, "POST", 4) == 0)
		r->method = HS_POST;
	else
		r->method = HS_OTHER;
	return hs_parse_target(sp1 + 1, (size_t)(sp2 - sp1 - 1), r);
}

/* A Content-Length value: 1*DIGIT, at most 18 digits. */
static int hs_parse_clen(const char *v, size_t n, struct hs_req *r)
{
	uint64_t x = 0;
	size_t i;

	if (n == 0 || n > 18)
		return 400;
	for (i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return 400;
		x = x * 10 + (uint64_t)(v[i] - '0');
	}
	if (r->has_clen && r->clen != x)
		return 400;
	r->has_clen = 1;
	r->clen = x;
	return 0;
}

/* The tokens of a Connection field: close, keep-alive. */
static void hs_parse_connection(const char *v, size_t n, struct hs_req *r)
{
	const char *end = v + n, *e;
	size_t len;

	while (v < end) {
		e = memchr(v, ',', (size_t)(end - v));
		if (e == NULL)
			e = end;
		len = (size_t)(e - v);
		while (len > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			len--;
		}
		while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
			len--;
		if (hs_eq(v, len, "close"))
			r->conn_close = 1;
		else if (hs_eq(v, len, "keep-alive"))
			r->conn_keep = 1;
		v = e < end ? e + 1 : end;
	}
}

/* Copies v[0..n) into buf as a string. Returns 1, or 0 if too long. */
static int hs_copy(const char *v, size_t n, char *buf, size_t len)
{
	if (n >= len)
		return 0;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return 1;
}

/* One field line "name: value"; remembers what the server uses. */
static int hs_parse_field(const char *l, size_t n, struct hs_req *r)
{
	const char *colon, *v, *end = l + n;
	size_t nlen, i;

	if (l[0] == ' ' || l[0] == '\t')
		return 400;	/* obs-fold */
	if ((colon = memchr(l, ':', n)) == NULL)
		return 400;
	nlen = (size_t)(colon - l);
	if (!hs_is_token(l, nlen))
		return 400;
	v = colon + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	for (i = 0; i < (size_t)(end - v); i++)
		if (((unsigned char)v[i] < 0x20 && v[i] != '\t') ||
		    v[i] == 0x7f)
			return 400;
	if (hs_eq(l, nlen, "content-length"))
		return hs_parse_clen(v, (size_t)(end - v), r);
	if (hs_eq(l, nlen, "transfer-encoding"))
		r->has_te = 1;
	else if (hs_eq(l, nlen, "connection"))
		hs_parse_connection(v, (size_t)(end - v), r);
	else if (hs_eq(l, nlen, "host"))
		r->hosts++;
	else if (hs_eq(l, nlen, "expect")) {
		if (hs_eq(v, (size_t)(end - v), "100-continue"))
			r->expect_continue = 1;
		else
			r->expect_other = 1;
	} else if (hs_eq(l, nlen, "range")) {
		/* Longer than any single range we would honour: ignored. */
		r->ranges++;
		r->has_range = hs_copy(v, (size_t)(end - v), r->range,
		    sizeof(r->range));
	} else if (hs_eq(l, nlen, "if-range")) {
		/* Too long to be one of our validators: never matches. */
		r->has_if_range = 1;
		if (!hs_copy(v, (size_t)(end - v), r->if_range,
		    sizeof(r->if_range)))
			r->if_range[0] = '\0';
	}
	return 0;
}

/*
 * Parses a request head h[0..len), which ends with its empty line.
 * Returns 0 or the HTTP status to refuse it with.
 */
static int hs_req_parse(const char *h, size_t len, struct hs_req *r)
{
	const char *p = h, *end = h + len, *nl;
	size_t n;
	int first = 1, code;

	memset(r, 0, sizeof(*r));
	while (p < end) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			return 400;
		n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			break;	/* the empty line: end of the head */
		if (memchr(p, '\0', n) != NULL || memchr(p, '\r', n) != NULL)
			return 400;
		code = first ? hs_parse_request_line(p, n, r) :
		    hs_parse_field(p, n, r);
		if (code != 0)
			return code;
		first = 0;
		p = nl + 1;
	}
	if (first)
		return 400;
	/* RFC 9112 3.2: exactly one Host in HTTP/1.1, at most one before. */
	if (r->hosts > 1 || (r->minor >= 1 && r->hosts != 1))
		return 400;
	/* Both framings at once is how requests get smuggled. */
	if (r->has_te && r->has_clen)
		return 400;
	if (r->ranges > 1)
		r->has_range = 0;	/* ambiguous: ignored */
	return 0;
}

/*
 * Finds the end of a request head at the start of buf[0..len): the byte
 * after its empty line (CRLF CRLF, or bare LFs). Returns 0 if not there.
 */
static size_t hs_head_end(const unsigned char *buf, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n')
			return i + 2;
		if (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

/* --- responses ------------------------------------------------------------ */

static const char *hs_reason(int code)
{
	switch (code) {
	case 100: return "Continue";
	case 200: return "OK";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 416: return "Range Not Satisfiable";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 505: return "HTTP Version Not Supported";
	default: return "Internal Server Error";
	}
}

/* An IMF-fixdate, independent of the locale. */
static void hs_http_date(time_t t, char *buf, size_t len)
{
	static const char days[7][4] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char months[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11 ||
	    fw_snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT",
	    days[tm.tm_wday], tm.tm_mday, months[tm.tm_mon],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec) != 0)
		fw_snprintf(buf, len, "Thu, 01 Jan 1970 00:00:00 GMT");
}

/*
 * Queues a response head. clen is the body length (not sent with 204);
 * extra holds further fields, each ending in CRLF ("" for none).
 */
static int conn_respond(struct hs_conn *c, int code, uint64_t clen,
    const char *extra)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	char date[40], len[48] = "";
	const char *conn = "";

	hs_http_date(time(NULL), date, sizeof(date));
	if (code != 204 && fw_snprintf(len, sizeof(len),
	    "Content-Length: %" PRIu64 "\r\n", clen) != 0)
		return FW_ERR_INTERNAL;
	if (!c->keep_alive)
		conn = "Connection: close\r\n";
	else if (c->minor == 0)
		conn = "Connection: keep-alive\r\n";
	atomic_fetch_add_explicit(&c->s->st.requests, 1, memory_order_relaxed);
	if (evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nServer: fwfleet\r\n"
	    "Date: %s\r\n%s%s%s\r\n", code, hs_reason(code), date, len,
	    extra, conn) < 0)
		return FW_ERR_NOMEM;
	return 0;
}

/* Close once everything queued is sent. Returns < 0 to close now. */
static int conn_finish(struct hs_conn *c)
{
	c->state = CONN_CLOSING;
	bufferevent_disable(c->bev, EV_READ);
	if (c->timer != NULL)
		evtimer_del(c->timer);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		return FW_ERR_EOF;
	bufferevent_enable(c->bev, EV_WRITE);
	return 0;
}

/*
 * An error response with a one-line text body; with close (or when the
 * request was not to be kept alive) the connection closes after it.
 */
static int conn_error(struct hs_conn *c, int code, const char *msg,
    const char *extra, int close)
{
	size_t n = strlen(msg);
	int r;

	if (close)
		c->keep_alive = 0;
	if ((r = conn_respond(c, code, n + 1, extra)) != 0)
		return r;
	if (!c->head_only && (evbuffer_add(bufferevent_get_output(c->bev),
	    msg, n) != 0 || evbuffer_add(bufferevent_get_output(c->bev),
	    "\n", 1) != 0))
		return FW_ERR_NOMEM;
	return c->keep_alive ? 0 : conn_finish(c);
}

/* --- connections ---------------------------------------------------------- */

static struct hs_pool *pool_new(void)
{
	struct hs_pool *p = xmalloc(sizeof(*p) + (size_t)HS_NBUF * HS_PIECE);
	int i;

	p->refs = 1;
	for (i = 0; i < HS_NBUF; i++) {
		p->slot[i].pool = p;
		p->slot[i].busy = 0;
		p->slot[i].mem = p->mem + (size_t)i * HS_PIECE;
	}
	return p;
}

static void pool_unref(struct hs_pool *p)
{
	if (p != NULL && --p->refs == 0)
		free(p);
}

/* The output is done with a piece (sent, or the output freed). */
static void pool_piece_done(const void *data, size_t len, void *arg)
{
	struct hs_slot *sl = arg;

	sl->busy = 0;
	pool_unref(sl->pool);
}

static struct hs_slot *pool_free_slot(struct hs_pool *p)
{
	int i;

	for (i = 0; i < HS_NBUF; i++)
		if (!p->slot[i].busy)
			return &p->slot[i];
	return NULL;
}

static void conn_arm(struct hs_conn *c, const struct timeval *tv)
{
	if (c->timer != NULL)
		evtimer_add(c->timer, tv);
}

/* Accepting again once below the limit. The caller's loop only. */
static void server_resume(struct https_server *s)
{
	size_t i;

	if (!atomic_load(&s->paused) ||
	    atomic_load(&s->nconns) >= s->max_conns)
		return;
	for (i = 0; i < s->nls; i++)
		evconnlistener_enable(s->ls[i]);
	atomic_store(&s->paused, 0);
}

static void server_pause(struct https_server *s)
{
	size_t i;

	atomic_store(&s->paused, 1);
	for (i = 0; i < s->nls; i++)
		evconnlistener_disable(s->ls[i]);
}

static void hs_wake(int efd)
{
	uint64_t one = 1;

	/* Fails only if the counter is full: it is awake anyway. */
	(void)write(efd, &one, sizeof(one));
}

/* A connection is gone: the caller's loop may accept again. */
static void server_conn_gone(struct https_server *s, struct hs_worker *w)
{
	atomic_fetch_sub(&s->nconns, 1);
	/* server_on_accept pauses, then checks nconns again: one of the
	 * two sides sees the other's change. */
	if (!atomic_load(&s->paused))
		return;
	if (w->threaded)
		hs_wake(s->efd);
	else
		server_resume(s);
}

static void conn_free(struct hs_conn *c, const char *why)
{
	struct https_server *s;
	struct hs_worker *w;

	if (c == NULL)
		return;
	s = c->s;
	w = c->w;
	if (why != NULL)
		log_debug("https %s: closed: %s", c->peer, why);
	if (c->fd >= 0)
		close(c->fd);
	pool_unref(c->pool);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
	server_conn_gone(s, w);
}

/* Queues file bytes while a buffer is free (at most HS_NBUF pieces). */
static int conn_fill(struct hs_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct hs_slot *sl;
	size_t want;
	ssize_t n;
	int i;

	if (c->left > 0 && c->pool == NULL)
		c->pool = pool_new();
	/* While the socket takes all we give, a piece is sent as soon as it
	 * is queued and its buffer is free again: HS_NBUF pieces per call,
	 * then the loop serves the others (the write callback comes back). */
	for (i = 0; i < HS_NBUF && c->left > 0 &&
	    (sl = pool_free_slot(c->pool)) != NULL; i++) {
		want = c->left < HS_PIECE ? (size_t)c->left : HS_PIECE;
		do {
			n = pread(c->fd, sl->mem, want, (off_t)c->off);
		} while (n < 0 && errno == EINTR);
		if (n <= 0) {
			/* The head is out: all we can do is cut the body. */
			log_warn("https %s: cannot read the file: %s",
			    c->peer, n < 0 ? strerror(errno) :
			    "file shrank while being sent");
			return FW_ERR_SYSTEM;
		}
		sl->busy = 1;
		c->pool->refs++;
		if (evbuffer_add_reference(out, sl->mem, (size_t)n,
		    pool_piece_done, sl) != 0) {
			sl->busy = 0;
			c->pool->refs--;
			return FW_ERR_NOMEM;
		}
		c->off += (uint64_t)n;
		c->left -= (uint64_t)n;
		atomic_fetch_add_explicit(&c->s->st.bytes_sent, (uint64_t)n,
		    memory_order_relaxed);
	}
	if (c->left > 0)
		return 0;
	close(c->fd);
	c->fd = -1;
	if (!c->keep_alive)
		return conn_finish(c);
	c->state = CONN_HEAD;
	bufferevent_enable(c->bev, EV_READ);
	conn_arm(c, &c->s->idle_tv);
	return 0;
}

/* Registry: add and remove on the caller's loop, look up anywhere. */
static struct hs_file *server_find(struct https_server *s, const char *url)
{
	size_t i;

	for (i = 0; i < s->nfiles; i++)
		if (strcmp(s->files[i].url, url) == 0)
			return &s->files[i];
	return NULL;
}

/* Copies the file served at url into path. Returns 1, or 0 if none. */
static int server_lookup(struct https_server *s, const char *url,
    char *path, size_t len)
{
	struct hs_file *f;
	int found = 0;

	pthread_rwlock_rdlock(&s->files_lock);
	if ((f = server_find(s, url)) != NULL)
		found = fw_snprintf(path, len, "%s", f->path) == 0;
	pthread_rwlock_unlock(&s->files_lock);
	return found;
}

/* The validators of a file: a strong ETag and Last-Modified. */
static void hs_validators(const struct stat *st, char *etag, size_t elen,
    char *lm, size_t lmlen)
{
	uint64_t ns = (uint64_t)st->st_mtim.tv_sec * 1000000000u +
	    (uint64_t)st->st_mtim.tv_nsec;

	fw_snprintf(etag, elen, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"",
	    (uint64_t)st->st_ino, (uint64_t)st->st_size, ns);
	hs_http_date(st->st_mtim.tv_sec, lm, lmlen);
}

/*
 * Whether a Range may be honoured given If-Range (RFC 9110 13.1.5): no
 * If-Range, our strong ETag, or our Last-Modified date when that is at
 * least a second in the past.
 */
static int hs_if_range_ok(const struct hs_req *r, const char *etag,
    const char *lm, time_t mtime)
{
	if (!r->has_if_range)
		return 1;
	if (strcmp(r->if_range, etag) == 0)
		return 1;
	return strcmp(r->if_range, lm) == 0 && mtime < time(NULL);
}

/* Opens a registered file. Returns 0, or an HTTP status to answer. */
static int hs_open(struct hs_conn *c, const char *path, int *fd,
    struct stat *st)
{
	int e;

	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (*fd < 0) {
		e = errno;
		log_warn("https %s: %s: %s", c->peer, path, strerror(e));
		return e == ENOENT || e == ENOTDIR ? 404 : 500;
	}
	if (fstat(*fd, st) != 0 || !S_ISREG(st->st_mode)) {
		log_warn("https %s: %s: not a regular file", c->peer, path);
		close(*fd);
		*fd = -1;
		return 404;
	}
	return 0;
}

/* GET or HEAD of a registered file. */
static int conn_get(struct hs_conn *c, const struct hs_req *r,
    const char *path)
{
	struct http_range rg;
	struct stat st;
	enum http_range_kind kind = HTTP_RANGE_FULL;
	char etag[80], lm[40], extra[384], cr[96] = "";
	uint64_t size;
	int fd = -1, code;

	if ((code = hs_open(c, path, &fd, &st)) != 0)
		return conn_error(c, code, code == 404 ? "not found" :
		    "cannot open the file", "", 0);
	size = (uint64_t)st.st_size;
	hs_validators(&st, etag, sizeof(etag), lm, sizeof(lm));
	if (r->has_range && hs_if_range_ok(r, etag, lm, st.st_mtime))
		kind = http_range_parse(r->range, strlen(r->range), size, &rg);
	if (kind == HTTP_RANGE_UNSATISFIABLE) {
		close(fd);
		if (fw_snprintf(extra, sizeof(extra),
		    "Content-Range: bytes */%" PRIu64 "\r\n", size) != 0)
			return FW_ERR_INTERNAL;
		return conn_error(c, 416, "range not satisfiable", extra, 0);
	}
	if (kind == HTTP_RANGE_FULL) {
		rg.first = 0;
		rg.last = size - 1;	/* unused when size is 0 */
		code = 200;
	} else {
		code = 206;
		if (fw_snprintf(cr, sizeof(cr), "Content-Range: bytes %" PRIu64
		    "-%" PRIu64 "/%" PRIu64 "\r\n", rg.first, rg.last,
		    size) != 0)
			return FW_ERR_INTERNAL;
	}
	c->off = rg.first;
	c->left = size == 0 ? 0 : rg.last - rg.first + 1;
	if (fw_snprintf(extra, sizeof(extra), "%sAccept-Ranges: bytes\r\n"
	    "Content-Type: application/octet-stream\r\nETag: %s\r\n"
	    "Last-Modified: %s\r\n", cr, etag, lm) != 0 ||
	    conn_respond(c, code, c->left, extra) != 0) {
		close(fd);
		return FW_ERR_INTERNAL;
	}
	if (c->head_only)
		c->left = 0;
	else if (c->left > 0)
		(void)posix_fadvise(fd, (off_t)c->off, (off_t)c->left,
		    POSIX_FADV_SEQUENTIAL);
	c->fd = fd;
	/* Reading waits until the body is queued: memory stays bounded and
	 * the idle deadline does not run while the client downloads. */
	c->state = CONN_SEND;
	bufferevent_disable(c->bev, EV_READ);
	evtimer_del(c->timer);
	return conn_fill(c);
}

/* Checks a push's fields. Returns 0 or an HTTP status. */
static int hs_status_check(const struct https_server *s,
    const Fwfleet__StatusPush *st)
{
	if (st->session_id[0] != '\0' &&
	    strcmp(st->session_id, s->session_id) != 0)
		return 403;
	/* Enums are open in proto3: values we do not know are refused. */
	if (st->percent > 100 || (int)st->phase < 0 ||
	    (int)st->phase > (int)FWFLEET__PHASE__PHASE_FAILED ||
	    (int)st->outcome < 0 || (int)st->outcome >
	    (int)FWFLEET__INSTALL_OUTCOME__OUTCOME_FAILED)
		return 400;
	return 0;
}

/* Calls on_status with every push the workers queued, then frees them. */
static void server_deliver(struct https_server *s)
{
	struct hs_push *p, *next;

	pthread_mutex_lock(&s->mu);
	p = s->pushes;
	s->pushes = NULL;
	s->push_tail = &s->pushes;
	pthread_mutex_unlock(&s->mu);
	for (; p != NULL; p = next) {
		next = p->next;
		if (s->on_status != NULL)
			s->on_status(s->arg, p->st, p->peer, p->node);
		fwfleet__status_push__free_unpacked(p->st, NULL);
		free(p);
	}
}

/* Hands st (taken over) to on_status on the caller's loop. */
static void server_push(struct https_server *s, struct hs_worker *w,
    Fwfleet__StatusPush *st, const char *peer, const char *node)
{
	struct hs_push *p;

	if (!w->threaded || s->on_status == NULL) {
		if (s->on_status != NULL)
			s->on_status(s->arg, st, peer, node);
		fwfleet__status_push__free_unpacked(st, NULL);
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->st = st;
	fw_snprintf(p->peer, sizeof(p->peer), "%s", peer);
	fw_snprintf(p->node, sizeof(p->node), "%s", node);
	pthread_mutex_lock(&s->mu);
	*s->push_tail = p;
	s->push_tail = &p->next;
	pthread_mutex_unlock(&s->mu);
	hs_wake(s->efd);
}

/* The whole status body is in the input: unpack, deliver, answer. */
static int conn_status_body(struct hs_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	Fwfleet__StatusPush *st;
	const uint8_t *data;
	int code, r;

	if ((data = evbuffer_pullup(in, (ev_ssize_t)c->body_len)) == NULL &&
	    c->body_len > 0)
		return FW_ERR_NOMEM;
	st = fwfleet__status_push__unpack(NULL, c->body_len, data);
	evbuffer_drain(in, c->body_len);
	c->state = CONN_HEAD;
	if (st == NULL) {
		log_info("https %s: status push is not a StatusPush",
		    c->peer);
		return conn_error(c, 400, "not a StatusPush", "", 0);
	}
	if ((code = hs_status_check(c->s, st)) != 0) {
		log_info("https %s: status push refused (%d)", c->peer, code);
		fwfleet__status_push__free_unpacked(st, NULL);
		return conn_error(c, code, code == 403 ? "wrong session" :
		    "invalid StatusPush", "", 0);
	}
	atomic_fetch_add(&c->s->st.status_pushes, 1);
	server_push(c->s, c->w, st, c->peer, c->node);
	if ((r = conn_respond(c, 204, 0, "")) != 0)
		return r;
	if (!c->keep_alive)
		return conn_finish(c);
	conn_arm(c, &c->s->idle_tv);
	return 0;
}

/* POST /status: check the framing, then read the body. */
static int conn_post_status(struct hs_conn *c, const struct hs_req *r)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);

	if (r->has_te || !r->has_clen)
		return conn_error(c, 411, "a Content-Length is required", "",
		    1);
	if (r->clen > c->s->status_max) {
		log_info("https %s: status push of %" PRIu64 " bytes refused",
		    c->peer, r->clen);
		return conn_error(c, 413, "status push too large", "", 1);
	}
	c->body_len = (size_t)r->clen;
	c->state = CONN_BODY;
	if (evbuffer_get_length(in) >= c->body_len)
		return conn_status_body(c);
	if (r->expect_continue && r->minor >= 1 &&
	    evbuffer_add_printf(bufferevent_get_output(c->bev),
	    "HTTP/1.1 100 Continue\r\n\r\n") < 0)
		return FW_ERR_NOMEM;
	conn_arm(c, &c->s->idle_tv);
	return 0;
}

/* Routes one parsed request; its head is out of the input already. */
static int conn_route(struct hs_conn *c, const struct hs_req *r)
{
	char path[PATH_MAX];
	int is_status = strcmp(r->path, HTTPS_STATUS_PATH) == 0;
	int has_body = r->has_te || (r->has_clen && r->clen > 0);

	c->minor = r->minor;
	c->head_only = r->method == HS_HEAD;
	c->keep_alive = r->minor >= 1 ? !r->conn_close :
	    r->conn_keep && !r->conn_close;
	/* A body we will not read ends the connection. */
	if (has_body && !(is_status && r->method == HS_POST))
		c->keep_alive = 0;
	if (!c->peer_ok)
		return conn_error(c, 403, "forbidden", "", 1);
	if (r->expect_other)
		return conn_error(c, 417, "unsupported expectation", "", 1);
	if (is_status) {
		if (r->method != HS_POST)
			return conn_error(c, 405, "use POST",
			    "Allow: POST\r\n", 0);
		return conn_post_status(c, r);
	}
	if (!server_lookup(c->s, r->path, path, sizeof(path)))
		return conn_error(c, 404, "not found", "", 0);
	if (r->method != HS_GET && r->method != HS_HEAD)
		return conn_error(c, 405, "use GET or HEAD",
		    "Allow: GET, HEAD\r\n", 0);
	return conn_get(c, r, path);
}

/* Drops the empty lines that may precede a request (RFC 9112 2.2). */
static void hs_skip_empty_lines(struct evbuffer *in)
{
	unsigned char ch;

	while (evbuffer_copyout(in, &ch, 1) == 1 && (ch == '\r' || ch == '\n'))
		evbuffer_drain(in, 1);
}

/*
 * Takes one request head from the input and answers or starts it.
 * Returns 1 if one was handled, 0 if more bytes are needed, < 0 to close.
 */
static int conn_take_request(struct hs_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct hs_req req;
	const unsigned char *p;
	size_t len, n;
	int code, r;

	hs_skip_empty_lines(in);
	if ((len = evbuffer_get_length(in)) == 0)
		return 0;
	n = len < HS_HEAD_MAX ? len : HS_HEAD_MAX;
	if ((p = evbuffer_pullup(in, (ev_ssize_t)n)) == NULL)
		return FW_ERR_NOMEM;
	if ((n = hs_head_end(p, n)) == 0) {
		if (len < HS_HEAD_MAX)
			return 0;
		code = 431;
	} else
		code = hs_req_parse((const char *)p, n, &req);
	if (code != 0) {
		/* The connection cannot be trusted to frame the next one. */
		c->minor = 1;
		c->head_only = 0;
		log_info("https %s: bad request: %d %s", c->peer, code,
		    hs_reason(code));
		r = conn_error(c, code, hs_reason(code), "", 1);
		return r < 0 ? r : 1;
	}
	evbuffer_drain(in, n);
	r = conn_route(c, &req);
	return r < 0 ? r : 1;
}

/* Answers the requests waiting in the input while output has room. */
static int conn_process(struct hs_conn *c)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	int r;

	while (c->state == CONN_HEAD &&
	    evbuffer_get_length(out) < HS_LOW_WATER) {
		if ((r = conn_take_request(c)) <= 0)
			return r;
		if (c->state == CONN_HEAD)
			conn_arm(c, &c->s->idle_tv);
	}
	return 0;
}

/* A persistent agent the owner accepts: c->node is "agent:<name>". */
static int conn_agent(struct hs_conn *c, SSL *ssl)
{
	X509 *peer = SSL_get0_peer_certificate(ssl);
	char role[64], name[HS_NODE_MAX - 6], serial[128];

	if (c->s->accept_agent == NULL || peer == NULL ||
	    tls_peer_uri_suffix(ssl, TLS_ROLE_URI_PREFIX, role,
	    sizeof(role)) != 0 || strcmp(role, TLS_ROLE_ENGINE) != 0 ||
	    tls_peer_uri_suffix(ssl, TLS_AGENT_URI_PREFIX, name,
	    sizeof(name)) != 0 ||
	    pki_cert_serial(peer, serial, sizeof(serial)) != 0 ||
	    !c->s->accept_agent(c->s->arg, name, serial))
		return 0;
	fw_snprintf(c->node, sizeof(c->node), "agent:%s", name);
	return 1;
}

/* After the handshake: only engines of the session (and agents the
 * owner accepts) are served. */
static void conn_check_peer(struct hs_conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	char err[256];

	if (c->state != CONN_HANDSHAKE)
		return;
	c->state = CONN_HEAD;
	if (tls_check_peer(ssl, c->s->session_id, TLS_ROLE_ENGINE, err,
	    sizeof(err)) == 0) {
		c->peer_ok = 1;
		tls_peer_uri_suffix(ssl, TLS_NODE_URI_PREFIX, c->node,
		    sizeof(c->node));
	} else if (conn_agent(c, ssl)) {
		c->peer_ok = 1;
	} else {
		atomic_fetch_add(&c->s->st.refused, 1);
		log_warn("https %s: refused: %s", c->peer, err);
	}
}

/* The write side is shut; what still comes in is read and dropped, so
 * that closing does not reset the connection under our last response. */
static int conn_linger(struct hs_conn *c)
{
	struct timeval tv = { HS_LINGER_S, 0 };
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	int fd = bufferevent_getfd(c->bev);

	ERR_clear_error();
	(void)SSL_shutdown(ssl);	/* close_notify, best effort */
	ERR_clear_error();
	if (fd < 0 || shutdown(fd, SHUT_WR) != 0)
		return FW_ERR_EOF;
	c->state = CONN_LINGER;
	evbuffer_drain(bufferevent_get_input(c->bev),
	    evbuffer_get_length(bufferevent_get_input(c->bev)));
	bufferevent_disable(c->bev, EV_WRITE);
	bufferevent_enable(c->bev, EV_READ);
	conn_arm(c, &tv);
	return 0;
}

static void conn_on_read(struct bufferevent *bev, void *arg)
{
	struct hs_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	int r = 0;

	/* Deferred callbacks may bring data before the CONNECTED event;
	 * either way the handshake is complete by now. */
	conn_check_peer(c);
	switch (c->state) {
	case CONN_HEAD:
		r = conn_process(c);
		break;
	case CONN_BODY:
		if (evbuffer_get_length(in) >= c->body_len &&
		    (r = conn_status_body(c)) == 0)
			r = conn_process(c);
		break;
	case CONN_LINGER:
		evbuffer_drain(in, evbuffer_get_length(in));
		break;
	default:
		break;
	}
	if (r < 0)
		conn_free(c, fw_strerror(r));
}

static void conn_on_write(struct bufferevent *bev, void *arg)
{
	struct hs_conn *c = arg;
	size_t left = evbuffer_get_length(bufferevent_get_output(bev));
	int r = 0;

	switch (c->state) {
	case CONN_SEND:
		if ((r = conn_fill(c)) == 0 && c->state == CONN_HEAD)
			r = conn_process(c);
		break;
	case CONN_HEAD:
		r = conn_process(c);
		break;
	case CONN_CLOSING:
		if (left == 0)
			r = conn_linger(c);
		break;
	default:
		break;
	}
	if (r < 0)
		conn_free(c, r == FW_ERR_EOF ? "response sent" :
		    fw_strerror(r));
}

/* Why a bufferevent_openssl connection failed, into err. */
static void conn_describe_error(struct hs_conn *c, short what, char *err,
    size_t errlen)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	unsigned long e;
	long v;

	/* libevent has taken OpenSSL's errors off the queue already. */
	e = bufferevent_get_openssl_error(c->bev);
	while (bufferevent_get_openssl_error(c->bev) != 0)
		;
	ERR_clear_error();
	if (c->state == CONN_HANDSHAKE && ssl != NULL &&
	    (v = SSL_get_verify_result(ssl)) != X509_V_OK)
		fw_snprintf(err, errlen, "peer certificate rejected: %s",
		    X509_verify_cert_error_string(v));
	else if (e != 0)
		ERR_error_string_n(e, err, errlen);
	else if (what & BEV_EVENT_EOF)
		fw_snprintf(err, errlen, "closed by peer");
	else
		fw_snprintf(err, errlen, "%s", strerror(EVUTIL_SOCKET_ERROR()));
}

static void conn_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct hs_conn *c = arg;
	char err[256];

	if (what & BEV_EVENT_CONNECTED) {
		conn_check_peer(c);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		conn_free(c, "send timeout");
		return;
	}
	conn_describe_error(c, what, err, sizeof(err));
	if (c->state == CONN_HANDSHAKE) {
		/* Another CA, no certificate, or not TLS 1.3 at all. */
		atomic_fetch_add(&c->s->st.refused, 1);
		log_warn("https %s: TLS handshake failed: %s", c->peer, err);
		conn_free(c, NULL);
		return;
	}
	conn_free(c, err);
}

static void conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct hs_conn *c = arg;

	conn_free(c, c->state == CONN_LINGER ? "closed" : "idle timeout");
}

/* "addr:port", "[v6addr]:port"; IPv4-mapped addresses shown as IPv4. */
static void hs_peer_name(const struct sockaddr *sa, socklen_t len,
    char *buf, size_t buflen)
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2], serv[8];
	const char *h = host;

	if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		fw_snprintf(buf, buflen, "?");
		return;
	}
	if (strncmp(h, "::ffff:", 7) == 0 && strchr(h + 7, ':') == NULL)
		h += 7;
	if (strchr(h, ':') != NULL)
		fw_snprintf(buf, buflen, "[%s]:%s", h, serv);
	else
		fw_snprintf(buf, buflen, "%s:%s", h, serv);
}

/* Sets up a connection on w's loop (w's thread). Owns fd. */
static void conn_new(struct hs_worker *w, int fd, const char *peer)
{
	struct https_server *s = w->s;
	struct hs_conn *c;
	SSL *ssl = NULL;
	int one = 1;

	c = xcalloc(1, sizeof(*c));
	c->s = s;
	c->w = w;
	c->fd = -1;
	c->state = CONN_HANDSHAKE;
	fw_snprintf(c->peer, sizeof(c->peer), "%s", peer);
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ERR_clear_error();
	if ((ssl = SSL_new(s->ctx)) == NULL ||
	    (c->bev = bufferevent_openssl_socket_new(w->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS)) == NULL ||
	    (c->timer = evtimer_new(w->base, conn_on_timer, c)) == NULL) {
		log_error("https %s: cannot set up the connection", c->peer);
		if (c->bev != NULL)
			bufferevent_free(c->bev);	/* frees ssl, fd */
		else {
			SSL_free(ssl);
			close(fd);
		}
		ERR_clear_error();
		free(c);
		server_conn_gone(s, w);
		return;
	}
	c->next = w->conns;
	if (w->conns != NULL)
		w->conns->prev = c;
	w->conns = c;
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    HS_HEAD_MAX + s->status_max);
	bufferevent_setwatermark(c->bev, EV_WRITE, HS_LOW_WATER, 0);
	bufferevent_set_timeouts(c->bev, NULL, &s->send_tv);
	bufferevent_setcb(c->bev, conn_on_read, conn_on_write, conn_on_event,
	    c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	conn_arm(c, &s->idle_tv);
}

/* A worker thread's wake-up: sockets to take over, or stop. */
static void worker_on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct hs_worker *w = arg;
	struct hs_handoff *h, *next;
	uint64_t v;
	int stop;

	(void)read(w->efd, &v, sizeof(v));
	pthread_mutex_lock(&w->mu);
	h = w->handoff;
	w->handoff = NULL;
	stop = w->stop;
	pthread_mutex_unlock(&w->mu);
	for (; h != NULL; h = next) {
		next = h->next;
		if (stop) {
			close(h->fd);
			server_conn_gone(w->s, w);
		} else
			conn_new(w, h->fd, h->peer);
		free(h);
	}
	if (!stop)
		return;
	while (w->conns != NULL)
		conn_free(w->conns, NULL);
	event_base_loopbreak(w->base);
}

static void *worker_main(void *arg)
{
	struct hs_worker *w = arg;

	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

/* Gives fd to w's thread. */
static void worker_handoff(struct hs_worker *w, int fd, const char *peer)
{
	struct hs_handoff *h = xcalloc(1, sizeof(*h));

	h->fd = fd;
	fw_snprintf(h->peer, sizeof(h->peer), "%s", peer);
	pthread_mutex_lock(&w->mu);
	h->next = w->handoff;
	w->handoff = h;
	pthread_mutex_unlock(&w->mu);
	hs_wake(w->efd);
}

static void server_on_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct https_server *s = arg;
	struct hs_worker *w = &s->workers[s->next_worker++ % s->nworkers];
	char peer[HS_PEER_MAX];

	hs_peer_name(sa, (socklen_t)salen, peer, sizeof(peer));
	atomic_fetch_add(&s->st.connections, 1);
	if (atomic_fetch_add(&s->nconns, 1) + 1 >= s->max_conns) {
		log_warn("https: %u connections open, the limit; accepting "
		    "again when one closes", s->max_conns);
		server_pause(s);
		/* One may have closed in between (another thread). */
		server_resume(s);
	}
	if (w->threaded)
		worker_handoff(w, fd, peer);
	else
		conn_new(w, fd, peer);
}

/* The caller's loop woken by a worker: pushes to deliver, or a
 * connection gone while accepting was paused. */
static void server_on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct https_server *s = arg;
	uint64_t v;

	(void)read(s->efd, &v, sizeof(v));
	server_resume(s);
	server_deliver(s);
}

static void server_on_retry(evutil_socket_t fd, short what, void *arg)
{
	server_resume(arg);
}

/* accept() failed (EMFILE, ENFILE, ENOMEM): back off for a moment
 * instead of spinning on a listener that stays readable. */
static void server_on_accept_error(struct evconnlistener *l, void *arg)
{
	struct https_server *s = arg;
	struct timeval tv = { HS_ACCEPT_RETRY_S, 0 };
	int e = EVUTIL_SOCKET_ERROR();

	log_warn("https: accept: %s", evutil_socket_error_to_string(e));
	server_pause(s);
	evtimer_add(s->retry, &tv);
}

/* --- set-up --------------------------------------------------------------- */

/* Binds and listens on addr (numeric) and port; dual: IPv6 also
 * accepting IPv4. Returns the socket or -1 with err filled. */
static int hs_listen_socket(const char *addr, uint16_t port, int dual,
    char *err, size_t errlen)
{
	struct addrinfo hints, *ai = NULL;
	char serv[8];
	int fd = -1, one = 1, v6only = !dual, g;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	fw_snprintf(serv, sizeof(serv), "%u", (unsigned)port);
	if ((g = getaddrinfo(addr, serv, &hints, &ai)) != 0) {
		fw_snprintf(err, errlen, "bad listen address %s: %s", addr,
		    gai_strerror(g));
		errno = EINVAL;
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (ai->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &v6only, sizeof(v6only)) != 0) ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
	    listen(fd, HS_BACKLOG) != 0) {
		g = errno;
		fw_snprintf(err, errlen, "cannot listen on %s port %u: %s",
		    addr, (unsigned)port, strerror(g));
		if (fd >= 0)
			close(fd);
		fd = -1;
		errno = g;
	}
	freeaddrinfo(ai);
	return fd;
}

/* Listens on one address; learns the port from the first. */
static int server_listen(struct https_server *s, const char *addr, int dual,
    char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd;

	if (s->nls == HS_MAX_LISTENERS) {
		fw_snprintf(err, errlen, "more than %d listen addresses",
		    HS_MAX_LISTENERS);
		return FW_ERR_INVALID;
	}
	if ((fd = hs_listen_socket(addr, s->port, dual, err, errlen)) < 0)
		return errno == EINVAL ? FW_ERR_INVALID : FW_ERR_SYSTEM;
	if (s->port == 0) {
		if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
			fw_snprintf(err, errlen, "getsockname: %s",
			    strerror(errno));
			close(fd);
			return FW_ERR_SYSTEM;
		}
		s->port = ntohs(ss.ss_family == AF_INET6 ?
		    ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port);
	}
	s->ls[s->nls] = evconnlistener_new(s->base, server_on_accept, s,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (s->ls[s->nls] == NULL) {
		fw_snprintf(err, errlen, "cannot listen on %s", addr);
		close(fd);
		return FW_ERR_SYSTEM;
	}
	evconnlistener_set_error_cb(s->ls[s->nls], server_on_accept_error);
	s->nls++;
	return 0;
}

static int server_listen_all(struct https_server *s,
    const char *const *addrs, char *err, size_t errlen)
{
	char err6[256];
	size_t i;
	int r;

	if (addrs == NULL) {
		/* Dual-stack "::"; on a host without IPv6, IPv4 only. */
		if ((r = server_listen(s, "::", 1, err6, sizeof(err6))) == 0)
			return 0;
		if (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL) {
			fw_snprintf(err, errlen, "%s", err6);
			return r;
		}
		return server_listen(s, "0.0.0.0", 0, err, errlen);
	}
	if (addrs[0] == NULL) {
		fw_snprintf(err, errlen, "no listen address");
		return FW_ERR_INVALID;
	}
	for (i = 0; addrs[i] != NULL; i++)
		if ((r = server_listen(s, addrs[i], 0, err, errlen)) != 0)
			return r;
	return 0;
}

/* Starts worker i: its own loop and thread, signals blocked (they are
 * the caller's to handle). */
static int worker_start(struct https_server *s, struct hs_worker *w,
    char *err, size_t errlen)
{
	sigset_t all, old;
	int e;

	w->s = s;
	w->efd = -1;
	if (pthread_mutex_init(&w->mu, NULL) != 0)
		return FW_ERR_NOMEM;
	w->threaded = 1;
	if ((w->base = event_base_new()) == NULL ||
	    (w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    (w->wake = event_new(w->base, w->efd, EV_READ | EV_PERSIST,
	    worker_on_wake, w)) == NULL || event_add(w->wake, NULL) != 0) {
		fw_snprintf(err, errlen, "https server: cannot set up a "
		    "worker: %s", strerror(errno));
		return FW_ERR_SYSTEM;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e != 0) {
		fw_snprintf(err, errlen, "https server: cannot start a "
		    "thread: %s", strerror(e));
		return FW_ERR_SYSTEM;
	}
	w->started = 1;
	return 0;
}

/* Stops w's thread (its connections close) and frees what it had. */
static void worker_free(struct hs_worker *w)
{
	struct hs_handoff *h, *next;

	if (!w->threaded) {
		while (w->conns != NULL)
			conn_free(w->conns, NULL);
		return;
	}
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		w->stop = 1;
		pthread_mutex_unlock(&w->mu);
		hs_wake(w->efd);
		pthread_join(w->thread, NULL);
	}
	for (h = w->handoff; h != NULL; h = next) {
		next = h->next;
		close(h->fd);
		free(h);
	}
	if (w->wake != NULL)
		event_free(w->wake);
	/* Runs what libevent deferred, such as freeing bufferevents. */
	if (w->base != NULL)
		event_base_free(w->base);
	if (w->efd >= 0)
		close(w->efd);
	pthread_mutex_destroy(&w->mu);
}

/* The inline worker, or opts.threads worker threads. */
static int server_workers(struct https_server *s, unsigned int threads,
    char *err, size_t errlen)
{
	size_t i;
	int r;

	if (threads > HS_THREADS_MAX) {
		fw_snprintf(err, errlen, "https server: at most %d threads",
		    HS_THREADS_MAX);
		return FW_ERR_INVALID;
	}
	s->nworkers = threads > 1 ? threads : 1;
	s->workers = xcalloc(s->nworkers, sizeof(*s->workers));
	if (threads <= 1) {
		s->workers[0].s = s;
		s->workers[0].base = s->base;
		s->workers[0].efd = -1;
		return 0;
	}
	if ((s->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    (s->wake = event_new(s->base, s->efd, EV_READ | EV_PERSIST,
	    server_on_wake, s)) == NULL || event_add(s->wake, NULL) != 0) {
		fw_snprintf(err, errlen, "https server: %s", strerror(errno));
		return FW_ERR_SYSTEM;
	}
	for (i = 0; i < s->nworkers; i++)
		if ((r = worker_start(s, &s->workers[i], err, errlen)) != 0)
			return r;
	return 0;
}

int https_server_start(struct event_base *base,
    const struct https_server_opts *o, struct https_server **out,
    char *err, size_t errlen)
{
	struct https_server *s = NULL;
	int r = FW_ERR_INVALID;

	if (errlen > 0)
		err[0] = '\0';
	if (out != NULL)
		*out = NULL;
	if (base == NULL || o == NULL || out == NULL || o->ctx == NULL ||
	    o->session_id == NULL || o->session_id[0] == '\0') {
		fw_snprintf(err, errlen, "https server: missing options");
		goto out;
	}
	s = xcalloc(1, sizeof(*s));
	s->base = base;
	s->efd = -1;
	SSL_CTX_up_ref(o->ctx);
	s->ctx = o->ctx;
	s->session_id = xstrdup(o->session_id);
	s->port = o->port;
	s->status_max = o->status_max ? o->status_max :
	    HTTPS_STATUS_MAX_DEFAULT;
	s->max_conns = o->max_conns ? o->max_conns : HTTPS_MAX_CONNS_DEFAULT;
	s->idle_tv.tv_sec = o->idle_timeout_s ? o->idle_timeout_s :
	    HS_IDLE_TIMEOUT_S;
	s->send_tv.tv_sec = o->send_timeout_s ? o->send_timeout_s :
	    HS_SEND_TIMEOUT_S;
	s->on_status = o->on_status;
	s->accept_agent = o->accept_agent;
	s->arg = o->arg;
	s->push_tail = &s->pushes;
	if (pthread_mutex_init(&s->mu, NULL) != 0)
		fatal("out of memory");
	if (pthread_rwlock_init(&s->files_lock, NULL) != 0)
		fatal("out of memory");
	s->locks = 1;
	if (s->status_max > 64u * 1024 * 1024) {
		fw_snprintf(err, errlen, "https server: status_max too large");
		goto out;
	}
	if ((s->retry = evtimer_new(base, server_on_retry, s)) == NULL) {
		r = FW_ERR_NOMEM;
		goto out;
	}
	if ((r = server_workers(s, o->threads, err, errlen)) != 0 ||
	    (r = server_listen_all(s, o->bind_addrs, err, errlen)) != 0)
		goto out;
	*out = s;
	s = NULL;
	r = 0;
out:
	https_server_free(s);
	return r;
}

static int hs_url_ok(const char *url)
{
	size_t n;

	if (url == NULL || url[0] != '/' ||
	    strcmp(url, HTTPS_STATUS_PATH) == 0)
		return 0;
	n = strlen(url);
	return n < HS_PATH_MAX && strpbrk(url, "?#") == NULL;
}

int https_server_add_file(struct https_server *s, const char *url_path,
    const char *fs_path)
{
	struct hs_file *f;
	int r = 0;

	if (s == NULL || !hs_url_ok(url_path) || fs_path == NULL ||
	    fs_path[0] == '\0' || strlen(fs_path) >= PATH_MAX)
		return FW_ERR_INVALID;
	pthread_rwlock_wrlock(&s->files_lock);
	if ((f = server_find(s, url_path)) != NULL) {
		r = strcmp(f->path, fs_path) == 0 ? 0 : FW_ERR_EXISTS;
		goto out;
	}
	s->files = xrealloc(s->files, s->nfiles + 1, sizeof(*s->files));
	s->files[s->nfiles].url = xstrdup(url_path);
	s->files[s->nfiles].path = xstrdup(fs_path);
	s->nfiles++;
out:
	pthread_rwlock_unlock(&s->files_lock);
	return r;
}

int https_server_remove_file(struct https_server *s, const char *url_path)
{
	struct hs_file *f;
	int r = FW_ERR_NOT_FOUND;

	if (s == NULL || url_path == NULL)
		return FW_ERR_NOT_FOUND;
	pthread_rwlock_wrlock(&s->files_lock);
	if ((f = server_find(s, url_path)) != NULL) {
		free(f->url);
		free(f->path);
		*f = s->files[--s->nfiles];
		r = 0;
	}
	pthread_rwlock_unlock(&s->files_lock);
	return r;
}

uint16_t https_server_port(const struct https_server *s)
{
	return s != NULL ? s->port : 0;
}

void https_server_get_stats(const struct https_server *s,
    struct https_server_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (s == NULL)
		return;
	st->bytes_sent = atomic_load(&s->st.bytes_sent);
	st->requests = atomic_load(&s->st.requests);
	st->status_pushes = atomic_load(&s->st.status_pushes);
	st->refused = atomic_load(&s->st.refused);
	st->connections = atomic_load(&s->st.connections);
}

void https_server_free(struct https_server *s)
{
	struct hs_push *p, *next;
	size_t i;

	if (s == NULL)
		return;
	/* Accepting stops first: nothing new reaches the workers. */
	for (i = 0; i < s->nls; i++)
		evconnlistener_free(s->ls[i]);
	s->nls = 0;
	for (i = 0; i < s->nworkers; i++)
		worker_free(&s->workers[i]);
	free(s->workers);
	/* Pushes not delivered yet are dropped with the server. */
	for (p = s->pushes; p != NULL; p = next) {
		next = p->next;
		fwfleet__status_push__free_unpacked(p->st, NULL);
		free(p);
	}
	if (s->wake != NULL)
		event_free(s->wake);
	if (s->efd >= 0)
		close(s->efd);
	if (s->retry != NULL)
		event_free(s->retry);
	for (i = 0; i < s->nfiles; i++) {
		free(s->files[i].url);
		free(s->files[i].path);
	}
	free(s->files);
	if (s->locks) {
		pthread_mutex_destroy(&s->mu);
		pthread_rwlock_destroy(&s->files_lock);
	}
	free(s->session_id);
	SSL_CTX_free(s->ctx);
	free(s);
}
