/*
 * The controller CA and the certificates it issues: ECDSA P-256 keys,
 * X.509 v3, random 128-bit serials, SHA-256 signatures.
 */
#include "pki.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "util.h"

#define PKI_SKEW_S	300			/* clock skew allowance */
#define PKI_MAX_DAYS	(100 * 366)
#define PKI_MAX_VALID_S	(PKI_MAX_DAYS * 86400L)
#define PKI_MAX_PEM	(64 * 1024)		/* ca.key and ca.crt files */

/* Never prompt for a pass phrase: our keys are not encrypted. */
static int pki_no_password(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/* Fills err with "what: <newest OpenSSL reason>" and clears the queue. */
static void pki_fail(char *err, size_t errlen, const char *what)
{
	const char *reason = NULL;
	unsigned long e;

	if ((e = ERR_peek_last_error()) != 0)
		reason = ERR_reason_error_string(e);
	fw_snprintf(err, errlen, "%s: %s", what,
	    reason != NULL ? reason : "unknown error");
	ERR_clear_error();
}

static int pki_keygen(EVP_PKEY **out, char *err, size_t errlen)
{
	ERR_clear_error();
	if ((*out = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL) {
		pki_fail(err, errlen, "cannot generate a P-256 key");
		return FW_ERR_INTERNAL;
	}
	return 0;
}

/* A random positive serial of exactly 128 bits (top bit set). */
static int pki_set_serial(X509 *cert)
{
	ASN1_INTEGER *sn = NULL;
	BIGNUM *bn = NULL;
	int r = FW_ERR_INTERNAL;

	if ((bn = BN_new()) == NULL ||
	    BN_rand(bn, 128, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1 ||
	    (sn = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    X509_set_serialNumber(cert, sn) != 1)
		goto out;
	r = 0;
out:
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	return r;
}

/* Validity from now + before to now + after (seconds, may be negative). */
static int pki_set_validity(X509 *cert, long before, long after)
{
	time_t now = time(NULL);

	if (ASN1_TIME_set(X509_getm_notBefore(cert), now + before) == NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(cert), now + after) == NULL)
		return FW_ERR_INTERNAL;
	return 0;
}

/*
 * A v3 certificate for key with subject CN=cn, a fresh serial and the
 * given validity, not yet signed and without extensions.
 */
static int pki_cert_base(EVP_PKEY *key, const char *cn, long before,
    long after, X509 **out, char *err, size_t errlen)
{
	X509 *cert = NULL;
	int r = FW_ERR_INTERNAL;

	*out = NULL;
	ERR_clear_error();
	if ((cert = X509_new()) == NULL ||
	    X509_set_version(cert, X509_VERSION_3) != 1 ||
	    pki_set_serial(cert) != 0 ||
	    pki_set_validity(cert, before, after) != 0 ||
	    X509_set_pubkey(cert, key) != 1) {
		pki_fail(err, errlen, "cannot build a certificate");
		goto out;
	}
	if (X509_NAME_add_entry_by_txt(X509_get_subject_name(cert), "CN",
	    MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) != 1) {
		pki_fail(err, errlen, "invalid certificate name");
		r = FW_ERR_INVALID;
		goto out;
	}
	*out = cert;
	cert = NULL;
	r = 0;
out:
	X509_free(cert);
	return r;
}

/* Adds the extension nid written as in openssl.cnf (x509v3_config). */
static int pki_add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509_EXTENSION *ext = NULL;
	X509V3_CTX ctx;
	int r = FW_ERR_INTERNAL;

	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL ||
	    X509_add_ext(cert, ext, -1) != 1)
		goto out;
	r = 0;
out:
	X509_EXTENSION_free(ext);
	return r;
}

/* A DNS name or URI: printable ASCII without spaces. */
static int pki_valid_ia5(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s <= ' ' || *s > '~')
			return 0;
	}
	return 1;
}

/* An IP address without any %zone, as 4 or 16 bytes. */
static GENERAL_NAME *pki_san_ip(const char *addr)
{
	unsigned char bin[sizeof(struct in6_addr)];
	char buf[INET6_ADDRSTRLEN];
	ASN1_OCTET_STRING *os = NULL;
	GENERAL_NAME *gn = NULL;
	size_t n = strcspn(addr, "%");
	int alen;

	if (n == 0 || n >= sizeof(buf))
		return NULL;
	memcpy(buf, addr, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, bin) == 1)
		alen = 4;
	else if (inet_pton(AF_INET6, buf, bin) == 1)
		alen = 16;
	else
		return NULL;
	if ((os = ASN1_OCTET_STRING_new()) == NULL ||
	    ASN1_OCTET_STRING_set(os, bin, alen) != 1 ||
	    (gn = GENERAL_NAME_new()) == NULL)
		goto fail;
	GENERAL_NAME_set0_value(gn, GEN_IPADD, os);
	return gn;
fail:
	ASN1_OCTET_STRING_free(os);
	GENERAL_NAME_free(gn);
	return NULL;
}

static GENERAL_NAME *pki_san_ia5(int type, const char *value)
{
	ASN1_IA5STRING *s = NULL;
	GENERAL_NAME *gn = NULL;

	if (!pki_valid_ia5(value))
		return NULL;
	if ((s = ASN1_IA5STRING_new()) == NULL ||
	    ASN1_STRING_set(s, value, -1) != 1 ||
	    (gn = GENERAL_NAME_new()) == NULL)
		goto fail;
	GENERAL_NAME_set0_value(gn, type, s);
	return gn;
fail:
	ASN1_IA5STRING_free(s);
	GENERAL_NAME_free(gn);
	return NULL;
}

static int pki_san_add(GENERAL_NAMES *names, const char *san, char *err,
    size_t errlen)
{
	GENERAL_NAME *gn = NULL;

	if (strncmp(san, "IP:", 3) == 0)
		gn = pki_san_ip(san + 3);
	else if (strncmp(san, "DNS:", 4) == 0)
		gn = pki_san_ia5(GEN_DNS, san + 4);
	else if (strncmp(san, "URI:", 4) == 0)
		gn = pki_san_ia5(GEN_URI, san + 4);
	else {
		fw_snprintf(err, errlen, "unknown subject alt name '%s' "
		    "(use IP:, DNS: or URI:)", san);
		return FW_ERR_INVALID;
	}
	if (gn == NULL) {
		ERR_clear_error();
		fw_snprintf(err, errlen, "invalid subject alt name '%s'", san);
		return FW_ERR_INVALID;
	}
	if (sk_GENERAL_NAME_push(names, gn) <= 0) {
		GENERAL_NAME_free(gn);
		fw_snprintf(err, errlen, "out of memory");
		return FW_ERR_NOMEM;
	}
	return 0;
}

static int pki_add_sans(X509 *cert, const char *const *sans, char *err,
    size_t errlen)
{
	GENERAL_NAMES *names = NULL;
	int r = FW_ERR_NOMEM;
	size_t i;

	if (sans == NULL || sans[0] == NULL)
		return 0;
	if ((names = sk_GENERAL_NAME_new_null()) == NULL) {
		fw_snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (i = 0; sans[i] != NULL; i++) {
		if ((r = pki_san_add(names, sans[i], err, errlen)) != 0)
			goto out;
	}
	ERR_clear_error();
	if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0,
	    X509V3_ADD_DEFAULT) != 1) {
		pki_fail(err, errlen, "cannot add the subject alt names");
		r = FW_ERR_INTERNAL;
		goto out;
	}
	r = 0;
out:
	GENERAL_NAMES_free(names);
	return r;
}

static int pki_sign(X509 *cert, EVP_PKEY *key, char *err, size_t errlen)
{
	ERR_clear_error();
	if (X509_sign(cert, key, EVP_sha256()) <= 0) {
		pki_fail(err, errlen, "cannot sign the certificate");
		return FW_ERR_INTERNAL;
	}
	return 0;
}

int pki_ca_create(const char *cn, int days, EVP_PKEY **key_out,
    X509 **cert_out, char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int r = FW_ERR_INVALID;

	*key_out = NULL;
	*cert_out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if (cn == NULL || *cn == '\0' || days <= 0 || days > PKI_MAX_DAYS) {
		fw_snprintf(err, errlen, "invalid CA name or lifetime");
		goto out;
	}
	if ((r = pki_keygen(&key, err, errlen)) != 0 ||
	    (r = pki_cert_base(key, cn, -PKI_SKEW_S, days * 86400L, &cert,
	    err, errlen)) != 0)
		goto out;
	ERR_clear_error();
	if (X509_set_issuer_name(cert, X509_get_subject_name(cert)) != 1 ||
	    pki_add_ext(cert, cert, NID_basic_constraints,
	    "critical,CA:TRUE") != 0 ||
	    pki_add_ext(cert, cert, NID_key_usage,
	    "critical,keyCertSign,cRLSign") != 0 ||
	    pki_add_ext(cert, cert, NID_subject_key_identifier, "hash") != 0 ||
	    pki_add_ext(cert, cert, NID_authority_key_identifier,
	    "keyid:always") != 0) {
		pki_fail(err, errlen, "cannot build the CA certificate");
		r = FW_ERR_INTERNAL;
		goto out;
	}
	if ((r = pki_sign(cert, key, err, errlen)) != 0)
		goto out;
	*key_out = key;
	*cert_out = cert;
	key = NULL;
	cert = NULL;
	r = 0;
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	return r;
}

static int pki_leaf_exts(X509 *cert, X509 *ca_cert, char *err,
    size_t errlen)
{
	ERR_clear_error();
	if (X509_set_issuer_name(cert, X509_get_subject_name(ca_cert)) != 1 ||
	    pki_add_ext(cert, ca_cert, NID_basic_constraints,
	    "critical,CA:FALSE") != 0 ||
	    pki_add_ext(cert, ca_cert, NID_key_usage,
	    "critical,digitalSignature") != 0 ||
	    pki_add_ext(cert, ca_cert, NID_ext_key_usage,
	    "serverAuth,clientAuth") != 0 ||
	    pki_add_ext(cert, ca_cert, NID_subject_key_identifier,
	    "hash") != 0 ||
	    pki_add_ext(cert, ca_cert, NID_authority_key_identifier,
	    "keyid:always") != 0) {
		pki_fail(err, errlen, "cannot build the certificate");
		return FW_ERR_INTERNAL;
	}
	return 0;
}

/* A certificate for key (public part) signed by the CA: pki_issue's
 * and pki_sign_csr's common part. */
static int pki_issue_for(EVP_PKEY *ca_key, X509 *ca_cert, EVP_PKEY *key,
    const char *cn, const char *const *sans, long valid_seconds,
    X509 **cert_out, char *err, size_t errlen)
{
	X509 *cert = NULL;
	long before = -PKI_SKEW_S;
	int r;

	*cert_out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if (ca_key == NULL || ca_cert == NULL || cn == NULL || *cn == '\0' ||
	    valid_seconds > PKI_MAX_VALID_S ||
	    valid_seconds < -PKI_MAX_VALID_S) {
		fw_snprintf(err, errlen, "invalid certificate request");
		return FW_ERR_INVALID;
	}
	ERR_clear_error();
	if (X509_check_private_key(ca_cert, ca_key) != 1) {
		pki_fail(err, errlen, "the CA key does not match the CA "
		    "certificate");
		return FW_ERR_INVALID;
	}
	/* An expired certificate (tests) still starts before it ends. */
	if (valid_seconds <= before)
		before = valid_seconds - PKI_SKEW_S;
	if ((r = pki_cert_base(key, cn, before, valid_seconds, &cert, err,
	    errlen)) != 0 ||
	    (r = pki_leaf_exts(cert, ca_cert, err, errlen)) != 0 ||
	    (r = pki_add_sans(cert, sans, err, errlen)) != 0 ||
	    (r = pki_sign(cert, ca_key, err, errlen)) != 0) {
		X509_free(cert);
		return r;
	}
	*cert_out = cert;
	return 0;
}

int pki_issue(EVP_PKEY *ca_key, X509 *ca_cert, const char *cn,
    const char *const *sans, long valid_seconds, EVP_PKEY **key_out,
    X509 **cert_out, char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	int r;

	*key_out = NULL;
	*cert_out = NULL;
	if ((r = pki_keygen(&key, err, errlen)) != 0)
		return r;
	if ((r = pki_issue_for(ca_key, ca_cert, key, cn, sans, valid_seconds,
	    cert_out, err, errlen)) != 0) {
		EVP_PKEY_free(key);
		return r;
	}
	*key_out = key;
	return 0;
}

/* Copies the contents of a memory BIO into a new NUL-terminated buffer. */
static int pki_bio_take(BIO *bio, char **pem, size_t *len)
{
	char *data = NULL;
	long n;

	if ((n = BIO_get_mem_data(bio, &data)) <= 0 || data == NULL)
		return FW_ERR_INTERNAL;
	*pem = xmalloc((size_t)n + 1);
	memcpy(*pem, data, (size_t)n);
	(*pem)[n] = '\0';
	*len = (size_t)n;
	return 0;
}

int pki_cert_to_pem(X509 *cert, char **pem, size_t *len)
{
	BIO *bio = NULL;
	int r = FW_ERR_INTERNAL;

	*pem = NULL;
	*len = 0;
	ERR_clear_error();
	if (cert == NULL || (bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509(bio, cert) != 1 ||
	    (r = pki_bio_take(bio, pem, len)) != 0)
		goto out;
	r = 0;
out:
	if (r != 0)
		ERR_clear_error();
	BIO_free(bio);
	return r;
}

int pki_key_to_pem(EVP_PKEY *key, char **pem, size_t *len)
{
	BIO *bio = NULL;
	int r = FW_ERR_INTERNAL;

	*pem = NULL;
	*len = 0;
	ERR_clear_error();
	/* secmem: the BIO's buffer is cleansed when freed. */
	if (key == NULL || (bio = BIO_new(BIO_s_secmem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL,
	    NULL) != 1 ||
	    (r = pki_bio_take(bio, pem, len)) != 0)
		goto out;
	r = 0;
out:
	if (r != 0)
		ERR_clear_error();
	BIO_free(bio);
	return r;
}

int pki_cert_from_pem(const char *pem, size_t len, X509 **cert_out)
{
	BIO *bio = NULL;
	int r = FW_ERR_PARSE;

	*cert_out = NULL;
	ERR_clear_error();
	if (pem == NULL || len > INT_MAX ||
	    (bio = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (*cert_out = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL)
		goto out;
	r = 0;
out:
	ERR_clear_error();
	BIO_free(bio);
	return r;
}

int pki_key_from_pem(const char *pem, size_t len, EVP_PKEY **key_out)
{
	BIO *bio = NULL;
	int r = FW_ERR_PARSE;

	*key_out = NULL;
	ERR_clear_error();
	if (pem == NULL || len > INT_MAX ||
	    (bio = BIO_new_mem_buf(pem, (int)len)) == NULL ||
	    (*key_out = PEM_read_bio_PrivateKey(bio, NULL, pki_no_password,
	    NULL)) == NULL)
		goto out;
	r = 0;
out:
	ERR_clear_error();
	BIO_free(bio);
	return r;
}

int pki_cert_info(X509 *cert, char *subject, size_t subjlen,
    long long *not_after)
{
	struct tm tm;
	char *data = NULL;
	BIO *bio = NULL;
	long n;
	int r = FW_ERR_INVALID;

	if (subjlen > 0)
		subject[0] = '\0';
	*not_after = 0;
	ERR_clear_error();
	memset(&tm, 0, sizeof(tm));
	if (cert == NULL || (bio = BIO_new(BIO_s_mem())) == NULL ||
	    X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0,
	    XN_FLAG_RFC2253) < 0 ||
	    ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
		goto out;
	if ((n = BIO_get_mem_data(bio, &data)) < 0 || n > INT_MAX)
		goto out;
	if ((r = fw_snprintf(subject, subjlen, "%.*s", (int)n,
	    data != NULL ? data : "")) != 0)
		goto out;
	*not_after = (long long)timegm(&tm);
	r = 0;
out:
	ERR_clear_error();
	BIO_free(bio);
	return r;
}

static int pki_ca_paths(const char *dir, char *key, char *crt, size_t len,
    char *err, size_t errlen)
{
	if (dir == NULL || *dir == '\0' ||
	    fw_snprintf(key, len, "%s/ca.key", dir) != 0 ||
	    fw_snprintf(crt, len, "%s/ca.crt", dir) != 0) {
		fw_snprintf(err, errlen, "invalid CA directory");
		return FW_ERR_INVALID;
	}
	return 0;
}

static int pki_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static int pki_ca_write(const char *kpath, const char *cpath, char *err,
    size_t errlen)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *kpem = NULL, *cpem = NULL;
	size_t klen = 0, clen = 0;
	const char *failed = NULL;
	int r;

	if ((r = pki_ca_create(PKI_CA_CN, PKI_CA_DAYS, &key, &cert, err,
	    errlen)) != 0)
		goto out;
	if ((r = pki_key_to_pem(key, &kpem, &klen)) != 0 ||
	    (r = pki_cert_to_pem(cert, &cpem, &clen)) != 0) {
		fw_snprintf(err, errlen, "cannot encode the CA");
		goto out;
	}
	if ((r = fw_write_file(kpath, kpem, klen, 0600)) != 0)
		failed = kpath;
	else if ((r = fw_write_file(cpath, cpem, clen, 0644)) != 0)
		failed = cpath;
	if (failed != NULL) {
		fw_snprintf(err, errlen, "cannot write %s: %s", failed,
		    strerror(errno));
		goto out;
	}
	r = 0;
out:
	OPENSSL_clear_free(kpem, klen);
	free(cpem);
	EVP_PKEY_free(key);
	X509_free(cert);
	return r;
}

int pki_ca_init(const char *dir, int force, char *err, size_t errlen)
{
	char kpath[PATH_MAX], cpath[PATH_MAX];
	int r;

	if (errlen > 0)
		err[0] = '\0';
	if ((r = pki_ca_paths(dir, kpath, cpath, sizeof(kpath), err,
	    errlen)) != 0)
		goto out;
	if (!force && (pki_exists(kpath) || pki_exists(cpath))) {
		fw_snprintf(err, errlen, "a CA already exists in %s; use "
		    "--force to replace it (certificates it issued will no "
		    "longer be accepted)", dir);
		r = FW_ERR_EXISTS;
		goto out;
	}
	if ((r = fw_mkdirs(dir, 0700)) != 0) {
		fw_snprintf(err, errlen, "cannot create %s: %s", dir,
		    strerror(errno));
		goto out;
	}
	if ((r = pki_ca_write(kpath, cpath, err, errlen)) != 0)
		goto out;
	r = 0;
out:
	return r;
}

/* Refuses a CA key that is not a regular file private to its owner. */
static int pki_check_key_file(const char *dir, const char *path, char *err,
    size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0) {
		if (errno == ENOENT) {
			fw_snprintf(err, errlen, "no CA in %s; run 'fwfleet "
			    "pki init' first", dir);
			return FW_ERR_NOT_FOUND;
		}
		fw_snprintf(err, errlen, "cannot access %s: %s", path,
		    strerror(errno));
		return FW_ERR_SYSTEM;
	}
	if (!S_ISREG(st.st_mode)) {
		fw_snprintf(err, errlen, "%s is not a regular file", path);
		return FW_ERR_INVALID;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		fw_snprintf(err, errlen, "%s is accessible by group or others "
		    "(mode %03o); run 'chmod 600 %s'", path,
		    (unsigned)(st.st_mode & 0777), path);
		return FW_ERR_INVALID;
	}
	return 0;
}

/* Reads a PEM file of the CA; a missing file means there is no CA. */
static int pki_read_pem(const char *dir, const char *path, char **pem,
    size_t *len, char *err, size_t errlen)
{
	int r;

	if ((r = fw_read_file(path, PKI_MAX_PEM, pem, len)) == 0)
		return 0;
	if (r == FW_ERR_SYSTEM && errno == ENOENT) {
		fw_snprintf(err, errlen, "no CA in %s; run 'fwfleet pki init' "
		    "first", dir);
		return FW_ERR_NOT_FOUND;
	}
	if (r == FW_ERR_FRAME_TOO_BIG)
		fw_snprintf(err, errlen, "%s is too large", path);
	else
		fw_snprintf(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
	return r;
}

int pki_ca_load(const char *dir, EVP_PKEY **key_out, X509 **cert_out,
    char *err, size_t errlen)
{
	char kpath[PATH_MAX], cpath[PATH_MAX];
	char *kpem = NULL, *cpem = NULL;
	size_t klen = 0, clen = 0;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int r;

	*key_out = NULL;
	*cert_out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if ((r = pki_ca_paths(dir, kpath, cpath, sizeof(kpath), err,
	    errlen)) != 0 ||
	    (r = pki_check_key_file(dir, kpath, err, errlen)) != 0 ||
	    (r = pki_read_pem(dir, kpath, &kpem, &klen, err, errlen)) != 0 ||
	    (r = pki_read_pem(dir, cpath, &cpem, &clen, err, errlen)) != 0)
		goto out;
	if ((r = pki_key_from_pem(kpem, klen, &key)) != 0) {
		fw_snprintf(err, errlen, "cannot parse the key in %s", kpath);
		goto out;
	}
	if ((r = pki_cert_from_pem(cpem, clen, &cert)) != 0) {
		fw_snprintf(err, errlen, "cannot parse the certificate in %s",
		    cpath);
		goto out;
	}
	r = FW_ERR_CERT;
	if (X509_check_ca(cert) == 0) {
		fw_snprintf(err, errlen, "%s is not a CA certificate", cpath);
		goto out;
	}
	if (X509_check_private_key(cert, key) != 1) {
		fw_snprintf(err, errlen, "%s does not match %s", kpath, cpath);
		goto out;
	}
	*key_out = key;
	*cert_out = cert;
	key = NULL;
	cert = NULL;
	r = 0;
out:
	ERR_clear_error();
	OPENSSL_clear_free(kpem, klen);
	free(cpem);
	EVP_PKEY_free(key);
	X509_free(cert);
	return r;
}

int pki_issue_pem(EVP_PKEY *ca_key, X509 *ca_cert, const char *cn,
    const char *const *sans, long valid_seconds, struct pki_pem *out,
    char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = pki_issue(ca_key, ca_cert, cn, sans, valid_seconds, &key,
	    &cert, err, errlen)) != 0)
		goto out;
	if ((r = pki_cert_to_pem(cert, &out->cert, &out->cert_len)) != 0 ||
	    (r = pki_key_to_pem(key, &out->key, &out->key_len)) != 0) {
		fw_snprintf(err, errlen, "cannot encode the certificate");
		pki_pem_clear(out);
	}
out:
	EVP_PKEY_free(key);
	X509_free(cert);
	return r;
}

void pki_pem_clear(struct pki_pem *p)
{
	if (p->key != NULL)
		OPENSSL_clear_free(p->key, p->key_len);
	free(p->cert);
	memset(p, 0, sizeof(*p));
}

int pki_csr_new(EVP_PKEY **key_out, char **csr_pem, size_t *csr_len,
    char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	X509_REQ *req = NULL;
	BIO *bio = NULL;
	int r = FW_ERR_TLS;

	*key_out = NULL;
	*csr_pem = NULL;
	if ((r = pki_keygen(&key, err, errlen)) != 0)
		return r;
	r = FW_ERR_TLS;
	if ((req = X509_REQ_new()) == NULL ||
	    X509_REQ_set_version(req, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN",
	    MBSTRING_ASC, (const unsigned char *)"fwfleet-agent", -1, -1,
	    0) != 1 ||
	    X509_REQ_set_pubkey(req, key) != 1 ||
	    X509_REQ_sign(req, key, EVP_sha256()) <= 0 ||
	    (bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509_REQ(bio, req) != 1 ||
	    pki_bio_take(bio, csr_pem, csr_len) != 0) {
		pki_fail(err, errlen, "cannot make a certificate request");
		goto out;
	}
	*key_out = key;
	key = NULL;
	r = 0;
out:
	BIO_free(bio);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	return r;
}

int pki_sign_csr(EVP_PKEY *ca_key, X509 *ca_cert, const char *csr_pem,
    size_t csr_len, const char *cn, const char *const *sans,
    long valid_seconds, X509 **cert_out, char *err, size_t errlen)
{
	X509_REQ *req = NULL;
	EVP_PKEY *pub = NULL;
	BIO *bio;
	int r = FW_ERR_PARSE;

	*cert_out = NULL;
	if (csr_len > INT_MAX ||
	    (bio = BIO_new_mem_buf(csr_pem, (int)csr_len)) == NULL) {
		fw_snprintf(err, errlen, "bad certificate request");
		return FW_ERR_PARSE;
	}
	req = PEM_read_bio_X509_REQ(bio, NULL, pki_no_password, NULL);
	BIO_free(bio);
	if (req == NULL || (pub = X509_REQ_get_pubkey(req)) == NULL) {
		pki_fail(err, errlen, "not a PEM certificate request");
		goto out;
	}
	/* The request proves the agent holds the key; the names are ours. */
	if (X509_REQ_verify(req, pub) != 1 ||
	    EVP_PKEY_get_base_id(pub) != EVP_PKEY_EC) {
		fw_snprintf(err, errlen, "the certificate request is not signed "
		    "by its own P-256 key");
		r = FW_ERR_CERT;
		goto out;
	}
	r = pki_issue_for(ca_key, ca_cert, pub, cn, sans, valid_seconds,
	    cert_out, err, errlen);
out:
	EVP_PKEY_free(pub);
	X509_REQ_free(req);
	return r;
}

char *pki_revoked_load(const char *pki_dir)
{
	char *path = xasprintf("%s/revoked", pki_dir), *list = NULL;
	size_t len;

	if (fw_read_file(path, 16u << 20, &list, &len) != 0)
		list = NULL;
	free(path);
	return list;
}

int pki_revoked_has(const char *list, const char *serial)
{
	const char *p;
	size_t n = strlen(serial);

	for (p = list; p != NULL && *p != '\0'; p += strcspn(p, "\n")) {
		p += *p == '\n';
		if (strncmp(p, serial, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return 1;
	}
	return 0;
}

int pki_cert_serial(X509 *cert, char *hex, size_t len)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *s = bn != NULL ? BN_bn2hex(bn) : NULL;
	int r = s != NULL ? fw_snprintf(hex, len, "%s", s) : FW_ERR_INTERNAL;

	OPENSSL_free(s);
	BN_free(bn);
	return r;
}
