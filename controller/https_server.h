/*
 * The controller's HTTPS server (port FW_HTTPS_PORT by default): engines
 * of one session fetch payload files from it, in ranges, and push their
 * status to it. Mutual TLS 1.3 against the session CA; a small HTTP/1.1
 * server on libevent bufferevents, running on the caller's event loop.
 *
 *   GET|HEAD <registered path>   the file: 200, or 206 or 416 for a Range
 *                                (see http_range.h; If-Range honoured)
 *   POST /status                 a packed Fwfleet__StatusPush: 204
 *   anything else                404, 405; 400, 411, 413, 431 and others
 *                                for requests that break the rules
 *
 * Only paths registered with https_server_add_file are served (an
 * allow-list: nothing else on disk is reachable). Bodies are streamed from
 * the file in bounded pieces, so memory stays flat whatever the file
 * sizes and the number of clients. Every connection must present an engine
 * certificate of the session (tls_check_peer with TLS_ROLE_ENGINE);
 * others get 403 and are closed, and count as refused.
 *
 * Not thread safe: call everything from the thread running the base.
 * With opts.threads > 1, connections are served by that many threads,
 * each with an event loop of its own; accepting, on_status and every
 * function here still belong to the caller's loop.
 * The process ignores SIGPIPE (the controller does): a client that hangs
 * up mid-body must cost a connection, not the process.
 */
#ifndef FW_HTTPS_SERVER_H
#define FW_HTTPS_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "fwfleet.pb-c.h"

struct event_base;
struct https_server;

#define HTTPS_STATUS_PATH		"/status"
#define HTTPS_STATUS_MAX_DEFAULT	(64u * 1024)
#define HTTPS_MAX_CONNS_DEFAULT		256

/*
 * Called for each valid status push, on the caller's event loop. st and
 * peer ("addr:port", IPv6 bracketed) are valid during the call only. The
 * session_id of st is either empty or the server's; node_name is what
 * the engine says (any engine of the session could claim any name).
 * Must not free the server.
 */
typedef void (*https_status_cb)(void *arg, const Fwfleet__StatusPush *st,
    const char *peer, const char *node);

struct https_server_opts {
	/* Server context from tls_ctx_new(TLS_ROLE_SERVER, ...), which
	 * requires client certificates. The server takes its own reference
	 * (SSL_CTX_up_ref); the caller keeps and frees its own. */
	SSL_CTX *ctx;
	/* Peers must hold an engine certificate of this session. Copied. */
	const char *session_id;
	/* NULL-terminated numeric addresses ("198.18.0.1", "2001:db8::1",
	 * "fe80::1%eth0", "::", "0.0.0.0"), each bound with IPV6_V6ONLY set,
	 * all on the same port. NULL: "::" dual-stack (IPv4 too), or
	 * "0.0.0.0" on a host without IPv6. */
	const char *const *bind_addrs;
	/* 0: an ephemeral port (the first address's, then the same for all
	 * others; see https_server_port). */
	uint16_t port;
	/* Largest status body accepted (0: HTTPS_STATUS_MAX_DEFAULT). */
	size_t status_max;
	/* Connections at once (0: HTTPS_MAX_CONNS_DEFAULT); beyond that the
	 * server stops accepting until one closes (the kernel queues). */
	unsigned int max_conns;
	/* Timeouts in seconds (0: defaults). idle: for the TLS handshake and
	 * each request head and body to arrive in full (default 30). send: a
	 * response making no progress (default 60). */
	unsigned int idle_timeout_s;
	unsigned int send_timeout_s;
	/* 0 or 1: connections are served on base. N > 1 (at most 64): by N
	 * threads, for more than one CPU's worth of TLS; status pushes are
	 * then answered by the thread and handed to on_status on base. */
	unsigned int threads;
	https_status_cb on_status;	/* may be NULL: pushes are dropped */
	/* Also serve persistent agents: certificates with role engine and
	 * TLS_AGENT_URI_PREFIX<name>, for which accept_agent(arg, name,
	 * serial) returns nonzero (called on server threads). Their status
	 * pushes carry the node "agent:<name>". NULL: engines only. */
	int (*accept_agent)(void *arg, const char *name, const char *serial);
	void *arg;
};

struct https_server_stats {
	uint64_t bytes_sent;	/* body bytes handed to TLS (file data) */
	uint64_t requests;	/* requests answered, any status */
	uint64_t status_pushes;	/* valid StatusPush bodies delivered */
	uint64_t refused;	/* failed handshakes and peers not allowed */
	uint64_t connections;	/* connections accepted */
};

/*
 * Binds, listens and starts serving on base. On success *out is the
 * server (free with https_server_free). Returns 0, or FW_ERR_INVALID (bad
 * options) or FW_ERR_SYSTEM (cannot bind or listen) and fills err.
 */
int https_server_start(struct event_base *base,
    const struct https_server_opts *o, struct https_server **out,
    char *err, size_t errlen);

/*
 * Serves fs_path at url_path (starting with '/', not HTTPS_STATUS_PATH,
 * matched exactly after percent-decoding, without any query). The file
 * is opened and its size taken at each request, so it may be replaced
 * (atomically) in between. Both strings are copied.
 * Returns 0, FW_ERR_INVALID, or FW_ERR_EXISTS if url_path already serves
 * another file.
 */
int https_server_add_file(struct https_server *s, const char *url_path,
    const char *fs_path);

/* Stops serving url_path (requests already streaming finish). Returns 0
 * or FW_ERR_NOT_FOUND. */
int https_server_remove_file(struct https_server *s, const char *url_path);

/* The port the server listens on (useful with port 0). */
uint16_t https_server_port(const struct https_server *s);

/* Copies the counters into *st. */
void https_server_get_stats(const struct https_server *s,
    struct https_server_stats *st);

/* Closes every connection and listener and frees s. NULL is a no-op. */
void https_server_free(struct https_server *s);

#endif
