/*
 * The component repository: a directory
 *
 *   DIR/components/<id>/<version>/component.json   the manifest
 *   DIR/components/<id>/<version>/<file>...        its payload files
 *   DIR/index.json        every component: id, version, manifest sha256,
 *                         each payload's size, sha256, chunk size and
 *                         per-chunk sha256 (built by repo_index)
 *   DIR/index.json.sig    Ed25519 signature over index.json's bytes (raw
 *                         64 bytes; `openssl pkeyutl -verify -rawin` checks it)
 *   DIR/repo.pub          the signing key's public half (PEM)
 *
 * The private key stays with the operator (repo_keygen, repo_sign). The
 * format is in docs/repository.md.
 *
 * Problems are collected, not just the first: verification names every
 * file that changed ("components/x/1.2/fw.bin: sha256 mismatch (index
 * 3f2a…, file 9c1e…)").
 */
#ifndef FW_REPO_H
#define FW_REPO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "manifest.h"

#define REPO_INDEX		"index.json"
#define REPO_SIG		"index.json.sig"
#define REPO_PUB		"repo.pub"
#define REPO_COMPONENTS		"components"
#define REPO_INDEX_FORMAT	1
#define REPO_CHUNK_DEFAULT	(1024u * 1024u)
#define REPO_CHUNK_MIN		1024u
#define REPO_CHUNK_MAX		(64u * 1024u * 1024u)

/* Lines for the operator: errors (something is wrong) and warnings. */
struct repo_report {
	char **errors;
	size_t n_errors;
	char **warnings;
	size_t n_warnings;
};

void repo_report_error(struct repo_report *rep, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void repo_report_warn(struct repo_report *rep, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prints each error, then each warning, as "fwfleet PROG: ...". */
void repo_report_print(FILE *f, const char *prog,
    const struct repo_report *rep);
/* Frees the lines and clears rep. */
void repo_report_clear(struct repo_report *rep);

/* A payload file as the index lists it. */
struct repo_file {
	char *name;
	uint64_t size;
	char sha256[65];
	uint32_t chunk_size;
	char (*chunk_sha256)[65];	/* ceil(size / chunk_size) of them */
	size_t n_chunks;
};

struct repo_component {
	struct manifest *m;
	char *dir;			/* "components/<id>/<version>" */
	char manifest_sha256[65];
	struct repo_file *files;	/* in the manifest's order */
	size_t n_files;
};

struct repo;

/* What the signature check found. */
struct repo_sig {
	int verified;		/* the signature verifies */
	int pinned;		/* the operator's --pubkey, not repo.pub */
	char key_id[80];	/* "ed25519:<first 16 hex of sha256(key)>" */
};

/*
 * Creates DIR (and parents) with components/ and an empty index.json.
 * A directory that holds a repository already is left as it is
 * (FW_ERR_EXISTS); a non-empty directory that does not is refused.
 */
int repo_init(const char *dir, char *err, size_t errlen);

/*
 * Copies the component in srcdir (component.json and its payloads) into
 * DIR/components/<id>/<version>/, filling in each file's size and sha256
 * (sizes and hashes that component.json gives must match the files).
 * Without "files" in component.json, every other regular file in srcdir
 * is a payload. An existing version is FW_ERR_EXISTS unless replace.
 * *added is "components/<id>/<version>" (caller frees). Files in srcdir
 * that are not listed become warnings. The index is not updated.
 */
int repo_add(const char *dir, const char *srcdir, int replace, char **added,
    struct repo_report *rep, char *err, size_t errlen);

/*
 * Builds DIR/index.json from every components/<id>/<version>/: checks
 * each manifest (its id and version must match the directories) and each
 * payload against it, hashing payloads in chunks of chunk_size (0 = the
 * default). Errors go to rep and nothing is written. If the new index
 * differs from the old one, it is written and a now stale index.json.sig
 * removed; *changed tells. Returns 0, or FW_ERR_PARSE (see rep) or another
 * FW_ERR_* code with err filled.
 */
int repo_index(const char *dir, uint32_t chunk_size, int *changed,
    struct repo_report *rep, char *err, size_t errlen);

/*
 * Reads DIR/index.json and every manifest it lists. A manifest that is
 * missing, differs from its index hash, does not parse, or disagrees with
 * the index adds an error to rep and is left out. Returns 0 with *out
 * (free with repo_free), or an FW_ERR_* code with err filled when the
 * index itself cannot be read or is malformed.
 */
int repo_load(const char *dir, struct repo **out, struct repo_report *rep,
    char *err, size_t errlen);

/*
 * Checks index.json.sig against the index bytes repo_load read, with the
 * public key in pubkey_file (pinned), or DIR/repo.pub if NULL. Returns 0
 * if it verifies; FW_ERR_NOT_FOUND if the index is not signed; FW_ERR_CERT
 * if the signature does not verify; FW_ERR_INVALID if the key file is
 * missing or not an Ed25519 public key. err says what, sig what was used.
 */
int repo_check_signature(const struct repo *r, const char *pubkey_file,
    struct repo_sig *sig, char *err, size_t errlen);

/*
 * Reads every payload of r (streamed) and compares its size, sha256 and
 * chunk hashes with the index; each difference adds an error to rep.
 * Directories and files under components/ that the index does not know
 * add warnings. *files and *bytes count what was read. Returns 0 if
 * nothing differs, else FW_ERR_PARSE.
 */
int repo_check_payloads(const struct repo *r, struct repo_report *rep,
    size_t *files, uint64_t *bytes);

struct repo_verify_opts {
	const char *pubkey;	/* pinned key; NULL = DIR/repo.pub */
	int allow_unsigned;	/* an unsigned index is a warning only */
	int payloads;		/* hash every payload too */
};

/*
 * repo_load + repo_check_signature + repo_check_payloads (if asked).
 * Returns 0 with *out if every check passed; otherwise an FW_ERR_* code,
 * with each problem in rep (and err a one-line summary).
 */
int repo_verify(const char *dir, const struct repo_verify_opts *o,
    struct repo **out, struct repo_sig *sig, struct repo_report *rep,
    char *err, size_t errlen);

void repo_free(struct repo *r);

/* The directory the repository was loaded from. */
const char *repo_dir(const struct repo *r);

/* Components sorted by id, then version (oldest first). */
size_t repo_count(const struct repo *r);
const struct repo_component *repo_get(const struct repo *r, size_t i);

/* The component id at version (NULL: its oldest version), or NULL. */
const struct repo_component *repo_find(const struct repo *r, const char *id,
    const char *version);

/* Path of a payload file on disk (caller frees). */
char *repo_file_path(const struct repo *r, const struct repo_component *c,
    const struct repo_file *f);

/*
 * Writes a new Ed25519 private key to path (PKCS#8 PEM, 0600; an existing
 * file is refused) and its public key to path.pub (PEM).
 */
int repo_keygen(const char *path, char *err, size_t errlen);

/*
 * Signs DIR/index.json with the private key in key_file, which must not
 * be readable by group or others. The repository is verified first
 * (manifests and payloads against the index; problems go to rep and
 * nothing is signed). Writes index.json.sig, and repo.pub if missing; a
 * repo.pub of another key is refused. sig->key_id names the key.
 */
int repo_sign(const char *dir, const char *key_file, struct repo_sig *sig,
    struct repo_report *rep, char *err, size_t errlen);

#endif
