#include "diag_client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "err.h"
#include "frame.h"
#include "pki.h"
#include "proto.h"
#include "tcp.h"
#include "tls.h"
#include "util.h"

struct diag_client {
	SSL_CTX *ctx;
	struct diag_client_opts o;
	char *revoked;			/* `pki revoke`'s serials */
};

/* One conversation with what answers on a port. */
struct talk {
	SSL *ssl;
	int timeout_s;
	char *err;
	size_t errlen;
};

void diag_client_opts_init(struct diag_client_opts *o)
{
	o->first_port = FW_ENGINE_PORT;
	o->connect_timeout_s = 5;
	o->timeout_s = 10;
}

int diag_client_new(const char *pki_dir, const struct diag_client_opts *o,
    struct diag_client **out, char *err, size_t errlen)
{
	const char *sans[] = { "URI:" TLS_ROLE_URI_PREFIX TLS_ROLE_DIAG, NULL };
	struct diag_client *dc = xcalloc(1, sizeof(*dc));
	struct pki_pem pem = { 0 };
	EVP_PKEY *ca_key = NULL;
	X509 *ca_cert = NULL;
	char *ca_pem = NULL;
	size_t ca_len = 0;
	int r;

	*out = NULL;
	dc->o = *o;
	dc->revoked = pki_revoked_load(pki_dir);
	if ((r = pki_ca_load(pki_dir, &ca_key, &ca_cert, err, errlen)) != 0 ||
	    (r = pki_issue_pem(ca_key, ca_cert, "fwfleet-diag", sans,
	    DIAG_CERT_VALID_S, &pem, err, errlen)) != 0)
		goto out;
	if ((r = pki_cert_to_pem(ca_cert, &ca_pem, &ca_len)) != 0) {
		fw_snprintf(err, errlen, "cannot encode the CA certificate");
		goto out;
	}
	dc->ctx = tls_ctx_new(TLS_ROLE_CLIENT, ca_pem, ca_len, pem.cert,
	    pem.cert_len, pem.key, pem.key_len, err, errlen);
	if (dc->ctx == NULL) {
		r = FW_ERR_TLS;
		goto out;
	}
	*out = dc;
	dc = NULL;
out:
	pki_pem_clear(&pem);
	free(ca_pem);
	EVP_PKEY_free(ca_key);
	X509_free(ca_cert);
	diag_client_free(dc);
	return r;
}

void diag_client_free(struct diag_client *dc)
{
	if (dc == NULL)
		return;
	SSL_CTX_free(dc->ctx);
	free(dc->revoked);
	free(dc);
}

/* --- TCP ------------------------------------------------------------------ */

/* --- TLS and frames ------------------------------------------------------- */

/* The alert the peer sent, if the queued error is one (else -1). */
static int peer_alert(void)
{
	unsigned long e = ERR_peek_error();
	int reason = ERR_GET_REASON(e);

	if (e == 0 || ERR_GET_LIB(e) != ERR_LIB_SSL ||
	    reason < SSL_AD_REASON_OFFSET ||
	    reason >= SSL_AD_REASON_OFFSET + 256)
		return -1;
	return reason - SSL_AD_REASON_OFFSET;
}

static int alert_is_about_us(int alert)
{
	return alert == SSL_AD_UNKNOWN_CA || alert == SSL_AD_BAD_CERTIFICATE ||
	    alert == SSL_AD_CERTIFICATE_EXPIRED ||
	    alert == SSL_AD_CERTIFICATE_UNKNOWN ||
	    alert == SSL_AD_UNSUPPORTED_CERTIFICATE ||
	    alert == SSL_AD_CERTIFICATE_REQUIRED;
}

/* The engine's certificate was refused here: why, and what to do. */
static void cert_refused(struct talk *t, const char *why)
{
	long v = SSL_get_verify_result(t->ssl);

	if (v == X509_V_ERR_HOSTNAME_MISMATCH ||
	    v == X509_V_ERR_IP_ADDRESS_MISMATCH)
		fw_snprintf(t->err, t->errlen, "the engine's certificate does "
		    "not name this address (%s): ask for the node by the "
		    "address or name it was deployed to", why);
	else if (v == X509_V_ERR_CERT_HAS_EXPIRED)
		fw_snprintf(t->err, t->errlen, "the engine's certificate has "
		    "expired (%s)", why);
	else
		fw_snprintf(t->err, t->errlen, "the engine's certificate is "
		    "not signed by this controller's CA (%s): another "
		    "controller, or another state directory, started it", why);
}

/* Maps the failed SSL call's ret to our code, with err for the operator. */
static int io_failed(struct talk *t, int ret)
{
	int alert = peer_alert(), r;
	char why[300];

	r = tls_io_result(t->ssl, ret, why, sizeof(why));
	if (r == FW_ERR_AGAIN) {
		fw_snprintf(t->err, t->errlen, "no answer within %d s",
		    t->timeout_s);
		return FW_ERR_TIMEOUT;
	}
	if (alert_is_about_us(alert))
		fw_snprintf(t->err, t->errlen, "the engine refused our "
		    "certificate (%s): it trusts another controller's CA",
		    why);
	else if (r == FW_ERR_EOF)
		fw_snprintf(t->err, t->errlen, "the engine closed the "
		    "connection without answering (an engine older than "
		    "`fwfleet diag` refuses diag clients)");
	else if (r == FW_ERR_CERT)
		cert_refused(t, why);
	else
		fw_snprintf(t->err, t->errlen, "TLS failed (%s): is it a "
		    "fwfleet engine?", why);
	return r == 0 ? FW_ERR_TLS : r;
}

static int write_all(struct talk *t, const uint8_t *p, size_t len)
{
	int n;

	while (len > 0) {
		ERR_clear_error();
		n = SSL_write(t->ssl, p, len > INT_MAX ? INT_MAX : (int)len);
		if (n <= 0)
			return io_failed(t, n);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(struct talk *t, uint8_t *p, size_t len)
{
	int n;

	while (len > 0) {
		ERR_clear_error();
		n = SSL_read(t->ssl, p, len > INT_MAX ? INT_MAX : (int)len);
		if (n <= 0)
			return io_failed(t, n);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_msg(struct talk *t, const Fwfleet__ControllerMsg *m)
{
	size_t len = fwfleet__controller_msg__get_packed_size(m);
	uint8_t *buf = xmalloc(FRAME_HEADER_LEN + len);
	int r;

	if ((r = frame_encode_header(len, FW_MSG_MAX, buf)) == 0) {
		fwfleet__controller_msg__pack(m, buf + FRAME_HEADER_LEN);
		r = write_all(t, buf, FRAME_HEADER_LEN + len);
	}
	free(buf);
	return r;
}

static int recv_msg(struct talk *t, Fwfleet__EngineMsg **out)
{
	uint8_t hdr[FRAME_HEADER_LEN], *body;
	size_t len;
	int r;

	*out = NULL;
	if ((r = read_all(t, hdr, sizeof(hdr))) != 0)
		return r;
	len = ((size_t)hdr[0] << 24) | ((size_t)hdr[1] << 16) |
	    ((size_t)hdr[2] << 8) | hdr[3];
	if (len > FW_MSG_MAX) {
		fw_snprintf(t->err, t->errlen, "the engine sent a %zu-byte "
		    "frame (at most %u)", len, FW_MSG_MAX);
		return FW_ERR_FRAME_TOO_BIG;
	}
	body = xmalloc(len ? len : 1);
	if ((r = read_all(t, body, len)) == 0 &&
	    (*out = fwfleet__engine_msg__unpack(NULL, len, body)) == NULL) {
		fw_snprintf(t->err, t->errlen, "the engine sent a bad message");
		r = FW_ERR_PROTOCOL;
	}
	free(body);
	return r;
}

/* Sends m as request id and reads the reply, which must be of case want
 * (an Error reply says why not). */
static int request(struct talk *t, uint32_t id, Fwfleet__ControllerMsg *m,
    Fwfleet__EngineMsg__MsgCase want, Fwfleet__EngineMsg **reply)
{
	Fwfleet__EngineMsg *rep = NULL;
	int r;

	*reply = NULL;
	m->id = id;
	if ((r = send_msg(t, m)) != 0 || (r = recv_msg(t, &rep)) != 0)
		return r;
	if (rep->msg_case == FWFLEET__ENGINE_MSG__MSG_ERROR) {
		fw_snprintf(t->err, t->errlen, "the engine refused: %s",
		    rep->error->message);
		r = FW_ERR_REMOTE;
	} else if (rep->id != id || rep->msg_case != want) {
		fw_snprintf(t->err, t->errlen, "the engine sent a reply "
		    "nobody asked for");
		r = FW_ERR_PROTOCOL;
	}
	if (r != 0) {
		fwfleet__engine_msg__free_unpacked(rep, NULL);
		return r;
	}
	*reply = rep;
	return 0;
}

/* Hello, then Diag. */
static int converse(struct talk *t, Fwfleet__Diag **out)
{
	Fwfleet__ControllerMsg m = FWFLEET__CONTROLLER_MSG__INIT;
	Fwfleet__Hello h = FWFLEET__HELLO__INIT;
	Fwfleet__DiagRequest dr = FWFLEET__DIAG_REQUEST__INIT;
	Fwfleet__EngineMsg *rep;
	int r;

	h.protocol_version = FW_PROTOCOL_VERSION;
	h.software_version = (char *)FWFLEET_VERSION;
	m.msg_case = FWFLEET__CONTROLLER_MSG__MSG_HELLO;
	m.hello = &h;
	if ((r = request(t, 1, &m, FWFLEET__ENGINE_MSG__MSG_HELLO, &rep)) != 0)
		return r;
	fwfleet__engine_msg__free_unpacked(rep, NULL);
	m.msg_case = FWFLEET__CONTROLLER_MSG__MSG_DIAG;
	m.diag = &dr;
	if ((r = request(t, 2, &m, FWFLEET__ENGINE_MSG__MSG_DIAG, &rep)) != 0)
		return r;
	*out = (Fwfleet__Diag *)proto_copy(&rep->diag->base);
	fwfleet__engine_msg__free_unpacked(rep, NULL);
	return 0;
}

/* A persistent agent whose certificate `pki revoke` revoked is not
 * believed. */
static int check_revoked(const struct diag_client *dc, SSL *ssl, char *err,
    size_t errlen)
{
	char name[300], serial[128];

	if (tls_peer_uri_suffix(ssl, TLS_AGENT_URI_PREFIX, name,
	    sizeof(name)) != 0 ||
	    pki_cert_serial(SSL_get0_peer_certificate(ssl), serial,
	    sizeof(serial)) != 0 || !pki_revoked_has(dc->revoked, serial))
		return 0;
	fw_snprintf(err, errlen, "the agent's certificate (serial %s) was "
	    "revoked with `fwfleet pki revoke`: its answers are not to be "
	    "trusted; reinstall the agent with `fwfleet agent install`",
	    serial);
	return FW_ERR_CERT;
}

/* The handshake on fd, the engine's role checked, then the questions. */
static int ask_tls(struct diag_client *dc, int fd, const char *host,
    Fwfleet__Diag **out, char *err, size_t errlen)
{
	struct timeval tv = { dc->o.timeout_s, 0 };
	struct talk t = { .timeout_s = dc->o.timeout_s, .err = err,
	    .errlen = errlen };
	char why[256];
	int r;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((t.ssl = SSL_new(dc->ctx)) == NULL || SSL_set_fd(t.ssl, fd) != 1 ||
	    tls_expect_host(t.ssl, host) != 0) {
		fw_snprintf(err, errlen, "cannot set up TLS");
		SSL_free(t.ssl);
		return FW_ERR_TLS;
	}
	ERR_clear_error();
	if ((r = SSL_connect(t.ssl)) != 1) {
		r = io_failed(&t, r);
	} else if (tls_check_peer_role(t.ssl, TLS_ROLE_ENGINE, why,
	    sizeof(why)) != 0) {
		fw_snprintf(err, errlen, "what answers is not a fwfleet "
		    "engine (%s)", why);
		r = FW_ERR_CERT;
	} else if ((r = check_revoked(dc, t.ssl, err, errlen)) == 0 &&
	    (r = converse(&t, out)) == 0) {
		SSL_shutdown(t.ssl);
	}
	SSL_free(t.ssl);
	ERR_clear_error();
	return r;
}

/* What a failed connect means for the operator. */
static void connect_failed(const struct diag_client *dc, const char *host,
    uint16_t port, int e, char *err, size_t errlen)
{
	if (e == ETIMEDOUT)
		fw_snprintf(err, errlen, "no answer from %s port %u within "
		    "%d s: the node is down, or a firewall drops the port "
		    "(an engine opens it with --open-firewall)", host, port,
		    dc->o.connect_timeout_s);
	else if (e == EHOSTUNREACH || e == ENETUNREACH)
		fw_snprintf(err, errlen, "cannot reach %s (%s): check the "
		    "address and the network", host, strerror(e));
	else
		fw_snprintf(err, errlen, "cannot connect to %s port %u: %s",
		    host, port, strerror(e));
}

/* One port: 0 with *out; else FW_ERR_* with err, *refused when nothing
 * listens there. */
static int ask_port(struct diag_client *dc, const struct addrinfo *list,
    const char *host, uint16_t port, Fwfleet__Diag **out, int *refused,
    char *err, size_t errlen)
{
	char why[400];
	int fd, r;

	*refused = 0;
	if ((fd = tcp_connect_any(list, port, dc->o.connect_timeout_s)) < 0) {
		*refused = errno == ECONNREFUSED;
		connect_failed(dc, host, port, errno, err, errlen);
		return FW_ERR_SYSTEM;
	}
	if ((r = ask_tls(dc, fd, host, out, why, sizeof(why))) != 0)
		fw_snprintf(err, errlen, "%s port %u: %s", host, port, why);
	close(fd);
	return r;
}

int diag_client_ask(struct diag_client *dc, const struct fw_addr *addr,
    Fwfleet__Diag **out, uint16_t *port, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *list = NULL;
	unsigned first = dc->o.first_port, i;
	char host[300];
	int g, r = FW_ERR_NOT_FOUND, refused = 1;

	*out = NULL;
	*port = 0;
	if (addr_host_zone(addr, host, sizeof(host)) != 0) {
		fw_snprintf(err, errlen, "bad address %s", addr->host);
		return FW_ERR_INVALID;
	}
	if ((g = getaddrinfo(host, NULL, &hints, &list)) != 0) {
		fw_snprintf(err, errlen, "cannot resolve %s: %s", addr->host,
		    gai_strerror(g));
		return FW_ERR_NOT_FOUND;
	}
	for (i = 0; i < FW_ENGINE_PORT_TRIES && first + i <= 65535 && refused;
	    i++) {
		*port = (uint16_t)(first + i);
		r = ask_port(dc, list, addr->host, *port, out, &refused, err,
		    errlen);
	}
	freeaddrinfo(list);
	if (r != 0 && refused)
		fw_snprintf(err, errlen, "no engine or agent answers on %s "
		    "ports %u-%u (connection refused): none is running there",
		    addr->host, first, first + i - 1);
	return r;
}
