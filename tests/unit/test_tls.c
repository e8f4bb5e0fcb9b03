/*
 * Real TLS 1.3 handshakes between two SSL objects joined by a memory BIO
 * pair, pumped in one thread: deterministic, no sockets, no timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "pki.h"
#include "tls.h"

#define HOUR	3600L
#define ROUNDS	16

struct ca {
	EVP_PKEY *key;
	X509 *cert;
	char *pem;
	size_t len;
};

struct fixture {
	struct ca good;
	struct ca other;
};

struct side {
	SSL *ssl;
	int done;	/* handshake and data exchange complete */
	int failed;
	char err[512];
};

struct run {
	struct side client;
	struct side server;
};

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

static int group_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	ca_make(&f->good, "test CA");
	ca_make(&f->other, "another CA");
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	struct fixture *f = *state;

	ca_free(&f->good);
	ca_free(&f->other);
	free(f);
	return 0;
}

/*
 * An SSL_CTX for role with a certificate issued by issuer (names in sans,
 * valid for valid seconds) that trusts trust.
 */
static SSL_CTX *ctx_make(enum tls_role role, const struct ca *issuer,
    const struct ca *trust, const char *const *sans, long valid)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *cpem = NULL, *kpem = NULL, err[256];
	size_t clen = 0, klen = 0;
	SSL_CTX *ctx;

	assert_int_equal(pki_issue(issuer->key, issuer->cert, "test node",
	    sans, valid, &key, &cert, err, sizeof(err)), 0);
	assert_int_equal(pki_cert_to_pem(cert, &cpem, &clen), 0);
	assert_int_equal(pki_key_to_pem(key, &kpem, &klen), 0);
	ctx = tls_ctx_new(role, trust->pem, trust->len, cpem, clen, kpem,
	    klen, err, sizeof(err));
	if (ctx == NULL)
		fail_msg("tls_ctx_new: %s", err);
	assert_string_equal(err, "");
	OPENSSL_clear_free(kpem, klen);
	free(cpem);
	EVP_PKEY_free(key);
	X509_free(cert);
	return ctx;
}

/* A client that trusts ca but has no certificate of its own. */
static SSL_CTX *ctx_anonymous_client(const struct ca *ca)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	assert_non_null(ctx);
	assert_int_equal(SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION),
	    1);
	assert_int_equal(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx),
	    ca->cert), 1);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

/* Runs one handshake step on s; records a failure in s->err. */
static void side_step(struct side *s)
{
	int r;

	if (s->done || s->failed)
		return;
	ERR_clear_error();
	r = tls_io_result(s->ssl, SSL_do_handshake(s->ssl), s->err,
	    sizeof(s->err));
	if (r == 0)
		s->done = 1;
	else if (r != FW_ERR_AGAIN)
		s->failed = 1;
}

static void side_write(struct side *s, const char *msg)
{
	int r;

	ERR_clear_error();
	r = tls_io_result(s->ssl, SSL_write(s->ssl, msg, (int)strlen(msg)),
	    s->err, sizeof(s->err));
	if (r != 0) {
		s->done = 0;
		s->failed = 1;
	}
}

/* Reads msg; in TLS 1.3 this is where a client learns it was refused. */
static void side_read(struct side *s, const char *msg)
{
	char buf[64];
	int n, r;

	ERR_clear_error();
	n = SSL_read(s->ssl, buf, sizeof(buf));
	r = tls_io_result(s->ssl, n, s->err, sizeof(s->err));
	if (r != 0 || (size_t)n != strlen(msg) || memcmp(buf, msg, n) != 0) {
		if (s->err[0] == '\0')
			snprintf(s->err, sizeof(s->err), "read: %s",
			    fw_strerror(r));
		s->done = 0;
		s->failed = 1;
	}
}

/*
 * Connects a client from cctx to a server from sctx, the client expecting
 * host (if not NULL), then sends "ping" and "pong" across. Both SSL
 * objects stay in run for further checks; run_free releases them.
 */
static void run_handshake(struct run *run, SSL_CTX *cctx, SSL_CTX *sctx,
    const char *host)
{
	BIO *cb = NULL, *sb = NULL;
	int i;

	memset(run, 0, sizeof(*run));
	assert_non_null(run->client.ssl = SSL_new(cctx));
	assert_non_null(run->server.ssl = SSL_new(sctx));
	assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
	SSL_set_bio(run->client.ssl, cb, cb);
	SSL_set_bio(run->server.ssl, sb, sb);
	SSL_set_connect_state(run->client.ssl);
	SSL_set_accept_state(run->server.ssl);
	if (host != NULL)
		assert_int_equal(tls_expect_host(run->client.ssl, host), 0);
	for (i = 0; i < ROUNDS; i++) {
		side_step(&run->client);
		side_step(&run->server);
		if ((run->client.done || run->client.failed) &&
		    (run->server.done || run->server.failed))
			break;
	}
	if (run->client.done)
		side_write(&run->client, "ping");
	if (run->server.done) {
		side_read(&run->server, "ping");
		if (run->server.done)
			side_write(&run->server, "pong");
	}
	if (run->client.done)
		side_read(&run->client, "pong");
}

static void run_free(struct run *run)
{
	SSL_free(run->client.ssl);
	SSL_free(run->server.ssl);
}

static void assert_contains(const char *s, const char *part)
{
	if (strstr(s, part) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", s, part);
}

static const char *const server_sans[] = {
	"IP:127.0.0.1", "DNS:node1.example", "URI:urn:fwfleet:session:s1",
	NULL
};
static const char *const client_sans[] = {
	"URI:urn:fwfleet:session:s1", NULL
};

static void test_good_handshake(void **state)
{
	struct fixture *f = *state;
	SSL_CTX *sctx = ctx_make(TLS_ROLE_SERVER, &f->good, &f->good,
	    server_sans, HOUR);
	SSL_CTX *cctx = ctx_make(TLS_ROLE_CLIENT, &f->good, &f->good,
	    client_sans, HOUR);
	struct run run;
	char err[256];

	run_handshake(&run, cctx, sctx, "127.0.0.1");
	if (!run.client.done || !run.server.done)
		fail_msg("client: %s; server: %s", run.client.err,
		    run.server.err);
	assert_int_equal(SSL_version(run.client.ssl), TLS1_3_VERSION);
	assert_int_equal(SSL_version(run.server.ssl), TLS1_3_VERSION);
	assert_int_equal(SSL_session_reused(run.client.ssl), 0);
	/* Each side checks the other's session name. */
	assert_int_equal(tls_check_peer_session(run.client.ssl, "s1", err,
	    sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(tls_check_peer_session(run.server.ssl, "s1", err,
	    sizeof(err)), 0);
	assert_int_equal(ERR_peek_error(), 0);
	run_free(&run);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void test_dns_name(void **state)
{
	struct fixture *f = *state;
	SSL_CTX *sctx = ctx_make(TLS_ROLE_SERVER, &f->good, &f->good,
	    server_sans, HOUR);
	SSL_CTX *cctx = ctx_make(TLS_ROLE_CLIENT, &f->good, &f->good,
	    client_sans, HOUR);
	struct run run;

	run_handshake(&run, cctx, sctx, "node1.example");
	assert_true(run.client.done && run.server.done);
	run_free(&run);
	run_handshake(&run, cctx, sctx, "node2.example");
	assert_true(run.client.failed);
	assert_string_equal(run.client.err,
	    "peer certificate rejected: hostname mismatch");
	assert_true(run.server.failed);
	run_free(&run);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void test_client_other_ca(void **state)
{
	struct fixture *f = *state;
	SSL_CTX *sctx = ctx_make(TLS_ROLE_SERVER, &f->good, &f->good,
	    server_sans, HOUR);
	SSL_CTX *cctx = ctx_make(TLS_ROLE_CLIENT, &f->other, &f->good,
	    client_sans, HOUR);
	struct run run;

	run_handshake(&run, cctx, sctx, "127.0.0.1");
	assert_true(run.server.failed);
	assert_contains(run.server.err, "peer certificate rejected: "
	    "unable to get local issuer certificate");
	assert_true(run.client.failed);
	assert_contains(run.client.err, "the peer refused the connection");
	assert_contains(run.client.err, "unknown ca");
	run_free(&run);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void test_server_other_ca(void **state)
{
	struct fixture *f = *state;
	SSL_CTX *sctx = ctx_make(TLS_ROLE_SERVER, &f->other, &f->good,
	    server_sans, HOUR);
	SSL_CTX *cctx = ctx_make(TLS_ROLE_CLIENT, &f->good, &f->good,
	    client_sans, HOUR);
	struct run run;

	run_handshake(&run, cctx, sctx, "127.0.0.1");
	assert_true(run.client.failed);
	assert_contains(run.client.err, "unable to get local issuer");
	assert_true(run.server.failed);
	run_free(&run);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void test_client_without_cert(void **state)
{
	struct fixture *f = *state;
	SSL_CTX *sctx = ctx_make(TLS_ROLE_SERVER, &f->good, &f->good,
	    server_sans, HOUR);
	SSL_CTX *cctx = ctx_anonymous_client(&f->good);
	struct run run;

	run_handshake(&run, cctx, sctx, "127.0.0.1");
	assert_true(run.server.failed);
	assert_contains(run.server.err, "peer did not return a certificate");
	assert_true(run.client.failed);
	assert_contains(run.client.err, "certificate required");
	run_free(&run);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void test_client_expired(void **state)
{
	struct fixture *f = *state;
	SSL_CTX *sctx = ctx_make(TLS_ROLE_SERVER, &f->good, &f->good,
	    server_sans, HOUR);
	SSL_CTX *cctx = ctx_make(TLS_ROLE_CLIENT, &f->good, &f->good,
	    client_sans, -HOUR);
	struct run run;

	run_handshake(&run, cctx, sctx, "127.0.0.1");
	assert_true(run.server.failed);
	assert_string_equal(run.server.err,
	    "peer certificate rejected: certificate has expired");
	assert_true(run.client.failed);
	assert_contains(run.client.err, "certificate expired");
	run_free(&run);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void test_server_expired(void **state)
{
	struct fixture *f = *state;
	SSL_CTX *sctx = ctx_make(TLS_ROLE_SERVER, &f->good, &f->good,
	    server_sans, -60);
	SSL_CTX *cctx = ctx_make(TLS_ROLE_CLIENT, &f->good, &f->good,
	    client_sans, HOUR);
	struct run run;

	run_handshake(&run, cctx, sctx, "127.0.0.1");
	assert_true(run.client.failed);
	assert_string_equal(run.client.err,
	    "peer certificate rejected: certificate has expired");
	assert_true(run.server.failed);
	assert_contains(run.server.err, "certificate expired");
	run_free(&run);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void test_wrong_ip(void **state)
{
	struct fixture *f = *state;
	SSL_CTX *sctx = ctx_make(TLS_ROLE_SERVER, &f->good, &f->good,
	    server_sans, HOUR);
	SSL_CTX *cctx = ctx_make(TLS_ROLE_CLIENT, &f->good, &f->good,
	    client_sans, HOUR);
	struct run run;

	run_handshake(&run, cctx, sctx, "127.0.0.2");
	assert_true(run.client.failed);
	assert_string_equal(run.client.err,
	    "peer certificate rejected: IP address mismatch");
	assert_true(run.server.failed);
	run_free(&run);
	/* The IPv6 loopback is not the IPv4 one. */
	run_handshake(&run, cctx, sctx, "::1");
	assert_true(run.client.failed);
	run_free(&run);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void test_ipv6(void **state)
{
	static const char *const sans[] = {
		"IP:2001:db8::5", "IP:fe80::1%eth0",
		"URI:urn:fwfleet:session:s1", NULL
	};
	struct fixture *f = *state;
	SSL_CTX *sctx = ctx_make(TLS_ROLE_SERVER, &f->good, &f->good, sans,
	    HOUR);
	SSL_CTX *cctx = ctx_make(TLS_ROLE_CLIENT, &f->good, &f->good,
	    client_sans, HOUR);
	struct run run;

	run_handshake(&run, cctx, sctx, "2001:db8::5");
	assert_true(run.client.done && run.server.done);
	run_free(&run);
	run_handshake(&run, cctx, sctx, "2001:DB8:0::5");
	assert_true(run.client.done && run.server.done);
	run_free(&run);
	run_handshake(&run, cctx, sctx, "fe80::1%eth0");
	assert_true(run.client.done && run.server.done);
	run_free(&run);
	run_handshake(&run, cctx, sctx, "2001:db8::6");
	assert_true(run.client.failed);
	assert_contains(run.client.err, "IP address mismatch");
	run_free(&run);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void test_expect_host_invalid(void **state)
{
	struct fixture *f = *state;
	SSL_CTX *cctx = ctx_make(TLS_ROLE_CLIENT, &f->good, &f->good,
	    client_sans, HOUR);
	SSL *ssl = SSL_new(cctx);

	assert_non_null(ssl);
	assert_int_equal(tls_expect_host(ssl, ""), FW_ERR_INVALID);
	assert_int_equal(tls_expect_host(ssl, NULL), FW_ERR_INVALID);
	assert_int_equal(tls_expect_host(NULL, "127.0.0.1"), FW_ERR_INVALID);
	/* A zone only belongs on an IPv6 address. */
	assert_int_equal(tls_expect_host(ssl, "node1%eth0"), FW_ERR_INVALID);
	assert_int_equal(tls_expect_host(ssl, "node1"), 0);
	assert_int_equal(tls_expect_host(ssl, "10.0.0.1"), 0);
	assert_int_equal(ERR_peek_error(), 0);
	SSL_free(ssl);
	SSL_CTX_free(cctx);
}

static void test_session_mismatch(void **state)
{
	static const char *const no_session[] = { "IP:127.0.0.1",
		"URI:https://example.org/", NULL };
	struct fixture *f = *state;
	SSL_CTX *sctx = ctx_make(TLS_ROLE_SERVER, &f->good, &f->good,
	    server_sans, HOUR);
	SSL_CTX *cctx = ctx_make(TLS_ROLE_CLIENT, &f->good, &f->good,
	    client_sans, HOUR);
	SSL_CTX *nctx = ctx_make(TLS_ROLE_SERVER, &f->good, &f->good,
	    no_session, HOUR);
	struct run run;
	char err[256];

	run_handshake(&run, cctx, sctx, "127.0.0.1");
	assert_true(run.client.done && run.server.done);
	assert_int_equal(tls_check_peer_session(run.client.ssl, "s2", err,
	    sizeof(err)), FW_ERR_CERT);
	assert_string_equal(err, "peer certificate is for another session "
	    "(expected urn:fwfleet:session:s2)");
	/* A prefix of the session id is not the session. */
	assert_int_equal(tls_check_peer_session(run.client.ssl, "s", err,
	    sizeof(err)), FW_ERR_CERT);
	assert_int_equal(tls_check_peer_session(run.client.ssl, "s10", err,
	    sizeof(err)), FW_ERR_CERT);
	assert_int_equal(tls_check_peer_session(run.client.ssl, "", err,
	    sizeof(err)), FW_ERR_INVALID);
	run_free(&run);

	run_handshake(&run, cctx, nctx, "127.0.0.1");
	assert_true(run.client.done && run.server.done);
	assert_int_equal(tls_check_peer_session(run.client.ssl, "s1", err,
	    sizeof(err)), FW_ERR_CERT);
	assert_string_equal(err,
	    "peer certificate has no fwfleet session name");
	run_free(&run);
	SSL_CTX_free(nctx);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void test_no_peer_yet(void **state)
{
	struct fixture *f = *state;
	SSL_CTX *cctx = ctx_make(TLS_ROLE_CLIENT, &f->good, &f->good,
	    client_sans, HOUR);
	SSL *ssl = SSL_new(cctx);
	char err[256];

	assert_non_null(ssl);
	assert_int_equal(tls_check_peer_session(ssl, "s1", err, sizeof(err)),
	    FW_ERR_CERT);
	assert_string_equal(err, "peer presented no certificate");
	SSL_free(ssl);
	SSL_CTX_free(cctx);
}

static void test_tls12_client(void **state)
{
	struct fixture *f = *state;
	SSL_CTX *sctx = ctx_make(TLS_ROLE_SERVER, &f->good, &f->good,
	    server_sans, HOUR);
	SSL_CTX *cctx = ctx_make(TLS_ROLE_CLIENT, &f->good, &f->good,
	    client_sans, HOUR);
	struct run run;

	assert_int_equal(SSL_CTX_set_min_proto_version(cctx, TLS1_2_VERSION),
	    1);
	assert_int_equal(SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION),
	    1);
	run_handshake(&run, cctx, sctx, "127.0.0.1");
	assert_true(run.server.failed);
	assert_contains(run.server.err, "unsupported protocol");
	assert_true(run.client.failed);
	assert_contains(run.client.err, "protocol version");
	run_free(&run);
	SSL_CTX_free(cctx);
	SSL_CTX_free(sctx);
}

static void test_ctx_errors(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *cpem = NULL, *kpem = NULL, *opem = NULL, err[256];
	size_t clen = 0, klen = 0, olen = 0;
	const char junk[] = "not a PEM file\n";

	assert_int_equal(pki_issue(f->good.key, f->good.cert, "n", client_sans,
	    HOUR, &key, &cert, err, sizeof(err)), 0);
	assert_int_equal(pki_cert_to_pem(cert, &cpem, &clen), 0);
	assert_int_equal(pki_key_to_pem(key, &kpem, &klen), 0);
	assert_int_equal(pki_key_to_pem(f->other.key, &opem, &olen), 0);

	assert_null(tls_ctx_new(TLS_ROLE_SERVER, junk, strlen(junk), cpem,
	    clen, kpem, klen, err, sizeof(err)));
	assert_contains(err, "cannot load the CA certificate: ");
	assert_null(tls_ctx_new(TLS_ROLE_SERVER, f->good.pem, f->good.len,
	    junk, strlen(junk), kpem, klen, err, sizeof(err)));
	assert_contains(err, "cannot load certificate: ");
	assert_null(tls_ctx_new(TLS_ROLE_CLIENT, f->good.pem, f->good.len,
	    cpem, clen, junk, strlen(junk), err, sizeof(err)));
	assert_contains(err, "cannot load private key: ");
	assert_null(tls_ctx_new(TLS_ROLE_CLIENT, f->good.pem, f->good.len,
	    cpem, clen, opem, olen, err, sizeof(err)));
	assert_contains(err, "private key does not match the certificate");
	assert_int_equal(ERR_peek_error(), 0);

	OPENSSL_clear_free(kpem, klen);
	OPENSSL_clear_free(opem, olen);
	free(cpem);
	EVP_PKEY_free(key);
	X509_free(cert);
}

static void test_drain_errors(void **state)
{
	char err[512];

	ERR_clear_error();
	tls_drain_errors(err, sizeof(err));
	assert_string_equal(err, "");
	ERR_raise(ERR_LIB_SSL, SSL_R_NO_CERTIFICATE_SET);
	ERR_raise(ERR_LIB_X509, X509_R_KEY_VALUES_MISMATCH);
	tls_drain_errors(err, sizeof(err));
	assert_contains(err, "no certificate set; ");
	assert_contains(err, "key values mismatch");
	assert_int_equal(ERR_peek_error(), 0);
	/* A short buffer truncates but stays a string. */
	ERR_raise(ERR_LIB_SSL, SSL_R_NO_CERTIFICATE_SET);
	tls_drain_errors(err, 8);
	assert_int_equal(strlen(err), 7);
	assert_int_equal(ERR_peek_error(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_handshake),
		cmocka_unit_test(test_dns_name),
		cmocka_unit_test(test_client_other_ca),
		cmocka_unit_test(test_server_other_ca),
		cmocka_unit_test(test_client_without_cert),
		cmocka_unit_test(test_client_expired),
		cmocka_unit_test(test_server_expired),
		cmocka_unit_test(test_wrong_ip),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_expect_host_invalid),
		cmocka_unit_test(test_session_mismatch),
		cmocka_unit_test(test_no_peer_yet),
		cmocka_unit_test(test_tls12_client),
		cmocka_unit_test(test_ctx_errors),
		cmocka_unit_test(test_drain_errors),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
