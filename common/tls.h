/*
 * TLS between fwfleet's own parts: TLS 1.3 only, mutual authentication
 * against one CA. Wraps OpenSSL so callers never touch its error queue.
 *
 * Peer identity: every fwfleet certificate carries URI subject alt names
 * "urn:fwfleet:session:<id>" naming the session it belongs to and
 * "urn:fwfleet:role:controller" or "urn:fwfleet:role:engine" naming what
 * it is. The engine accepts only a controller certificate of its session;
 * the controller accepts only an engine certificate of the session that
 * also names the node's address (IP or DNS subject alt name).
 */
#ifndef FW_TLS_H
#define FW_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

enum tls_role { TLS_ROLE_CLIENT, TLS_ROLE_SERVER };

#define TLS_SESSION_URI_PREFIX "urn:fwfleet:session:"
#define TLS_ROLE_URI_PREFIX "urn:fwfleet:role:"
#define TLS_ROLE_CONTROLLER "controller"
#define TLS_ROLE_ENGINE "engine"
#define TLS_ROLE_DIAG "diag"		/* fwfleet diag: Hello and Diag only */
/* Persistent agents' certificates: urn:fwfleet:agent:<node name>. */
#define TLS_AGENT_URI_PREFIX "urn:fwfleet:agent:"
#define TLS_NODE_URI_PREFIX "urn:fwfleet:node:"

/*
 * Creates an SSL_CTX for role: TLS 1.3 only, the given certificate and
 * private key (PEM), peers verified against ca_pem and required to present
 * a certificate (both roles). Returns NULL and fills err on failure.
 */
SSL_CTX *tls_ctx_new(enum tls_role role, const char *ca_pem, size_t ca_len,
    const char *cert_pem, size_t cert_len, const char *key_pem,
    size_t key_len, char *err, size_t errlen);

/*
 * Makes the client side of ssl check that the server certificate names
 * host (an IP address, with any %zone ignored, or a DNS name) during the
 * handshake. Returns 0 or FW_ERR_INVALID.
 */
int tls_expect_host(SSL *ssl, const char *host);

/*
 * After a completed handshake: checks that the peer's certificate carries
 * the URI subject alt name TLS_SESSION_URI_PREFIX<session_id>.
 * Returns 0, or FW_ERR_CERT (FW_ERR_INVALID for an empty session_id) and
 * fills err.
 */
int tls_check_peer_session(SSL *ssl, const char *session_id, char *err,
    size_t errlen);

/*
 * tls_check_peer_session, and also that the peer's certificate carries
 * the URI subject alt name TLS_ROLE_URI_PREFIX<role> (TLS_ROLE_CONTROLLER
 * or TLS_ROLE_ENGINE). Both ends of every channel hold certificates good
 * for client and server use (the engine is a TLS server on its control
 * port and a client of the controller's HTTPS server), so the role name,
 * not the key usage, tells a controller from another node's engine.
 */
int tls_check_peer(SSL *ssl, const char *session_id, const char *role,
    char *err, size_t errlen);

/*
 * After a completed handshake: checks only that the peer's certificate
 * (verified against the CA) carries TLS_ROLE_URI_PREFIX<role>, whatever
 * its session: a diag client (TLS_ROLE_DIAG) of any session, or an
 * engine that `fwfleet diag` reaches outside of any run. Returns 0 or
 * FW_ERR_CERT and fills err.
 */
int tls_check_peer_role(SSL *ssl, const char *role, char *err,
    size_t errlen);

/*
 * Copies into out the rest of the peer certificate's first URI subject
 * alt name that starts with prefix (e.g. TLS_NODE_URI_PREFIX: which node
 * of the session an engine certificate was issued for). Returns 0, or
 * FW_ERR_NOT_FOUND with out "".
 */
int tls_peer_uri_suffix(SSL *ssl, const char *prefix, char *out, size_t len);

/*
 * Describes why the last handshake on ssl failed (verification result or
 * drained OpenSSL error queue) into err. Clears the queue.
 */
void tls_describe_error(SSL *ssl, char *err, size_t errlen);

/* Drains the OpenSSL error queue into err ("" if empty). */
void tls_drain_errors(char *err, size_t errlen);

/*
 * Maps the result ret of an SSL_do_handshake/SSL_read/SSL_write on ssl,
 * called with a clear error queue, to our codes: 0 if ret > 0,
 * FW_ERR_AGAIN (wants to read or write), FW_ERR_EOF (closed by the peer),
 * FW_ERR_SYSTEM (errno, text in err), FW_ERR_CERT (peer certificate
 * rejected) or FW_ERR_TLS; err describes the failure. Clears the queue.
 */
int tls_io_result(SSL *ssl, int ret, char *err, size_t errlen);

#endif
