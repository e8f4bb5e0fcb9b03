/*
 * A small blocking HTTP/1.1 client over mutual TLS 1.3, for the engine's
 * worker threads (the fetcher and the status pusher); never called from
 * the event loop. Numeric addresses only (the engine is static: no NSS):
 * "https://198.18.0.1:63002", "https://[2001:db8::1]:63002",
 * "https://[fe80::1%25eth0]:63002". Every wait is bounded by a timeout and
 * can be cut short through a cancel descriptor. Responses may be framed
 * by Content-Length, chunked transfer coding, or the end of the
 * connection. The caller ignores SIGPIPE (the engine does).
 */
#ifndef FW_HTTP_CLIENT_H
#define FW_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "addr.h"

#define HTTP_PATH_MAX	1024

/* A parsed base URL. */
struct http_url {
	struct fw_addr addr;		/* numeric host, zone, port */
	char tls_host[64];		/* "fe80::1%eth0": TLS name check */
	char authority[96];		/* "[fe80::1%25eth0]:63002": Host */
	char prefix[HTTP_PATH_MAX];	/* base URL path, no trailing / */
	char text[256];			/* the URL as given, for messages */
};

/*
 * Parses "https://HOST[:PORT][/PREFIX]" (port 443 when missing) with HOST
 * a numeric IPv4 or bracketed IPv6 address, its zone written %25zone.
 * Returns 0, or FW_ERR_INVALID / FW_ERR_UNSUPPORTED (host names) with err.
 */
int http_url_parse(const char *url, struct http_url *out, char *err,
    size_t errlen);

struct http_client_opts {
	SSL_CTX *ctx;			/* client context: our cert, the CA */
	const char *session_id;		/* the server must be of this session */
	const char *peer_role;		/* ... and have this role */
	int connect_timeout_ms;		/* TCP connect + TLS handshake */
	int io_timeout_ms;		/* longest silence in read/write */
	int cancel_fd;			/* readable = give up now; -1 if none */
};

struct http_response {
	int status;			/* 206 */
	char reason[64];		/* "Partial Content" */
	int64_t content_length;		/* -1 if not given */
	int has_range;			/* a Content-Range was given */
	uint64_t range_first, range_last, range_total;
};

struct http_conn;

/*
 * Connects to u (TCP, then the TLS handshake, the server's certificate
 * checked for u's address, o->session_id and o->peer_role). The options
 * are copied, the context referenced. Returns 0 and *out, or
 * FW_ERR_TIMEOUT, FW_ERR_CANCELLED, FW_ERR_SYSTEM (connect), FW_ERR_TLS,
 * FW_ERR_CERT, FW_ERR_UNSUPPORTED with err describing it.
 */
int http_connect(const struct http_client_opts *o, const struct http_url *u,
    struct http_conn **out, char *err, size_t errlen);

/*
 * Sends one request on c: method and path (no spaces or control
 * characters), extra header lines ("Range: bytes=0-9", NULL-terminated
 * list or NULL), and a body of len bytes with content_type (or none when
 * body is NULL). Then reads the response's status line and headers into
 * resp; the body follows with http_read_body. Returns 0 or an FW_ERR_*
 * code (FW_ERR_PROTOCOL for a malformed response) with err.
 */
int http_request(struct http_conn *c, const char *method, const char *path,
    const char *const *headers, const char *content_type, const void *body,
    size_t len, struct http_response *resp, char *err, size_t errlen);

/*
 * Reads up to len bytes of the response body into buf; *got = 0 means the
 * body is complete. Returns 0 or an FW_ERR_* code with err.
 */
int http_read_body(struct http_conn *c, void *buf, size_t len, size_t *got,
    char *err, size_t errlen);

/* Reads and drops the rest of the body if it is at most max bytes. */
int http_skip_body(struct http_conn *c, size_t max, char *err, size_t errlen);

/*
 * Whether another request may be sent on c: the last body was read to its
 * end and neither side asked to close.
 */
int http_reusable(const struct http_conn *c);

void http_close(struct http_conn *c);

#endif
