/*
 * TLS 1.3 with mutual authentication between fwfleet's own parts.
 * Every OpenSSL call here starts with a clear error queue so that what is
 * left in it afterwards belongs to that call.
 */
#include "tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "util.h"

static const unsigned char tls_sid_ctx[] = "fwfleet";

/* Never prompt for a pass phrase: our keys are not encrypted. */
static int tls_no_password(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* Appends sep and s to the string in buf, truncating silently. */
static void tls_append(char *buf, size_t len, const char *sep, const char *s)
{
	size_t used = strlen(buf);
	int n;

	if (used + 1 >= len)
		return;
	n = snprintf(buf + used, len - used, "%s%s", used ? sep : "", s);
	if (n < 0)
		buf[used] = '\0';
}

/* An error raised because the peer sent us a fatal alert. */
static int tls_is_alert(unsigned long e)
{
	return ERR_GET_LIB(e) == ERR_LIB_SSL &&
	    ERR_GET_REASON(e) >= SSL_AD_REASON_OFFSET &&
	    ERR_GET_REASON(e) < SSL_AD_REASON_OFFSET + 256;
}

/*
 * Drains the error queue into err, "; "-separated, and returns the first
 * error that reports an alert from the peer (0 if none).
 */
static unsigned long tls_drain(char *err, size_t errlen)
{
	char one[256], full[384];
	const char *data = NULL;
	unsigned long e, alert = 0;
	int flags = 0;

	if (errlen > 0)
		err[0] = '\0';
	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data,
	    &flags)) != 0) {
		if (alert == 0 && tls_is_alert(e))
			alert = e;
		if (errlen == 0)
			continue;
		ERR_error_string_n(e, one, sizeof(one));
		if ((flags & ERR_TXT_STRING) && data != NULL && *data != '\0')
			snprintf(full, sizeof(full), "%s (%s)", one, data);
		else
			snprintf(full, sizeof(full), "%s", one);
		tls_append(err, errlen, "; ", full);
	}
	return alert;
}

void tls_drain_errors(char *err, size_t errlen)
{
	tls_drain(err, errlen);
}

/*
 * Fills err with "what: reason" from the newest queued error, with its
 * detail if any, and clears the queue.
 */
static void tls_fail(char *err, size_t errlen, const char *what)
{
	const char *reason = NULL, *data = NULL;
	unsigned long e;
	int flags = 0;

	if ((e = ERR_peek_last_error_data(&data, &flags)) != 0)
		reason = ERR_reason_error_string(e);
	if (reason == NULL)
		reason = "unknown error";
	if (!(flags & ERR_TXT_STRING) || data == NULL || *data == '\0')
		fw_snprintf(err, errlen, "%s: %s", what, reason);
	else
		fw_snprintf(err, errlen, "%s: %s (%s)", what, reason, data);
	ERR_clear_error();
}

static BIO *tls_mem_bio(const char *pem, size_t len)
{
	if (pem == NULL || len > INT_MAX)
		return NULL;
	return BIO_new_mem_buf(pem, (int)len);
}

static int tls_load_ca(SSL_CTX *ctx, const char *pem, size_t len,
    char *err, size_t errlen)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	X509 *cert = NULL;
	BIO *bio = NULL;
	int r = FW_ERR_TLS, n = 0;

	ERR_clear_error();
	if ((bio = tls_mem_bio(pem, len)) == NULL) {
		tls_fail(err, errlen, "cannot load the CA certificate");
		goto out;
	}
	while ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, cert) != 1) {
			tls_fail(err, errlen,
			    "cannot load the CA certificate");
			goto out;
		}
		X509_free(cert);
		cert = NULL;
		n++;
	}
	if (n == 0) {
		tls_fail(err, errlen, "cannot load the CA certificate");
		goto out;
	}
	/* The last read fails at the end of the input: not an error. */
	ERR_clear_error();
	r = 0;
out:
	X509_free(cert);
	BIO_free(bio);
	return r;
}

static int tls_load_cert(SSL_CTX *ctx, const char *pem, size_t len,
    char *err, size_t errlen)
{
	X509 *cert = NULL;
	BIO *bio = NULL;
	int r = FW_ERR_TLS;

	ERR_clear_error();
	if ((bio = tls_mem_bio(pem, len)) == NULL ||
	    (cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL ||
	    SSL_CTX_use_certificate(ctx, cert) != 1) {
		tls_fail(err, errlen, "cannot load certificate");
		goto out;
	}
	r = 0;
out:
	X509_free(cert);
	BIO_free(bio);
	return r;
}

static int tls_load_key(SSL_CTX *ctx, const char *pem, size_t len,
    char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	BIO *bio = NULL;
	int r = FW_ERR_TLS;

	ERR_clear_error();
	if ((bio = tls_mem_bio(pem, len)) == NULL ||
	    (key = PEM_read_bio_PrivateKey(bio, NULL, tls_no_password,
	    NULL)) == NULL) {
		tls_fail(err, errlen, "cannot load private key");
		goto out;
	}
	/* Setting the key already compares it with the certificate. */
	if (SSL_CTX_use_PrivateKey(ctx, key) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		tls_fail(err, errlen, ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH ?
		    "private key does not match the certificate" :
		    "cannot load private key");
		goto out;
	}
	r = 0;
out:
	EVP_PKEY_free(key);
	BIO_free(bio);
	return r;
}

/* TLS 1.3 only, both sides authenticated, no resumption. */
static int tls_ctx_setup(SSL_CTX *ctx, char *err, size_t errlen)
{
	ERR_clear_error();
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set_num_tickets(ctx, 0) != 1 ||
	    SSL_CTX_set_session_id_context(ctx, tls_sid_ctx,
	    sizeof(tls_sid_ctx) - 1) != 1) {
		tls_fail(err, errlen, "cannot set up the TLS context");
		return FW_ERR_TLS;
	}
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return 0;
}

SSL_CTX *tls_ctx_new(enum tls_role role, const char *ca_pem, size_t ca_len,
    const char *cert_pem, size_t cert_len, const char *key_pem,
    size_t key_len, char *err, size_t errlen)
{
	SSL_CTX *ctx = NULL, *ret = NULL;

	if (errlen > 0)
		err[0] = '\0';
	ERR_clear_error();
	ctx = SSL_CTX_new(role == TLS_ROLE_SERVER ? TLS_server_method() :
	    TLS_client_method());
	if (ctx == NULL) {
		tls_fail(err, errlen, "cannot create a TLS context");
		goto out;
	}
	if (tls_ctx_setup(ctx, err, errlen) != 0 ||
	    tls_load_ca(ctx, ca_pem, ca_len, err, errlen) != 0 ||
	    tls_load_cert(ctx, cert_pem, cert_len, err, errlen) != 0 ||
	    tls_load_key(ctx, key_pem, key_len, err, errlen) != 0)
		goto out;
	ret = ctx;
	ctx = NULL;
out:
	SSL_CTX_free(ctx);
	return ret;
}

/* Copies host without any %zone into buf if it is an IP address. */
static int tls_host_ip(const char *host, char *buf, size_t len)
{
	unsigned char bin[sizeof(struct in6_addr)];
	size_t n = strcspn(host, "%");

	if (n == 0 || n >= len)
		return 0;
	memcpy(buf, host, n);
	buf[n] = '\0';
	return inet_pton(AF_INET, buf, bin) == 1 ||
	    inet_pton(AF_INET6, buf, bin) == 1;
}

int tls_expect_host(SSL *ssl, const char *host)
{
	X509_VERIFY_PARAM *vp;
	char ip[INET6_ADDRSTRLEN];
	int r = FW_ERR_INVALID;

	if (ssl == NULL || host == NULL || *host == '\0')
		return FW_ERR_INVALID;
	ERR_clear_error();
	vp = SSL_get0_param(ssl);
	X509_VERIFY_PARAM_set_hostflags(vp,
	    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	/* Only one kind of name may be set: every one set must match. */
	if (tls_host_ip(host, ip, sizeof(ip))) {
		if (X509_VERIFY_PARAM_set1_host(vp, NULL, 0) != 1 ||
		    X509_VERIFY_PARAM_set1_ip_asc(vp, ip) != 1)
			goto out;
	} else {
		if (strchr(host, '%') != NULL ||
		    X509_VERIFY_PARAM_set1_ip(vp, NULL, 0) != 1 ||
		    X509_VERIFY_PARAM_set1_host(vp, host, 0) != 1 ||
		    SSL_set_tlsext_host_name(ssl, host) != 1)
			goto out;
	}
	r = 0;
out:
	ERR_clear_error();
	return r;
}

/* Whether the URI uri (len bytes) is our session name for session_id. */
static int tls_uri_session(const unsigned char *uri, size_t len,
    const char *session_id, int *is_ours)
{
	size_t plen = strlen(TLS_SESSION_URI_PREFIX);

	if (len < plen || memcmp(uri, TLS_SESSION_URI_PREFIX, plen) != 0)
		return 0;
	*is_ours = 1;
	return len - plen == strlen(session_id) &&
	    memcmp(uri + plen, session_id, len - plen) == 0;
}

int tls_check_peer_session(SSL *ssl, const char *session_id, char *err,
    size_t errlen)
{
	GENERAL_NAMES *names = NULL;
	const GENERAL_NAME *gn;
	X509 *peer = NULL;
	long v;
	int i, r = FW_ERR_CERT, ours = 0;

	if (errlen > 0)
		err[0] = '\0';
	if (ssl == NULL || session_id == NULL || *session_id == '\0') {
		fw_snprintf(err, errlen, "no session to check the peer for");
		return FW_ERR_INVALID;
	}
	ERR_clear_error();
	if ((peer = SSL_get1_peer_certificate(ssl)) == NULL) {
		fw_snprintf(err, errlen, "peer presented no certificate");
		goto out;
	}
	if ((v = SSL_get_verify_result(ssl)) != X509_V_OK) {
		fw_snprintf(err, errlen, "peer certificate rejected: %s",
		    X509_verify_cert_error_string(v));
		goto out;
	}
	names = X509_get_ext_d2i(peer, NID_subject_alt_name, NULL, NULL);
	for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		gn = sk_GENERAL_NAME_value(names, i);
		if (gn->type != GEN_URI)
			continue;
		if (tls_uri_session(
		    ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier),
		    (size_t)ASN1_STRING_length(gn->d.uniformResourceIdentifier),
		    session_id, &ours)) {
			r = 0;
			goto out;
		}
	}
	if (ours)
		fw_snprintf(err, errlen, "peer certificate is for another "
		    "session (expected %s%s)", TLS_SESSION_URI_PREFIX,
		    session_id);
	else
		fw_snprintf(err, errlen,
		    "peer certificate has no fwfleet session name");
out:
	GENERAL_NAMES_free(names);
	X509_free(peer);
	ERR_clear_error();
	return r;
}

/* Whether the peer's certificate carries the URI subject alt name uri. */
static int tls_peer_has_uri(SSL *ssl, const char *uri)
{
	GENERAL_NAMES *names = NULL;
	const GENERAL_NAME *gn;
	X509 *peer = SSL_get1_peer_certificate(ssl);
	size_t len = strlen(uri);
	int i, found = 0;

	if (peer != NULL)
		names = X509_get_ext_d2i(peer, NID_subject_alt_name, NULL, NULL);
	for (i = 0; !found && i < sk_GENERAL_NAME_num(names); i++) {
		gn = sk_GENERAL_NAME_value(names, i);
		found = gn->type == GEN_URI &&
		    (size_t)ASN1_STRING_length(gn->d.uniformResourceIdentifier) ==
		    len && memcmp(ASN1_STRING_get0_data(
		    gn->d.uniformResourceIdentifier), uri, len) == 0;
	}
	GENERAL_NAMES_free(names);
	X509_free(peer);
	ERR_clear_error();
	return found;
}

int tls_peer_uri_suffix(SSL *ssl, const char *prefix, char *out, size_t len)
{
	GENERAL_NAMES *names = NULL;
	const GENERAL_NAME *gn;
	X509 *peer = SSL_get1_peer_certificate(ssl);
	size_t plen = strlen(prefix), n;
	const unsigned char *u;
	int i, r = FW_ERR_NOT_FOUND;

	if (len > 0)
		out[0] = '\0';
	if (peer != NULL)
		names = X509_get_ext_d2i(peer, NID_subject_alt_name, NULL, NULL);
	for (i = 0; r != 0 && i < sk_GENERAL_NAME_num(names); i++) {
		gn = sk_GENERAL_NAME_value(names, i);
		if (gn->type != GEN_URI)
			continue;
		u = ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
		n = (size_t)ASN1_STRING_length(gn->d.uniformResourceIdentifier);
		if (n <= plen || memcmp(u, prefix, plen) != 0 ||
		    n - plen >= len || memchr(u, '\0', n) != NULL)
			continue;
		memcpy(out, u + plen, n - plen);
		out[n - plen] = '\0';
		r = 0;
	}
	GENERAL_NAMES_free(names);
	X509_free(peer);
	ERR_clear_error();
	return r;
}

int tls_check_peer_role(SSL *ssl, const char *role, char *err,
    size_t errlen)
{
	X509 *peer;
	char uri[96];
	long v;

	if (errlen > 0)
		err[0] = '\0';
	ERR_clear_error();
	if (ssl == NULL || (peer = SSL_get1_peer_certificate(ssl)) == NULL) {
		fw_snprintf(err, errlen, "peer presented no certificate");
		return FW_ERR_CERT;
	}
	X509_free(peer);
	if ((v = SSL_get_verify_result(ssl)) != X509_V_OK) {
		fw_snprintf(err, errlen, "peer certificate rejected: %s",
		    X509_verify_cert_error_string(v));
		return FW_ERR_CERT;
	}
	if (fw_snprintf(uri, sizeof(uri), "%s%s", TLS_ROLE_URI_PREFIX,
	    role) != 0)
		return FW_ERR_INVALID;
	if (!tls_peer_has_uri(ssl, uri)) {
		fw_snprintf(err, errlen, "peer certificate is not a %s's "
		    "(no %s)", role, uri);
		return FW_ERR_CERT;
	}
	return 0;
}

int tls_check_peer(SSL *ssl, const char *session_id, const char *role,
    char *err, size_t errlen)
{
	int r;

	if ((r = tls_check_peer_session(ssl, session_id, err, errlen)) != 0)
		return r;
	return tls_check_peer_role(ssl, role, err, errlen);
}

void tls_describe_error(SSL *ssl, char *err, size_t errlen)
{
	unsigned long alert;
	const char *reason;
	long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;

	if (v != X509_V_OK) {
		ERR_clear_error();
		fw_snprintf(err, errlen, "peer certificate rejected: %s",
		    X509_verify_cert_error_string(v));
		return;
	}
	if ((alert = tls_drain(err, errlen)) != 0) {
		if ((reason = ERR_reason_error_string(alert)) == NULL)
			reason = "unknown alert";
		fw_snprintf(err, errlen, "the peer refused the connection (%s)",
		    reason);
		return;
	}
	if (errlen > 0 && err[0] == '\0')
		fw_snprintf(err, errlen, "TLS failure with no further detail");
}

int tls_io_result(SSL *ssl, int ret, char *err, size_t errlen)
{
	unsigned long e;
	int saved = errno;

	if (errlen > 0)
		err[0] = '\0';
	if (ret > 0)
		return 0;
	switch (SSL_get_error(ssl, ret)) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return FW_ERR_AGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return FW_ERR_EOF;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() != 0)
			break;
		if (saved == 0)
			return FW_ERR_EOF;
		fw_snprintf(err, errlen, "%s", strerror(saved));
		return FW_ERR_SYSTEM;
	default:
		break;
	}
	e = ERR_peek_error();
	if (ERR_GET_LIB(e) == ERR_LIB_SSL &&
	    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		ERR_clear_error();
		return FW_ERR_EOF;
	}
	if (SSL_get_verify_result(ssl) != X509_V_OK) {
		tls_describe_error(ssl, err, errlen);
		return FW_ERR_CERT;
	}
	tls_describe_error(ssl, err, errlen);
	return FW_ERR_TLS;
}
