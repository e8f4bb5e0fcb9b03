#include "renew.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "engine.h"
#include "err.h"
#include "log.h"
#include "pki.h"
#include "tls.h"
#include "util.h"

int renew_begin(struct engine *e, char **csr, size_t *csr_len, char *err,
    size_t errlen)
{
	EVP_PKEY *key = NULL;
	int r;

	if (e->state_dir == NULL) {
		fw_snprintf(err, errlen, "only persistent agents renew their "
		    "certificate");
		return FW_ERR_UNSUPPORTED;
	}
	if ((r = pki_csr_new(&key, csr, csr_len, err, errlen)) != 0)
		return r;
	EVP_PKEY_free(e->renew_key);
	e->renew_key = key;
	return 0;
}

/* The certificate, checked against the pending key and the CA. */
static int renew_check(struct engine *e, const uint8_t *pem, size_t len,
    X509 **cert, char *err, size_t errlen)
{
	X509 *ca = NULL;
	int r = FW_ERR_CERT;

	*cert = NULL;
	if (e->renew_key == NULL) {
		fw_snprintf(err, errlen, "no renewal under way");
		return FW_ERR_PROTOCOL;
	}
	if (pki_cert_from_pem((const char *)pem, len, cert) != 0 ||
	    pki_cert_from_pem((const char *)e->bs->ca_cert_pem.data,
	    e->bs->ca_cert_pem.len, &ca) != 0)
		fw_snprintf(err, errlen, "not a PEM certificate");
	else if (X509_check_private_key(*cert, e->renew_key) != 1)
		fw_snprintf(err, errlen, "the certificate is not for the new "
		    "key");
	else if (X509_verify(*cert, X509_get0_pubkey(ca)) != 1)
		fw_snprintf(err, errlen, "the certificate is not signed by the "
		    "CA this agent enrolled with");
	else
		r = 0;
	X509_free(ca);
	if (r != 0) {
		X509_free(*cert);
		*cert = NULL;
	}
	return r;
}

/* Replaces a bootstrap buffer (protobuf-c frees it with free()). */
static void replace(ProtobufCBinaryData *b, char *data, size_t len)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->len);
	free(b->data);
	b->data = (uint8_t *)data;
	b->len = len;
}

/* Writes the files, then swaps what new connections use. */
static int renew_install(struct engine *e, X509 *cert, char *err,
    size_t errlen)
{
	char *cpem = NULL, *kpem = NULL, *kpath, *cpath;
	size_t clen, klen;
	SSL_CTX *ctx = NULL;
	int r;

	kpath = xasprintf("%s/agent.key", e->state_dir);
	cpath = xasprintf("%s/agent.crt", e->state_dir);
	if ((r = pki_cert_to_pem(cert, &cpem, &clen)) != 0 ||
	    (r = pki_key_to_pem(e->renew_key, &kpem, &klen)) != 0 ||
	    (ctx = tls_ctx_new(TLS_ROLE_SERVER,
	    (const char *)e->bs->ca_cert_pem.data, e->bs->ca_cert_pem.len,
	    cpem, clen, kpem, klen, err, errlen)) == NULL) {
		r = r != 0 ? r : FW_ERR_TLS;
		goto out;
	}
	if (fw_write_file(kpath, kpem, klen, 0600) != 0 ||
	    fw_write_file(cpath, cpem, clen, 0644) != 0) {
		fw_snprintf(err, errlen, "cannot write %s: %s", e->state_dir,
		    strerror(errno));
		r = FW_ERR_SYSTEM;
		goto out;
	}
	SSL_CTX_free(e->ssl_ctx);
	e->ssl_ctx = ctx;
	ctx = NULL;
	replace(&e->bs->cert_pem, cpem, clen);
	replace(&e->bs->key_pem, kpem, klen);
	cpem = kpem = NULL;
	r = 0;
out:
	SSL_CTX_free(ctx);
	free(cpem);
	if (kpem != NULL)
		OPENSSL_clear_free(kpem, klen);
	free(kpath);
	free(cpath);
	return r;
}

int renew_finish(struct engine *e, const uint8_t *pem, size_t len,
    int64_t *not_after, char *err, size_t errlen)
{
	char subject[256];
	long long na = 0;
	X509 *cert = NULL;
	int r;

	if ((r = renew_check(e, pem, len, &cert, err, errlen)) == 0 &&
	    (r = renew_install(e, cert, err, errlen)) == 0) {
		pki_cert_info(cert, subject, sizeof(subject), &na);
		*not_after = na;
		log_info("certificate renewed: %s until %lld", subject, na);
		EVP_PKEY_free(e->renew_key);
		e->renew_key = NULL;
	}
	X509_free(cert);
	return r;
}
