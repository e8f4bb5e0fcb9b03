/*
 * Blocking HTTP/1.1 over TLS for worker threads. The socket is
 * non-blocking underneath so that every wait goes through poll() with the
 * I/O timeout and the cancel descriptor: a stalled server or a cancel
 * never holds a thread for longer than that.
 */
#include "http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "err.h"
#include "tls.h"
#include "util.h"

#define HTTP_IN_MAX		16384	/* read buffer; also the longest line */
#define HTTP_HEADERS_MAX	65536	/* all response header lines */
#define HTTP_REQ_MAX		4096	/* request line and headers */
#define HTTP_DEFAULT_PORT	443

enum body_mode { BODY_NONE, BODY_LENGTH, BODY_CHUNKED, BODY_TO_EOF };

struct http_conn {
	struct http_client_opts o;
	struct http_url u;
	int fd;
	SSL *ssl;
	char in[HTTP_IN_MAX];
	size_t in_off, in_len;
	enum body_mode mode;
	uint64_t left;		/* BODY_LENGTH: bytes left; CHUNKED: in chunk */
	int chunk_crlf;		/* CHUNKED: a CRLF ends the current chunk */
	int body_done;
	int keep_alive;
	int broken;		/* an error happened: never reuse */
};

/* --- URLs ------------------------------------------------------------- */

/* Copies "[v6%25zone]:port" into buf as "[v6%zone]:port". */
static int url_unescape_zone(const char *s, size_t n, char *buf, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (o + 1 >= len)
			return FW_ERR_INVALID;
		if (s[i] == '%') {
			if (i + 2 >= n || s[i + 1] != '2' || s[i + 2] != '5')
				return FW_ERR_INVALID;
			i += 2;
			buf[o++] = '%';
			continue;
		}
		buf[o++] = s[i];
	}
	buf[o] = '\0';
	return 0;
}

static int url_path_ok(const char *p)
{
	for (; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return 0;
	return 1;
}

static int url_fill(struct http_url *u, char *err, size_t errlen)
{
	char host[sizeof(u->tls_host)];

	if (u->addr.kind == ADDR_NAME) {
		fw_snprintf(err, errlen, "%s: host names are not supported "
		    "(the engine takes numeric addresses only)", u->text);
		return FW_ERR_UNSUPPORTED;
	}
	if (addr_host_zone(&u->addr, u->tls_host, sizeof(u->tls_host)) != 0 ||
	    addr_format_url_host(&u->addr, host, sizeof(host)) != 0 ||
	    fw_snprintf(u->authority, sizeof(u->authority), "%s:%u", host,
	    u->addr.port) != 0) {
		fw_snprintf(err, errlen, "%s: address too long", u->text);
		return FW_ERR_INVALID;
	}
	return 0;
}

int http_url_parse(const char *url, struct http_url *out, char *err,
    size_t errlen)
{
	static const char scheme[] = "https://";
	char hostport[300];
	const char *h, *slash;
	size_t plen;
	int r;

	memset(out, 0, sizeof(*out));
	if (errlen > 0)
		err[0] = '\0';
	if (url == NULL || fw_snprintf(out->text, sizeof(out->text), "%s",
	    url) != 0 || strncasecmp(url, scheme, sizeof(scheme) - 1) != 0) {
		fw_snprintf(err, errlen, "'%.200s': not an https:// URL",
		    url ? url : "");
		return FW_ERR_INVALID;
	}
	h = url + sizeof(scheme) - 1;
	slash = strchr(h, '/');
	plen = slash != NULL ? (size_t)(slash - h) : strlen(h);
	if (url_unescape_zone(h, plen, hostport, sizeof(hostport)) != 0) {
		fw_snprintf(err, errlen, "'%s': bad host (a zone is written "
		    "%%25zone)", url);
		return FW_ERR_INVALID;
	}
	if ((r = addr_parse(hostport, HTTP_DEFAULT_PORT, &out->addr, err,
	    errlen)) != 0)
		return r;
	if (slash != NULL) {
		plen = strlen(slash);
		while (plen > 0 && slash[plen - 1] == '/')
			plen--;
		if (plen >= sizeof(out->prefix) || !url_path_ok(slash)) {
			fw_snprintf(err, errlen, "'%s': bad path", url);
			return FW_ERR_INVALID;
		}
		memcpy(out->prefix, slash, plen);
		out->prefix[plen] = '\0';
	}
	return url_fill(out, err, errlen);
}

/* --- waiting -------------------------------------------------------- */

/*
 * Waits until fd is ready for events, timeout_ms passes (FW_ERR_TIMEOUT)
 * or the cancel descriptor becomes readable (FW_ERR_CANCELLED).
 */
static int wait_fd(struct http_conn *c, short events, int timeout_ms)
{
	struct pollfd p[2] = {
		{ .fd = c->fd, .events = events },
		{ .fd = c->o.cancel_fd, .events = POLLIN },
	};
	int n;

	do {
		n = poll(p, c->o.cancel_fd >= 0 ? 2 : 1, timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return FW_ERR_SYSTEM;
	if (c->o.cancel_fd >= 0 && p[1].revents != 0)
		return FW_ERR_CANCELLED;
	if (n == 0)
		return FW_ERR_TIMEOUT;
	return 0;
}

/* Waits as SSL asks after an SSL call returned ret. */
static int wait_ssl(struct http_conn *c, int ret, int timeout_ms)
{
	short ev = SSL_get_error(c->ssl, ret) == SSL_ERROR_WANT_WRITE ?
	    POLLOUT : POLLIN;

	return wait_fd(c, ev, timeout_ms);
}

static int fail_wait(int r, const char *what, const struct http_conn *c,
    char *err, size_t errlen)
{
	if (r == FW_ERR_CANCELLED)
		fw_snprintf(err, errlen, "cancelled");
	else if (r == FW_ERR_TIMEOUT)
		fw_snprintf(err, errlen, "%s: timed out while %s", c->u.text,
		    what);
	else
		fw_snprintf(err, errlen, "%s: %s: %s", c->u.text, what,
		    strerror(errno));
	return r;
}

/* --- connecting ----------------------------------------------------- */

static int sockaddr_fill(const struct http_url *u, struct sockaddr_storage *ss,
    socklen_t *sslen, char *err, size_t errlen)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	long idx;

	memset(ss, 0, sizeof(*ss));
	if (u->addr.kind == ADDR_IPV4) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(u->addr.port);
		*sslen = sizeof(*s4);
		if (inet_pton(AF_INET, u->addr.host, &s4->sin_addr) == 1)
			return 0;
	} else if (u->addr.kind == ADDR_IPV6) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(u->addr.port);
		*sslen = sizeof(*s6);
		if (inet_pton(AF_INET6, u->addr.host, &s6->sin6_addr) != 1)
			goto bad;
		if (u->addr.zone[0] == '\0')
			return 0;
		if (fw_parse_long(u->addr.zone, 1, INT32_MAX, &idx) == 0)
			s6->sin6_scope_id = (uint32_t)idx;
		else if ((s6->sin6_scope_id =
		    if_nametoindex(u->addr.zone)) == 0) {
			fw_snprintf(err, errlen, "%s: no interface %s",
			    u->text, u->addr.zone);
			return FW_ERR_INVALID;
		}
		return 0;
	}
bad:
	fw_snprintf(err, errlen, "%s: not a numeric address", u->text);
	return FW_ERR_UNSUPPORTED;
}

static int tcp_connect(struct http_conn *c, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen = 0, elen = sizeof(int);
	int r, soerr = 0, one = 1;

	if ((r = sockaddr_fill(&c->u, &ss, &sslen, err, errlen)) != 0)
		return r;
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0);
	if (c->fd < 0)
		return fail_wait(FW_ERR_SYSTEM, "socket", c, err, errlen);
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, (struct sockaddr *)&ss, sslen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return fail_wait(FW_ERR_SYSTEM, "connect", c, err, errlen);
	if ((r = wait_fd(c, POLLOUT, c->o.connect_timeout_ms)) != 0)
		return fail_wait(r, "connecting", c, err, errlen);
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) != 0)
		soerr = errno;
	if (soerr != 0) {
		errno = soerr;
		return fail_wait(FW_ERR_SYSTEM, "connect", c, err, errlen);
	}
	return 0;
}

static int tls_connect(struct http_conn *c, char *err, size_t errlen)
{
	char why[256];
	uint64_t end = fw_now_ms() + (uint64_t)c->o.connect_timeout_ms;
	int r, ret;

	/*
	 * The peer is known by its certificate's session and role names
	 * (tls_check_peer below), not by the URL's host: a node reaches the
	 * controller at whatever address its route, a NAT or a tunnel gives,
	 * which no certificate could list ahead of time.
	 */
	ERR_clear_error();
	if ((c->ssl = SSL_new(c->o.ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1) {
		tls_drain_errors(why, sizeof(why));
		fw_snprintf(err, errlen, "%s: cannot set up TLS: %s", c->u.text,
		    why);
		return FW_ERR_TLS;
	}
	SSL_set_connect_state(c->ssl);
	for (;;) {
		ERR_clear_error();
		errno = 0;
		ret = SSL_do_handshake(c->ssl);
		r = tls_io_result(c->ssl, ret, why, sizeof(why));
		if (r == 0)
			break;
		if (r != FW_ERR_AGAIN) {
			fw_snprintf(err, errlen, "%s: TLS handshake: %s",
			    c->u.text, why[0] ? why : fw_strerror(r));
			return r;
		}
		if (fw_now_ms() >= end)
			return fail_wait(FW_ERR_TIMEOUT, "in the TLS handshake",
			    c, err, errlen);
		if ((r = wait_ssl(c, ret, (int)(end - fw_now_ms()))) != 0)
			return fail_wait(r, "in the TLS handshake", c, err,
			    errlen);
	}
	if ((r = tls_check_peer(c->ssl, c->o.session_id, c->o.peer_role, why,
	    sizeof(why))) != 0) {
		fw_snprintf(err, errlen, "%s: %s", c->u.text, why);
		return r;
	}
	return 0;
}

int http_connect(const struct http_client_opts *o, const struct http_url *u,
    struct http_conn **out, char *err, size_t errlen)
{
	struct http_conn *c = xcalloc(1, sizeof(*c));
	int r = FW_ERR_INTERNAL;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	c->o = *o;
	c->u = *u;
	c->fd = -1;
	c->body_done = 1;
	c->keep_alive = 1;
	if ((r = tcp_connect(c, err, errlen)) != 0 ||
	    (r = tls_connect(c, err, errlen)) != 0)
		goto out;
	*out = c;
	c = NULL;
	r = 0;
out:
	http_close(c);
	return r;
}

void http_close(struct http_conn *c)
{
	if (c == NULL)
		return;
	if (c->ssl != NULL) {
		/* A quiet close_notify; we do not wait for the answer. */
		if (!c->broken)
			SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->fd >= 0)
		close(c->fd);
	ERR_clear_error();
	free(c);
}

/* --- raw I/O -------------------------------------------------------- */

static int io_fail(struct http_conn *c, int r, const char *what,
    const char *why, char *err, size_t errlen)
{
	c->broken = 1;
	if (r == FW_ERR_CANCELLED || r == FW_ERR_TIMEOUT)
		return fail_wait(r, what, c, err, errlen);
	if (r == FW_ERR_EOF)
		fw_snprintf(err, errlen, "%s: connection closed while %s",
		    c->u.text, what);
	else
		fw_snprintf(err, errlen, "%s: %s: %s", c->u.text, what,
		    why[0] ? why : fw_strerror(r));
	return r;
}

static int write_all(struct http_conn *c, const void *buf, size_t len,
    char *err, size_t errlen)
{
	const char *p = buf;
	char why[256];
	int n, r;

	while (len > 0) {
		ERR_clear_error();
		errno = 0;
		n = SSL_write(c->ssl, p, len > INT32_MAX ? INT32_MAX :
		    (int)len);
		r = tls_io_result(c->ssl, n, why, sizeof(why));
		if (r == FW_ERR_AGAIN)
			r = wait_ssl(c, n, c->o.io_timeout_ms);
		else if (r == 0) {
			p += n;
			len -= (size_t)n;
		}
		if (r != 0)
			return io_fail(c, r, "sending", why, err, errlen);
	}
	return 0;
}

/* Reads what TLS has (at least one byte, at most cap) into dst. */
static int read_some(struct http_conn *c, char *dst, size_t cap, size_t *got,
    char *err, size_t errlen)
{
	char why[256];
	int n, r;

	if (cap > INT_MAX)
		cap = INT_MAX;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		n = SSL_read(c->ssl, dst, (int)cap);
		r = tls_io_result(c->ssl, n, why, sizeof(why));
		if (r == 0) {
			*got = (size_t)n;
			return 0;
		}
		if (r == FW_ERR_AGAIN)
			r = wait_ssl(c, n, c->o.io_timeout_ms);
		if (r != 0)
			return io_fail(c, r, "receiving", why, err, errlen);
	}
}

/* Reads what is available (at least one byte) into c->in. */
static int fill(struct http_conn *c, char *err, size_t errlen)
{
	size_t n;
	int r;

	if (c->in_off == c->in_len)
		c->in_off = c->in_len = 0;
	if (c->in_off > 0 && c->in_len == sizeof(c->in)) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	if (c->in_len == sizeof(c->in))
		return FW_ERR_FRAME_TOO_BIG;
	if ((r = read_some(c, c->in + c->in_len, sizeof(c->in) - c->in_len,
	    &n, err, errlen)) != 0)
		return r;
	c->in_len += n;
	return 0;
}

/* One CRLF- (or LF-) terminated line into line, without the ending. */
static int read_line(struct http_conn *c, char *line, size_t len,
    size_t *total, char *err, size_t errlen)
{
	char *nl;
	size_t n;
	int r;

	for (;;) {
		nl = memchr(c->in + c->in_off, '\n', c->in_len - c->in_off);
		if (nl != NULL)
			break;
		if ((r = fill(c, err, errlen)) == FW_ERR_FRAME_TOO_BIG)
			goto too_long;
		if (r != 0)
			return r;
	}
	n = (size_t)(nl - (c->in + c->in_off));
	*total += n + 1;
	if (n >= len || *total > HTTP_HEADERS_MAX)
		goto too_long;
	memcpy(line, c->in + c->in_off, n);
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	c->in_off += (size_t)(nl - (c->in + c->in_off)) + 1;
	return 0;
too_long:
	c->broken = 1;
	fw_snprintf(err, errlen, "%s: response header too long", c->u.text);
	return FW_ERR_PROTOCOL;
}

/* --- responses ------------------------------------------------------ */

/* Parses decimal digits s[0..n) (all of them) into *out. */
static int parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 19)
		return FW_ERR_PARSE;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return FW_ERR_PARSE;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

static int parse_hex(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;
	int d;

	for (i = 0; s[i] != '\0' && s[i] != ';' && s[i] != ' ' &&
	    s[i] != '\t'; i++) {
		if (i >= 15)
			return FW_ERR_PARSE;
		if (s[i] >= '0' && s[i] <= '9')
			d = s[i] - '0';
		else if (s[i] >= 'a' && s[i] <= 'f')
			d = s[i] - 'a' + 10;
		else if (s[i] >= 'A' && s[i] <= 'F')
			d = s[i] - 'A' + 10;
		else
			return FW_ERR_PARSE;
		v = v * 16 + (uint64_t)d;
	}
	if (i == 0)
		return FW_ERR_PARSE;
	*out = v;
	return 0;
}

/* "bytes FIRST-LAST/TOTAL" (or "bytes *\/TOTAL" for a 416). */
static int parse_content_range(const char *v, struct http_response *resp)
{
	const char *dash, *slash;

	if (strncasecmp(v, "bytes ", 6) != 0)
		return FW_ERR_PARSE;
	v += 6;
	if ((slash = strchr(v, '/')) == NULL)
		return FW_ERR_PARSE;
	if (parse_u64(slash + 1, strlen(slash + 1), &resp->range_total) != 0)
		return FW_ERR_PARSE;
	if (*v == '*' && v + 1 == slash)
		return 0;
	if ((dash = memchr(v, '-', (size_t)(slash - v))) == NULL ||
	    parse_u64(v, (size_t)(dash - v), &resp->range_first) != 0 ||
	    parse_u64(dash + 1, (size_t)(slash - dash - 1),
	    &resp->range_last) != 0 || resp->range_last < resp->range_first)
		return FW_ERR_PARSE;
	resp->has_range = 1;
	return 0;
}

static int header_has_token(const char *v, const char *tok)
{
	size_t n = strlen(tok);

	for (; *v != '\0'; v++)
		if (strncasecmp(v, tok, n) == 0)
			return 1;
	return 0;
}

static int parse_header(struct http_conn *c, char *line,
    struct http_response *resp, int *chunked)
{
	char *colon = strchr(line, ':'), *v;
	uint64_t n;
	size_t vlen;

	if (colon == NULL || colon == line)
		return FW_ERR_PARSE;
	*colon = '\0';
	for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
		;
	vlen = strlen(v);
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		v[--vlen] = '\0';
	if (strcasecmp(line, "Content-Length") == 0) {
		if (parse_u64(v, vlen, &n) != 0 || n > INT64_MAX ||
		    (resp->content_length >= 0 &&
		    (uint64_t)resp->content_length != n))
			return FW_ERR_PARSE;
		resp->content_length = (int64_t)n;
	} else if (strcasecmp(line, "Transfer-Encoding") == 0) {
		if (!header_has_token(v, "chunked"))
			return FW_ERR_PARSE;	/* no other coding asked for */
		*chunked = 1;
	} else if (strcasecmp(line, "Connection") == 0) {
		if (header_has_token(v, "close"))
			c->keep_alive = 0;
	} else if (strcasecmp(line, "Content-Range") == 0) {
		return parse_content_range(v, resp);
	}
	return 0;
}

static int parse_status(struct http_conn *c, const char *line,
    struct http_response *resp)
{
	uint64_t code;

	if (strncmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' &&
	    line[7] != '1') || line[8] != ' ' ||
	    parse_u64(line + 9, 3, &code) != 0 || code < 100 || code > 599 ||
	    (line[12] != ' ' && line[12] != '\0'))
		return FW_ERR_PARSE;
	resp->status = (int)code;
	c->keep_alive = line[7] == '1';
	if (line[12] == ' ')
		fw_snprintf(resp->reason, sizeof(resp->reason), "%s",
		    line + 13);
	return 0;
}

static int read_response(struct http_conn *c, const char *method,
    struct http_response *resp, char *err, size_t errlen)
{
	char line[HTTP_IN_MAX];
	size_t total = 0;
	int r, chunked = 0;

	memset(resp, 0, sizeof(*resp));
	resp->content_length = -1;
	do {	/* 1xx answers come before the real one */
		if ((r = read_line(c, line, sizeof(line), &total, err,
		    errlen)) != 0)
			return r;
		if (parse_status(c, line, resp) != 0)
			goto bad;
		while ((r = read_line(c, line, sizeof(line), &total, err,
		    errlen)) == 0 && line[0] != '\0')
			if (parse_header(c, line, resp, &chunked) != 0)
				goto bad;
		if (r != 0)
			return r;
	} while (resp->status < 200);
	c->body_done = 0;
	if (strcmp(method, "HEAD") == 0 || resp->status == 204 ||
	    resp->status == 304) {
		c->mode = BODY_NONE;
		c->body_done = 1;
	} else if (chunked) {
		c->mode = BODY_CHUNKED;
		c->left = 0;
		c->chunk_crlf = 0;
	} else if (resp->content_length >= 0) {
		c->mode = BODY_LENGTH;
		c->left = (uint64_t)resp->content_length;
		c->body_done = c->left == 0;
	} else {
		c->mode = BODY_TO_EOF;
		c->keep_alive = 0;
	}
	return 0;
bad:
	c->broken = 1;
	fw_snprintf(err, errlen, "%s: malformed response: '%.80s'", c->u.text,
	    line);
	return FW_ERR_PROTOCOL;
}

static int header_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return 0;
	return 1;
}

static int build_request(const struct http_conn *c, const char *method,
    const char *path, const char *const *headers, const char *content_type,
    const void *body, size_t len, char *buf, size_t buflen)
{
	size_t used;
	int i;

	if (!url_path_ok(method) || !url_path_ok(path) || path[0] != '/' ||
	    fw_snprintf(buf, buflen, "%s %s%s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: fwfleet-engine/%s\r\n", method, c->u.prefix, path,
	    c->u.authority, FWFLEET_VERSION) != 0)
		return FW_ERR_INVALID;
	for (i = 0; headers != NULL && headers[i] != NULL; i++) {
		used = strlen(buf);
		if (!header_ok(headers[i]) || fw_snprintf(buf + used,
		    buflen - used, "%s\r\n", headers[i]) != 0)
			return FW_ERR_INVALID;
	}
	used = strlen(buf);
	if (body != NULL)
		return fw_snprintf(buf + used, buflen - used, "Content-Type: %s"
		    "\r\nContent-Length: %zu\r\n\r\n", content_type != NULL &&
		    header_ok(content_type) ? content_type :
		    "application/octet-stream", len);
	return fw_snprintf(buf + used, buflen - used, "\r\n");
}

int http_request(struct http_conn *c, const char *method, const char *path,
    const char *const *headers, const char *content_type, const void *body,
    size_t len, struct http_response *resp, char *err, size_t errlen)
{
	char req[HTTP_REQ_MAX];
	int r;

	memset(resp, 0, sizeof(*resp));
	if (errlen > 0)
		err[0] = '\0';
	if (!http_reusable(c)) {
		fw_snprintf(err, errlen, "%s: connection not reusable",
		    c->u.text);
		return FW_ERR_INTERNAL;
	}
	if (build_request(c, method, path, headers, content_type, body, len,
	    req, sizeof(req)) != 0) {
		fw_snprintf(err, errlen, "bad request for %.200s", path);
		return FW_ERR_INVALID;
	}
	if ((r = write_all(c, req, strlen(req), err, errlen)) != 0 ||
	    (body != NULL && (r = write_all(c, body, len, err, errlen)) != 0) ||
	    (r = read_response(c, method, resp, err, errlen)) != 0)
		return r;
	return 0;
}

/* --- bodies --------------------------------------------------------- */

/* Moves up to len buffered (or freshly read) bytes into buf. */
static int take(struct http_conn *c, void *buf, size_t len, size_t *got,
    char *err, size_t errlen)
{
	size_t n;
	int r;

	/* Body bytes go straight to a large enough caller buffer: one copy
	 * less for every payload byte. */
	if (c->in_off == c->in_len && len >= sizeof(c->in))
		return read_some(c, buf, len, got, err, errlen);
	if (c->in_off == c->in_len && (r = fill(c, err, errlen)) != 0)
		return r;
	n = c->in_len - c->in_off;
	if (n > len)
		n = len;
	memcpy(buf, c->in + c->in_off, n);
	c->in_off += n;
	*got = n;
	return 0;
}

/* CHUNKED: moves to the next chunk's data; body_done after the last. */
static int next_chunk(struct http_conn *c, char *err, size_t errlen)
{
	char line[256];
	size_t total = 0;
	int r;

	if (c->chunk_crlf) {
		if ((r = read_line(c, line, sizeof(line), &total, err,
		    errlen)) != 0)
			return r;
		if (line[0] != '\0')
			goto bad;
		c->chunk_crlf = 0;
	}
	if ((r = read_line(c, line, sizeof(line), &total, err, errlen)) != 0)
		return r;
	if (parse_hex(line, &c->left) != 0)
		goto bad;
	if (c->left > 0) {
		c->chunk_crlf = 1;
		return 0;
	}
	/* The last chunk: skip any trailer up to the empty line. */
	while ((r = read_line(c, line, sizeof(line), &total, err,
	    errlen)) == 0 && line[0] != '\0')
		;
	if (r == 0)
		c->body_done = 1;
	return r;
bad:
	c->broken = 1;
	fw_snprintf(err, errlen, "%s: bad chunked encoding", c->u.text);
	return FW_ERR_PROTOCOL;
}

int http_read_body(struct http_conn *c, void *buf, size_t len, size_t *got,
    char *err, size_t errlen)
{
	int r;

	*got = 0;
	if (c->body_done || len == 0)
		return 0;
	if (c->mode == BODY_CHUNKED && c->left == 0) {
		if ((r = next_chunk(c, err, errlen)) != 0 || c->body_done)
			return r;
	}
	if (c->mode != BODY_TO_EOF && len > c->left)
		len = (size_t)c->left;
	r = take(c, buf, len, got, err, errlen);
	if (r == FW_ERR_EOF && c->mode == BODY_TO_EOF) {
		c->body_done = 1;
		return 0;
	}
	if (r != 0)
		return r;
	if (c->mode != BODY_TO_EOF) {
		c->left -= *got;
		if (c->mode == BODY_LENGTH && c->left == 0)
			c->body_done = 1;
	}
	return 0;
}

int http_skip_body(struct http_conn *c, size_t max, char *err, size_t errlen)
{
	char buf[4096];
	size_t got, total = 0;
	int r;

	do {
		if ((r = http_read_body(c, buf, sizeof(buf), &got, err,
		    errlen)) != 0)
			return r;
		total += got;
		if (total > max) {
			c->broken = 1;
			return FW_ERR_FRAME_TOO_BIG;
		}
	} while (got > 0);
	return 0;
}

int http_reusable(const struct http_conn *c)
{
	return c != NULL && c->keep_alive && c->body_done && !c->broken;
}
