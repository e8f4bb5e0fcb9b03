/*
 * The CA and the certificates it issues: extensions, names, validity,
 * PEM round trips and the CA directory on disk.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "err.h"
#include "pki.h"
#include "platform.h"
#include "util.h"

#define HOUR	3600L

struct fixture {
	EVP_PKEY *ca_key;
	X509 *ca_cert;
	char dir[64];
};

static int group_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	if (f == NULL || pki_ca_create("test CA", 30, &f->ca_key,
	    &f->ca_cert, err, sizeof(err)) != 0)
		return -1;
	*state = f;
	return 0;
}

static int group_teardown(void **state)
{
	struct fixture *f = *state;

	EVP_PKEY_free(f->ca_key);
	X509_free(f->ca_cert);
	free(f);
	return 0;
}

static int dir_setup(void **state)
{
	struct fixture *f = *state;

	snprintf(f->dir, sizeof(f->dir), "/tmp/fwfleet-pki.XXXXXX");
	return mkdtemp(f->dir) == NULL ? -1 : 0;
}

static int dir_teardown(void **state)
{
	struct fixture *f = *state;

	return platform_remove_workdir(f->dir);
}

static void assert_contains(const char *s, const char *part)
{
	if (strstr(s, part) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", s, part);
}

/* Whether cert verifies against ca for the purpose (X509_PURPOSE_*). */
static int verify(X509 *ca, X509 *cert, int purpose)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok;

	assert_non_null(store);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, cert, NULL), 1);
	X509_STORE_CTX_set_purpose(ctx, purpose);
	ok = X509_verify_cert(ctx);
	if (ok != 1)
		ok = -X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return ok;
}

static void assert_p256(EVP_PKEY *key)
{
	char group[64];
	size_t len = 0;

	assert_int_equal(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
	assert_int_equal(EVP_PKEY_get_group_name(key, group, sizeof(group),
	    &len), 1);
	assert_string_equal(group, "prime256v1");
}

static void assert_serial(X509 *cert)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);

	assert_non_null(bn);
	assert_false(BN_is_negative(bn));
	assert_int_equal(BN_num_bits(bn), 128);
	BN_free(bn);
}

/* Whether extension nid is present and marked critical. */
static int ext_critical(X509 *cert, int nid)
{
	int i = X509_get_ext_by_NID(cert, nid, -1);

	assert_true(i >= 0);
	return X509_EXTENSION_get_critical(X509_get_ext(cert, i));
}

static long long asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	assert_int_equal(ASN1_TIME_to_tm(t, &tm), 1);
	return (long long)timegm(&tm);
}

static void assert_near(long long got, long long want)
{
	if (got < want - 5 || got > want + 5)
		fail_msg("time %lld is not near %lld", got, want);
}

static void test_ca_create(void **state)
{
	struct fixture *f = *state;
	char subject[128];
	long long not_after = 0, now = (long long)time(NULL);
	const ASN1_OCTET_STRING *skid, *akid;

	assert_p256(f->ca_key);
	assert_int_equal(X509_get_version(f->ca_cert), X509_VERSION_3);
	assert_serial(f->ca_cert);
	assert_int_equal(X509_get_signature_nid(f->ca_cert),
	    NID_ecdsa_with_SHA256);
	assert_int_equal(X509_check_ca(f->ca_cert), 1);
	assert_int_equal(X509_verify(f->ca_cert, f->ca_key), 1);
	assert_int_equal(X509_check_private_key(f->ca_cert, f->ca_key), 1);
	assert_true(X509_get_extension_flags(f->ca_cert) & EXFLAG_SS);
	assert_int_equal(ext_critical(f->ca_cert, NID_basic_constraints), 1);
	assert_int_equal(ext_critical(f->ca_cert, NID_key_usage), 1);
	assert_int_equal(X509_get_key_usage(f->ca_cert),
	    KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_non_null(skid = X509_get0_subject_key_id(f->ca_cert));
	assert_non_null(akid = X509_get0_authority_key_id(f->ca_cert));
	assert_int_equal(ASN1_OCTET_STRING_cmp(skid, akid), 0);
	assert_int_equal(pki_cert_info(f->ca_cert, subject, sizeof(subject),
	    &not_after), 0);
	assert_string_equal(subject, "CN=test CA");
	assert_near(not_after, now + 30 * 86400LL);
	assert_near(asn1_unix(X509_get0_notBefore(f->ca_cert)), now - 300);
}

static void test_ca_create_invalid(void **state)
{
	EVP_PKEY *key = (EVP_PKEY *)1;
	X509 *cert = (X509 *)1;
	char err[256];

	assert_int_equal(pki_ca_create("x", 0, &key, &cert, err,
	    sizeof(err)), FW_ERR_INVALID);
	assert_null(key);
	assert_null(cert);
	assert_int_equal(pki_ca_create("", 10, &key, &cert, err,
	    sizeof(err)), FW_ERR_INVALID);
	assert_string_equal(err, "invalid CA name or lifetime");
}

/* Finds the subject alt name of type at index i in cert. */
static const GENERAL_NAME *san_at(GENERAL_NAMES *names, int i, int type)
{
	const GENERAL_NAME *gn;

	assert_true(i < sk_GENERAL_NAME_num(names));
	gn = sk_GENERAL_NAME_value(names, i);
	assert_int_equal(gn->type, type);
	return gn;
}

static void assert_ia5(const ASN1_IA5STRING *s, const char *want)
{
	assert_int_equal(ASN1_STRING_length(s), strlen(want));
	assert_memory_equal(ASN1_STRING_get0_data(s), want, strlen(want));
}

static void assert_ip(const ASN1_OCTET_STRING *s, int af, const char *want)
{
	unsigned char bin[16];
	int len = af == AF_INET ? 4 : 16;

	assert_int_equal(inet_pton(af, want, bin), 1);
	assert_int_equal(ASN1_STRING_length(s), len);
	assert_memory_equal(ASN1_STRING_get0_data(s), bin, len);
}

static void test_issue_sans(void **state)
{
	static const char *const sans[] = {
		"IP:198.18.0.5", "IP:2001:db8::5", "IP:fe80::1%eth0",
		"DNS:node1.example", "URI:urn:fwfleet:session:abc", NULL
	};
	struct fixture *f = *state;
	GENERAL_NAMES *names;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char err[256];

	assert_int_equal(pki_issue(f->ca_key, f->ca_cert, "node1", sans, HOUR,
	    &key, &cert, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_p256(key);
	assert_int_equal(X509_check_private_key(cert, key), 1);
	assert_int_equal(X509_get_version(cert), X509_VERSION_3);
	assert_serial(cert);
	assert_int_equal(X509_get_signature_nid(cert), NID_ecdsa_with_SHA256);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(cert),
	    X509_get_subject_name(f->ca_cert)), 0);

	names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	assert_non_null(names);
	assert_int_equal(sk_GENERAL_NAME_num(names), 5);
	assert_ip(san_at(names, 0, GEN_IPADD)->d.iPAddress, AF_INET,
	    "198.18.0.5");
	assert_ip(san_at(names, 1, GEN_IPADD)->d.iPAddress, AF_INET6,
	    "2001:db8::5");
	assert_ip(san_at(names, 2, GEN_IPADD)->d.iPAddress, AF_INET6,
	    "fe80::1");
	assert_ia5(san_at(names, 3, GEN_DNS)->d.dNSName, "node1.example");
	assert_ia5(san_at(names, 4, GEN_URI)->d.uniformResourceIdentifier,
	    "urn:fwfleet:session:abc");
	GENERAL_NAMES_free(names);

	/* The same certificate serves as TLS server and as TLS client. */
	assert_int_equal(X509_check_ca(cert), 0);
	assert_int_equal(ext_critical(cert, NID_basic_constraints), 1);
	assert_int_equal(X509_get_key_usage(cert), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_extended_key_usage(cert),
	    XKU_SSL_SERVER | XKU_SSL_CLIENT);
	assert_int_equal(ASN1_OCTET_STRING_cmp(
	    X509_get0_authority_key_id(cert),
	    X509_get0_subject_key_id(f->ca_cert)), 0);
	assert_non_null(X509_get0_subject_key_id(cert));
	assert_int_equal(verify(f->ca_cert, cert, X509_PURPOSE_SSL_SERVER), 1);
	assert_int_equal(verify(f->ca_cert, cert, X509_PURPOSE_SSL_CLIENT), 1);
	assert_int_equal(X509_check_ip_asc(cert, "2001:db8::5", 0), 1);
	assert_int_equal(X509_check_host(cert, "node1.example", 0, 0, NULL),
	    1);
	EVP_PKEY_free(key);
	X509_free(cert);
}

static void test_issue_no_sans(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char err[256];

	assert_int_equal(pki_issue(f->ca_key, f->ca_cert, "bare", NULL, HOUR,
	    &key, &cert, err, sizeof(err)), 0);
	assert_true(X509_get_ext_by_NID(cert, NID_subject_alt_name, -1) < 0);
	EVP_PKEY_free(key);
	X509_free(cert);
}

static void test_issue_bad_sans(void **state)
{
	static const char *const bad[] = {
		"FOO:bar", "IP:", "IP:not-an-ip", "IP:1.2.3", "IP:%eth0",
		"DNS:", "DNS:has space", "URI:", "node1", NULL
	};
	struct fixture *f = *state;
	const char *sans[2] = { NULL, NULL };
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char err[256];
	size_t i;

	for (i = 0; bad[i] != NULL; i++) {
		sans[0] = bad[i];
		assert_int_equal(pki_issue(f->ca_key, f->ca_cert, "n", sans,
		    HOUR, &key, &cert, err, sizeof(err)), FW_ERR_INVALID);
		assert_null(key);
		assert_null(cert);
		assert_contains(err, bad[i]);
	}
	assert_int_equal(ERR_peek_error(), 0);
}

static void test_issue_wrong_ca_key(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *other = NULL, *key = NULL;
	X509 *other_cert = NULL, *cert = NULL;
	char err[256];

	assert_int_equal(pki_ca_create("other", 1, &other, &other_cert, err,
	    sizeof(err)), 0);
	assert_int_equal(pki_issue(other, f->ca_cert, "n", NULL, HOUR, &key,
	    &cert, err, sizeof(err)), FW_ERR_INVALID);
	assert_contains(err, "the CA key does not match the CA certificate");
	assert_null(cert);
	EVP_PKEY_free(other);
	X509_free(other_cert);
}

static void test_serials_differ(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *k1 = NULL, *k2 = NULL;
	X509 *c1 = NULL, *c2 = NULL;
	char err[256];

	assert_int_equal(pki_issue(f->ca_key, f->ca_cert, "a", NULL, HOUR,
	    &k1, &c1, err, sizeof(err)), 0);
	assert_int_equal(pki_issue(f->ca_key, f->ca_cert, "a", NULL, HOUR,
	    &k2, &c2, err, sizeof(err)), 0);
	assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(c1),
	    X509_get0_serialNumber(c2)), 0);
	assert_int_not_equal(EVP_PKEY_eq(k1, k2), 1);
	EVP_PKEY_free(k1);
	EVP_PKEY_free(k2);
	X509_free(c1);
	X509_free(c2);
}

static void test_validity(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char err[256], subject[64];
	long long nb, na, info_na = 0, now = (long long)time(NULL);

	assert_int_equal(pki_issue(f->ca_key, f->ca_cert, "fresh", NULL, HOUR,
	    &key, &cert, err, sizeof(err)), 0);
	nb = asn1_unix(X509_get0_notBefore(cert));
	na = asn1_unix(X509_get0_notAfter(cert));
	assert_near(nb, now - 300);
	assert_near(na, now + HOUR);
	assert_int_equal(pki_cert_info(cert, subject, sizeof(subject),
	    &info_na), 0);
	assert_string_equal(subject, "CN=fresh");
	assert_int_equal(info_na, na);
	assert_int_equal(verify(f->ca_cert, cert, X509_PURPOSE_SSL_SERVER), 1);
	EVP_PKEY_free(key);
	X509_free(cert);

	/* Expired an hour ago, and it still starts before it ends. */
	assert_int_equal(pki_issue(f->ca_key, f->ca_cert, "stale", NULL,
	    -HOUR, &key, &cert, err, sizeof(err)), 0);
	nb = asn1_unix(X509_get0_notBefore(cert));
	na = asn1_unix(X509_get0_notAfter(cert));
	assert_near(na, now - HOUR);
	assert_true(nb < na);
	assert_true(X509_cmp_current_time(X509_get0_notAfter(cert)) < 0);
	assert_int_equal(verify(f->ca_cert, cert, X509_PURPOSE_SSL_SERVER),
	    -X509_V_ERR_CERT_HAS_EXPIRED);
	EVP_PKEY_free(key);
	X509_free(cert);

	/* Short-lived certificates still allow for clock skew. */
	assert_int_equal(pki_issue(f->ca_key, f->ca_cert, "short", NULL, 60,
	    &key, &cert, err, sizeof(err)), 0);
	assert_near(asn1_unix(X509_get0_notBefore(cert)), now - 300);
	EVP_PKEY_free(key);
	X509_free(cert);

	assert_int_equal(pki_issue(f->ca_key, f->ca_cert, "x", NULL,
	    1000L * 366 * 86400, &key, &cert, err, sizeof(err)),
	    FW_ERR_INVALID);
}

static void test_pem_round_trip(void **state)
{
	struct fixture *f = *state;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *pem = NULL;
	size_t len = 0;

	assert_int_equal(pki_cert_to_pem(f->ca_cert, &pem, &len), 0);
	assert_int_equal(strlen(pem), len);
	assert_memory_equal(pem, "-----BEGIN CERTIFICATE-----\n", 28);
	assert_int_equal(pki_cert_from_pem(pem, len, &cert), 0);
	assert_int_equal(X509_cmp(cert, f->ca_cert), 0);
	X509_free(cert);
	/* Truncated input is refused. */
	assert_int_equal(pki_cert_from_pem(pem, len / 2, &cert),
	    FW_ERR_PARSE);
	assert_null(cert);
	free(pem);

	assert_int_equal(pki_key_to_pem(f->ca_key, &pem, &len), 0);
	assert_int_equal(strlen(pem), len);
	assert_memory_equal(pem, "-----BEGIN PRIVATE KEY-----\n", 28);
	assert_int_equal(pki_key_from_pem(pem, len, &key), 0);
	assert_int_equal(EVP_PKEY_eq(key, f->ca_key), 1);
	EVP_PKEY_free(key);
	assert_int_equal(pki_key_from_pem(pem, len / 2, &key), FW_ERR_PARSE);
	assert_null(key);
	OPENSSL_clear_free(pem, len);

	assert_int_equal(pki_cert_from_pem("junk", 4, &cert), FW_ERR_PARSE);
	assert_int_equal(pki_key_from_pem("junk", 4, &key), FW_ERR_PARSE);
	assert_int_equal(pki_key_from_pem("", 0, &key), FW_ERR_PARSE);
	assert_int_equal(ERR_peek_error(), 0);
}

static void path_join(char *buf, size_t len, const char *dir,
    const char *name)
{
	assert_int_equal(fw_snprintf(buf, len, "%s/%s", dir, name), 0);
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void test_ca_init_load(void **state)
{
	struct fixture *f = *state;
	char dir[256], kpath[300], cpath[300], err[512];
	char *pem1 = NULL, *pem2 = NULL;
	size_t len1 = 0, len2 = 0;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;

	/* Missing parents are created, private to the owner. */
	path_join(dir, sizeof(dir), f->dir, "a/b/pki");
	path_join(kpath, sizeof(kpath), dir, "ca.key");
	path_join(cpath, sizeof(cpath), dir, "ca.crt");
	assert_int_equal(pki_ca_init(dir, 0, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(mode_of(dir), 0700);
	assert_int_equal(mode_of(kpath), 0600);
	assert_int_equal(mode_of(cpath), 0644);

	assert_int_equal(pki_ca_load(dir, &key, &cert, err, sizeof(err)), 0);
	assert_int_equal(X509_check_private_key(cert, key), 1);
	assert_int_equal(X509_check_ca(cert), 1);
	assert_p256(key);
	EVP_PKEY_free(key);
	X509_free(cert);

	/* No silent replacement. */
	assert_int_equal(fw_read_file(cpath, 65536, &pem1, &len1), 0);
	assert_int_equal(pki_ca_init(dir, 0, err, sizeof(err)),
	    FW_ERR_EXISTS);
	assert_contains(err, "--force");
	assert_int_equal(fw_read_file(cpath, 65536, &pem2, &len2), 0);
	assert_int_equal(len1, len2);
	assert_memory_equal(pem1, pem2, len1);
	free(pem2);

	assert_int_equal(pki_ca_init(dir, 1, err, sizeof(err)), 0);
	assert_int_equal(fw_read_file(cpath, 65536, &pem2, &len2), 0);
	assert_true(len1 != len2 || memcmp(pem1, pem2, len1) != 0);
	assert_int_equal(mode_of(kpath), 0600);
	assert_int_equal(pki_ca_load(dir, &key, &cert, err, sizeof(err)), 0);
	EVP_PKEY_free(key);
	X509_free(cert);
	free(pem1);
	free(pem2);
}

static void test_ca_load_refuses(void **state)
{
	struct fixture *f = *state;
	char dir[256], kpath[300], cpath[300], want[512], err[512];
	EVP_PKEY *key = (EVP_PKEY *)1;
	X509 *cert = (X509 *)1;
	char *pem = NULL;
	size_t len = 0;

	path_join(dir, sizeof(dir), f->dir, "pki");
	path_join(kpath, sizeof(kpath), dir, "ca.key");
	path_join(cpath, sizeof(cpath), dir, "ca.crt");
	assert_int_equal(fw_snprintf(want, sizeof(want),
	    "no CA in %s; run 'fwfleet pki init' first", dir), 0);

	assert_int_equal(pki_ca_load(dir, &key, &cert, err, sizeof(err)),
	    FW_ERR_NOT_FOUND);
	assert_string_equal(err, want);
	assert_null(key);
	assert_null(cert);

	assert_int_equal(pki_ca_init(dir, 0, err, sizeof(err)), 0);
	assert_int_equal(chmod(kpath, 0640), 0);
	assert_int_equal(pki_ca_load(dir, &key, &cert, err, sizeof(err)),
	    FW_ERR_INVALID);
	assert_contains(err, "accessible by group or others");
	assert_contains(err, kpath);
	assert_null(key);
	assert_int_equal(chmod(kpath, 0604), 0);
	assert_int_equal(pki_ca_load(dir, &key, &cert, err, sizeof(err)),
	    FW_ERR_INVALID);
	assert_int_equal(chmod(kpath, 0600), 0);

	/* A certificate from another CA does not go with this key. */
	assert_int_equal(pki_cert_to_pem(f->ca_cert, &pem, &len), 0);
	assert_int_equal(fw_write_file(cpath, pem, len, 0644), 0);
	free(pem);
	assert_int_equal(pki_ca_load(dir, &key, &cert, err, sizeof(err)),
	    FW_ERR_CERT);
	assert_contains(err, "does not match");
	assert_null(key);
	assert_null(cert);

	/* Half a CA is no CA. */
	assert_int_equal(unlink(cpath), 0);
	assert_int_equal(pki_ca_load(dir, &key, &cert, err, sizeof(err)),
	    FW_ERR_NOT_FOUND);
	assert_string_equal(err, want);

	assert_int_equal(fw_write_file(cpath, "junk\n", 5, 0644), 0);
	assert_int_equal(pki_ca_load(dir, &key, &cert, err, sizeof(err)),
	    FW_ERR_PARSE);
	assert_contains(err, "cannot parse");
	assert_int_equal(ERR_peek_error(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca_create),
		cmocka_unit_test(test_ca_create_invalid),
		cmocka_unit_test(test_issue_sans),
		cmocka_unit_test(test_issue_no_sans),
		cmocka_unit_test(test_issue_bad_sans),
		cmocka_unit_test(test_issue_wrong_ca_key),
		cmocka_unit_test(test_serials_differ),
		cmocka_unit_test(test_validity),
		cmocka_unit_test(test_pem_round_trip),
		cmocka_unit_test_setup_teardown(test_ca_init_load, dir_setup,
		    dir_teardown),
		cmocka_unit_test_setup_teardown(test_ca_load_refuses,
		    dir_setup, dir_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
