#include "signed.h"

#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "err.h"
#include "util.h"

#define ED25519_SIG_LEN	64

static int verify_index(const char *pub_pem, size_t pub_len,
    const Fwfleet__StageRequest *req, char *err, size_t errlen)
{
	BIO *bio = BIO_new_mem_buf(pub_pem, (int)pub_len);
	EVP_PKEY *key = bio ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = 0;

	if (key != NULL && md != NULL &&
	    req->repo_index_sig.len == ED25519_SIG_LEN &&
	    EVP_DigestVerifyInit(md, NULL, NULL, NULL, key) == 1)
		ok = EVP_DigestVerify(md, req->repo_index_sig.data,
		    req->repo_index_sig.len, req->repo_index.data,
		    req->repo_index.len) == 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(key);
	BIO_free(bio);
	if (!ok)
		fw_snprintf(err, errlen, "the repository index is not signed "
		    "by the key pinned when this agent was installed");
	return ok ? 0 : FW_ERR_CERT;
}

/* The index's entry for the request's component and version. */
static json_t *index_entry(json_t *index, const Fwfleet__StageRequest *req)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(index, "components"), i, c) {
		if (json_is_string(json_object_get(c, "id")) &&
		    json_is_string(json_object_get(c, "version")) &&
		    strcmp(json_string_value(json_object_get(c, "id")),
		    req->component_id) == 0 &&
		    strcmp(json_string_value(json_object_get(c, "version")),
		    req->version) == 0)
			return c;
	}
	return NULL;
}

static const char *str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

/* One file of the request against the index's. */
static int check_file(json_t *entry, const Fwfleet__PayloadFile *f,
    char *err, size_t errlen)
{
	json_t *x = NULL, *chunks;
	size_t i;

	json_array_foreach(json_object_get(entry, "files"), i, x)
		if (strcmp(str(x, "name"), f->name) == 0)
			break;
	if (x == NULL || strcmp(str(x, "name"), f->name) != 0) {
		fw_snprintf(err, errlen, "%s is not in the signed index",
		    f->name);
		return FW_ERR_INVALID;
	}
	chunks = json_object_get(x, "chunk_sha256");
	if ((uint64_t)json_integer_value(json_object_get(x, "size")) !=
	    f->size || strcmp(str(x, "sha256"), f->sha256) != 0 ||
	    json_array_size(chunks) != f->n_chunk_sha256)
		goto bad;
	for (i = 0; i < f->n_chunk_sha256; i++)
		if (strcmp(json_string_value(json_array_get(chunks, i)) ?
		    json_string_value(json_array_get(chunks, i)) : "",
		    f->chunk_sha256[i]) != 0)
			goto bad;
	return 0;
bad:
	fw_snprintf(err, errlen, "%s differs from the signed index", f->name);
	return FW_ERR_INVALID;
}

/* The manifest's installer command, after checking it is the indexed
 * manifest of this component. */
static int check_manifest(json_t *entry, const Fwfleet__StageRequest *req,
    struct signed_installer **out, char *err, size_t errlen)
{
	char hex[65];
	json_t *m, *cmd, *v;
	size_t i;

	fw_sha256_hex(req->manifest.data, req->manifest.len, hex);
	if (strcmp(hex, str(entry, "manifest_sha256")) != 0) {
		fw_snprintf(err, errlen, "the manifest of %s is not the signed "
		    "one", req->component_id);
		return FW_ERR_INVALID;
	}
	m = json_loadb((const char *)req->manifest.data, req->manifest.len, 0,
	    NULL);
	cmd = json_object_get(json_object_get(m, "installer"), "command");
	if (!json_is_array(cmd) || json_array_size(cmd) == 0) {
		json_decref(m);
		fw_snprintf(err, errlen, "the signed manifest of %s has no "
		    "installer command", req->component_id);
		return FW_ERR_PARSE;
	}
	*out = xcalloc(1, sizeof(**out));
	(*out)->argc = json_array_size(cmd);
	(*out)->argv = xcalloc((*out)->argc, sizeof(char *));
	json_array_foreach(cmd, i, v)
		(*out)->argv[i] = xstrdup(json_is_string(v) ?
		    json_string_value(v) : "");
	json_decref(m);
	return 0;
}

int signed_check_stage(const char *pub_pem, size_t pub_len,
    const Fwfleet__StageRequest *req, struct signed_installer **out,
    char *err, size_t errlen)
{
	json_t *index = NULL, *entry;
	size_t i;
	int r;

	*out = NULL;
	if (req->repo_index.len == 0 || req->manifest.len == 0) {
		fw_snprintf(err, errlen, "this agent installs only signed "
		    "components, and the controller sent no signed index");
		return FW_ERR_CERT;
	}
	if ((r = verify_index(pub_pem, pub_len, req, err, errlen)) != 0)
		return r;
	index = json_loadb((const char *)req->repo_index.data,
	    req->repo_index.len, 0, NULL);
	if ((entry = index_entry(index, req)) == NULL) {
		fw_snprintf(err, errlen, "%s %s is not in the signed index",
		    req->component_id, req->version);
		r = FW_ERR_INVALID;
	}
	for (i = 0; r == 0 && i < req->n_files; i++)
		r = check_file(entry, req->files[i], err, errlen);
	if (r == 0)
		r = check_manifest(entry, req, out, err, errlen);
	json_decref(index);
	return r;
}

int signed_check_install(const struct signed_installer *si,
    const Fwfleet__InstallRequest *req, char *err, size_t errlen)
{
	size_t i;

	if (si == NULL || si->argc != req->n_argv)
		goto bad;
	for (i = 0; i < si->argc; i++)
		if (strcmp(si->argv[i], req->argv[i]) != 0)
			goto bad;
	return 0;
bad:
	fw_snprintf(err, errlen, "the install command of %s is not the one "
	    "its signed manifest gives", req->component_id);
	return FW_ERR_CERT;
}

void signed_installer_free(struct signed_installer *si)
{
	size_t i;

	if (si == NULL)
		return;
	for (i = 0; i < si->argc; i++)
		free(si->argv[i]);
	free(si->argv);
	free(si);
}
