/*
 * Certificates for fwfleet: the controller CA and the short-lived
 * certificates it issues per engine and session. Keys are ECDSA P-256.
 */
#ifndef FW_PKI_H
#define FW_PKI_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/*
 * Creates a self-signed CA: key and certificate valid for days days,
 * subject CN=cn. Returns 0 or an FW_ERR_* code and fills err.
 */
int pki_ca_create(const char *cn, int days, EVP_PKEY **key_out,
    X509 **cert_out, char *err, size_t errlen);

/*
 * Issues a leaf certificate signed by the CA: a new P-256 key, subject
 * CN=cn, the subject alt names in sans (each "IP:addr", "DNS:name" or
 * "URI:uri"; NULL-terminated), valid from now - 5 minutes (clock skew) to
 * now + valid_seconds, extendedKeyUsage serverAuth and clientAuth (either
 * role). IP names may carry a %zone, which is dropped.
 * valid_seconds may be negative to make an expired certificate (tests).
 * Returns 0 or an FW_ERR_* code and fills err.
 */
int pki_issue(EVP_PKEY *ca_key, X509 *ca_cert, const char *cn,
    const char *const *sans, long valid_seconds, EVP_PKEY **key_out,
    X509 **cert_out, char *err, size_t errlen);

/* A leaf certificate and its key in PEM, as TLS contexts and bootstrap
 * files take them. */
struct pki_pem {
	char *cert;
	size_t cert_len;
	char *key;		/* secret: freed with OPENSSL_clear_free */
	size_t key_len;
};

/* pki_issue, handing back PEM. Clear out with pki_pem_clear. */
int pki_issue_pem(EVP_PKEY *ca_key, X509 *ca_cert, const char *cn,
    const char *const *sans, long valid_seconds, struct pki_pem *out,
    char *err, size_t errlen);

/* Frees both (the key zeroed first) and clears p. */
void pki_pem_clear(struct pki_pem *p);

/* PEM encodings into a malloc'd NUL-terminated buffer; caller frees
 * (keys with OPENSSL_clear_free or explicit_bzero + free). */
int pki_cert_to_pem(X509 *cert, char **pem, size_t *len);
int pki_key_to_pem(EVP_PKEY *key, char **pem, size_t *len);

/* Parse PEM text. Return 0 or FW_ERR_PARSE. */
int pki_cert_from_pem(const char *pem, size_t len, X509 **cert_out);
int pki_key_from_pem(const char *pem, size_t len, EVP_PKEY **key_out);

/* Subject and lifetime of the CA that pki_ca_init creates. */
#define PKI_CA_CN	"fwfleet CA"
#define PKI_CA_DAYS	3650

/*
 * The controller's CA in dir: ca.key (0600) and ca.crt.
 * pki_ca_init creates them (FW_ERR_EXISTS if present and !force);
 * pki_ca_load loads them (FW_ERR_NOT_FOUND if missing), refusing a ca.key
 * accessible by group or others (FW_ERR_INVALID) and a key that does not
 * match the certificate (FW_ERR_CERT).
 */
int pki_ca_init(const char *dir, int force, char *err, size_t errlen);
int pki_ca_load(const char *dir, EVP_PKEY **key_out, X509 **cert_out,
    char *err, size_t errlen);

/*
 * A new P-256 key and a certificate request for it (PEM, subject
 * CN=fwfleet-agent), as a persistent agent makes when it enrolls or
 * renews. Free *csr_pem with free().
 */
int pki_csr_new(EVP_PKEY **key_out, char **csr_pem, size_t *csr_len,
    char *err, size_t errlen);

/*
 * Issues a certificate for the key of a certificate request, after
 * checking the request is signed by that key (P-256). Subject and names
 * are the caller's (cn, sans as for pki_issue), never the request's.
 */
int pki_sign_csr(EVP_PKEY *ca_key, X509 *ca_cert, const char *csr_pem,
    size_t csr_len, const char *cn, const char *const *sans,
    long valid_seconds, X509 **cert_out, char *err, size_t errlen);

/* The serial number of cert in upper-case hex. */
int pki_cert_serial(X509 *cert, char *hex, size_t len);

/* The serials `fwfleet pki revoke` listed in pki_dir/revoked, one per
 * line (NULL if there are none); free() it. */
char *pki_revoked_load(const char *pki_dir);

/* Whether serial (hex, as pki_cert_serial gives it) is on list. */
int pki_revoked_has(const char *list, const char *serial);

/* Subject and notAfter (unix time) of cert, for display. */
int pki_cert_info(X509 *cert, char *subject, size_t subjlen,
    long long *not_after);

#endif
