/* agent/signed: what a --require-signed agent accepts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "err.h"
#include "signed.h"
#include "util.h"

static const char manifest[] =
	"{\"id\":\"c1\",\"version\":\"1.0\","
	"\"installer\":{\"command\":[\"./install.sh\",\"--yes\"]}}";

struct fixture {
	EVP_PKEY *key;
	char *pub;
	size_t pub_len;
	char *index;
	unsigned char sig[64];
	Fwfleet__StageRequest req;
	Fwfleet__PayloadFile file, *files[1];
	char *chunks[1];
};

static char *make_index(const char *file_sha)
{
	char msha[65];

	fw_sha256_hex(manifest, strlen(manifest), msha);
	return xasprintf("{\"format\":1,\"components\":[{\"id\":\"c1\","
	    "\"version\":\"1.0\",\"manifest_sha256\":\"%s\",\"files\":[{"
	    "\"name\":\"install.sh\",\"size\":3,\"sha256\":\"%s\","
	    "\"chunk_size\":1048576,\"chunk_sha256\":[\"%s\"]}]}]}", msha,
	    file_sha, file_sha);
}

static void sign(struct fixture *f)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t len = sizeof(f->sig);

	assert_int_equal(EVP_DigestSignInit(md, NULL, NULL, NULL, f->key), 1);
	assert_int_equal(EVP_DigestSign(md, f->sig, &len,
	    (unsigned char *)f->index, strlen(f->index)), 1);
	EVP_MD_CTX_free(md);
	f->req.repo_index.data = (uint8_t *)f->index;
	f->req.repo_index.len = strlen(f->index);
	f->req.repo_index_sig.data = f->sig;
	f->req.repo_index_sig.len = len;
}

static int setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));
	EVP_PKEY_CTX *kc = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
	BIO *bio = BIO_new(BIO_s_mem());
	char sha[65], *p;
	long n;

	EVP_PKEY_keygen_init(kc);
	EVP_PKEY_keygen(kc, &f->key);
	EVP_PKEY_CTX_free(kc);
	PEM_write_bio_PUBKEY(bio, f->key);
	n = BIO_get_mem_data(bio, &p);
	f->pub = xmalloc((size_t)n);
	memcpy(f->pub, p, (size_t)n);
	f->pub_len = (size_t)n;
	BIO_free(bio);
	fw_sha256_hex("abc", 3, sha);
	f->index = make_index(sha);
	fwfleet__stage_request__init(&f->req);
	fwfleet__payload_file__init(&f->file);
	f->req.component_id = (char *)"c1";
	f->req.version = (char *)"1.0";
	f->file.name = (char *)"install.sh";
	f->file.size = 3;
	f->file.sha256 = xstrdup(sha);
	f->chunks[0] = f->file.sha256;
	f->file.chunk_sha256 = f->chunks;
	f->file.n_chunk_sha256 = 1;
	f->files[0] = &f->file;
	f->req.files = f->files;
	f->req.n_files = 1;
	f->req.manifest.data = (uint8_t *)manifest;
	f->req.manifest.len = strlen(manifest);
	sign(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	EVP_PKEY_free(f->key);
	free(f->pub);
	free(f->index);
	free(f->file.sha256);
	free(f);
	return 0;
}

static int check(struct fixture *f, struct signed_installer **si, char *err)
{
	return signed_check_stage(f->pub, f->pub_len, &f->req, si, err, 256);
}

static void test_signed_component(void **state)
{
	struct fixture *f = *state;
	Fwfleet__InstallRequest ir = FWFLEET__INSTALL_REQUEST__INIT;
	char *good[2] = { (char *)"./install.sh", (char *)"--yes" };
	char *evil[2] = { (char *)"/bin/sh", (char *)"-c" };
	struct signed_installer *si;
	char err[256];

	assert_int_equal(check(f, &si, err), 0);
	assert_int_equal(si->argc, 2);
	ir.component_id = (char *)"c1";
	ir.argv = good;
	ir.n_argv = 2;
	assert_int_equal(signed_check_install(si, &ir, err, sizeof(err)), 0);
	ir.argv = evil;
	assert_int_equal(signed_check_install(si, &ir, err, sizeof(err)),
	    FW_ERR_CERT);
	assert_non_null(strstr(err, "not the one its signed manifest gives"));
	ir.argv = good;
	ir.n_argv = 1;
	assert_int_equal(signed_check_install(si, &ir, err, sizeof(err)),
	    FW_ERR_CERT);
	signed_installer_free(si);
}

static void test_refused(void **state)
{
	struct fixture *f = *state;
	struct signed_installer *si;
	char err[256], *bad_manifest, first;

	/* A signature by another key (the index changed after signing). */
	f->index[strlen(f->index) - 2] = ' ';
	assert_int_equal(check(f, &si, err), FW_ERR_CERT);
	assert_non_null(strstr(err, "not signed by the key pinned"));
	assert_null(si);
	f->index[strlen(f->index) - 2] = ']';
	/* Another file than the index's. */
	first = f->file.sha256[0];
	f->file.sha256[0] = first == '0' ? '1' : '0';
	assert_int_equal(check(f, &si, err), FW_ERR_INVALID);
	assert_non_null(strstr(err, "install.sh differs from the signed index"));
	f->file.sha256[0] = first;
	/* Another manifest than the indexed one. */
	bad_manifest = xstrdup(manifest);
	bad_manifest[strlen(bad_manifest) - 4] = 'X';
	f->req.manifest.data = (uint8_t *)bad_manifest;
	assert_int_equal(check(f, &si, err), FW_ERR_INVALID);
	assert_non_null(strstr(err, "is not the signed one"));
	f->req.manifest.data = (uint8_t *)manifest;
	free(bad_manifest);
	/* Another version. */
	f->req.version = (char *)"2.0";
	assert_int_equal(check(f, &si, err), FW_ERR_INVALID);
	assert_non_null(strstr(err, "c1 2.0 is not in the signed index"));
	f->req.version = (char *)"1.0";
	/* Nothing signed at all. */
	f->req.repo_index.len = 0;
	assert_int_equal(check(f, &si, err), FW_ERR_CERT);
	assert_non_null(strstr(err, "sent no signed index"));
	f->req.repo_index.len = strlen(f->index);
	assert_int_equal(check(f, &si, err), 0);
	signed_installer_free(si);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_signed_component, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
