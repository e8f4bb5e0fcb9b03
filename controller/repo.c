#include "repo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "err.h"
#include "log.h"
#include "util.h"
#include "version.h"

#define INDEX_MAX	(64u * 1024u * 1024u)
#define KEY_MAX		(64u * 1024u)
#define IO_BUF		(64u * 1024u)
#define SIG_LEN		64

struct repo {
	char *dir;
	char *index;			/* index.json: the signed bytes */
	size_t index_len;
	struct repo_component *comps;
	size_t n;
	char **listed;			/* every dir the index lists */
	size_t n_listed;
};

/* --- reports ------------------------------------------------------------ */

static void strv_add(char ***v, size_t *n, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void strv_add(char ***v, size_t *n, const char *fmt, va_list ap)
{
	*v = xrealloc(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = xvasprintf(fmt, ap);
}

void repo_report_error(struct repo_report *rep, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strv_add(&rep->errors, &rep->n_errors, fmt, ap);
	va_end(ap);
}

void repo_report_warn(struct repo_report *rep, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strv_add(&rep->warnings, &rep->n_warnings, fmt, ap);
	va_end(ap);
}

void repo_report_print(FILE *f, const char *prog,
    const struct repo_report *rep)
{
	size_t i;

	for (i = 0; i < rep->n_errors; i++)
		fprintf(f, "fwfleet %s: %s\n", prog, rep->errors[i]);
	for (i = 0; i < rep->n_warnings; i++)
		fprintf(f, "fwfleet %s: warning: %s\n", prog,
		    rep->warnings[i]);
}

void repo_report_clear(struct repo_report *rep)
{
	size_t i;

	for (i = 0; i < rep->n_errors; i++)
		free(rep->errors[i]);
	for (i = 0; i < rep->n_warnings; i++)
		free(rep->warnings[i]);
	free(rep->errors);
	free(rep->warnings);
	memset(rep, 0, sizeof(*rep));
}

/* --- small helpers ------------------------------------------------------ */

static char *path_join(const char *a, const char *b)
{
	return xasprintf("%s/%s", a, b);
}

/* "3f2a9c1e0b7d…": enough of a hash to tell two apart. */
static const char *short_hex(const char *hex, char buf[16])
{
	snprintf(buf, 16, "%.12s\u2026", hex);
	return buf;
}

static int is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void names_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of path except . and .., sorted. FW_ERR_SYSTEM (errno). */
static int list_dir(const char *path, char ***out, size_t *n)
{
	struct dirent *de;
	DIR *d;
	char **v = NULL;
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if ((d = opendir(path)) == NULL)
		return FW_ERR_SYSTEM;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		v = xrealloc(v, k + 1, sizeof(*v));
		v[k++] = xstrdup(de->d_name);
	}
	closedir(d);
	if (k > 0)
		qsort(v, k, sizeof(*v), name_cmp);
	*out = v;
	*n = k;
	return 0;
}

/* Removes a directory holding only files (an aborted add). */
static void remove_flat_dir(const char *path)
{
	char **names, *p;
	size_t n, i;

	if (list_dir(path, &names, &n) == 0) {
		for (i = 0; i < n; i++) {
			p = path_join(path, names[i]);
			unlink(p);
			free(p);
		}
		names_free(names, n);
	}
	rmdir(path);
}

/*
 * Opens path for reading if it is a regular file (not a symlink). On
 * failure fills why ("missing", "not a regular file", ...).
 */
static int open_regular(const char *path, int *fd, struct stat *st,
    char *why, size_t whylen)
{
	*fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0) {
		if (errno == ENOENT)
			snprintf(why, whylen, "missing");
		else if (errno == ELOOP)
			snprintf(why, whylen, "is a symbolic link");
		else
			snprintf(why, whylen, "cannot open: %s",
			    strerror(errno));
		return FW_ERR_SYSTEM;
	}
	if (fstat(*fd, st) != 0 || !S_ISREG(st->st_mode)) {
		snprintf(why, whylen, "not a regular file");
		close(*fd);
		*fd = -1;
		return FW_ERR_INVALID;
	}
	return 0;
}

/* --- streamed hashing --------------------------------------------------- */

struct hashed {
	uint64_t size;
	char sha256[65];
	char (*chunks)[65];
	size_t n_chunks;
};

static void hashed_clear(struct hashed *h)
{
	free(h->chunks);
	memset(h, 0, sizeof(*h));
}

static void chunk_done(EVP_MD_CTX *ctx, struct hashed *h)
{
	unsigned char md[32];
	unsigned int len = 0;

	EVP_DigestFinal_ex(ctx, md, &len);
	h->chunks = xrealloc(h->chunks, h->n_chunks + 1, sizeof(*h->chunks));
	fw_hex_encode(md, 32, h->chunks[h->n_chunks++]);
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
}

/* Feeds n bytes to the chunk hash, closing chunks at their boundaries. */
static void chunk_update(EVP_MD_CTX *ctx, uint32_t chunk_size, size_t *fill,
    const unsigned char *p, size_t n, struct hashed *h)
{
	size_t take;

	while (n > 0) {
		take = chunk_size - *fill < n ? chunk_size - *fill : n;
		EVP_DigestUpdate(ctx, p, take);
		*fill += take;
		p += take;
		n -= take;
		if (*fill == chunk_size) {
			chunk_done(ctx, h);
			*fill = 0;
		}
	}
}

/*
 * Reads fd to its end in small pieces: size, sha256 and (chunk_size > 0)
 * each chunk's sha256; copies the bytes to out_fd if it is >= 0.
 */
static int hash_stream(int fd, uint32_t chunk_size, int out_fd,
    struct hashed *h)
{
	EVP_MD_CTX *whole = EVP_MD_CTX_new(), *chunk = EVP_MD_CTX_new();
	unsigned char *buf = xmalloc(IO_BUF), md[32];
	unsigned int mdlen = 0;
	size_t fill = 0;
	ssize_t got;
	int r = FW_ERR_SYSTEM;

	memset(h, 0, sizeof(*h));
	if (whole == NULL || chunk == NULL)
		fatal("out of memory");
	EVP_DigestInit_ex(whole, EVP_sha256(), NULL);
	EVP_DigestInit_ex(chunk, EVP_sha256(), NULL);
	for (;;) {
		if ((got = read(fd, buf, IO_BUF)) < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (got == 0)
			break;
		if (out_fd >= 0 && fw_write_all(out_fd, buf, (size_t)got) != 0)
			goto out;
		EVP_DigestUpdate(whole, buf, (size_t)got);
		if (chunk_size > 0)
			chunk_update(chunk, chunk_size, &fill, buf,
			    (size_t)got, h);
		h->size += (uint64_t)got;
	}
	if (fill > 0)
		chunk_done(chunk, h);
	EVP_DigestFinal_ex(whole, md, &mdlen);
	fw_hex_encode(md, 32, h->sha256);
	r = 0;
out:
	if (r != 0)
		hashed_clear(h);
	EVP_MD_CTX_free(whole);
	EVP_MD_CTX_free(chunk);
	free(buf);
	return r;
}

/* Hashes the regular file at path; why says what failed. */
static int hash_path(const char *path, uint32_t chunk_size, struct hashed *h,
    char *why, size_t whylen)
{
	struct stat st;
	int fd, r;

	memset(h, 0, sizeof(*h));
	if ((r = open_regular(path, &fd, &st, why, whylen)) != 0)
		return r;
	if ((r = hash_stream(fd, chunk_size, -1, h)) != 0)
		snprintf(why, whylen, "read error: %s", strerror(errno));
	close(fd);
	return r;
}

/* --- components in memory ----------------------------------------------- */

static void file_clear(struct repo_file *f)
{
	free(f->name);
	free(f->chunk_sha256);
	memset(f, 0, sizeof(*f));
}

static void component_clear(struct repo_component *c)
{
	size_t i;

	manifest_free(c->m);
	free(c->dir);
	for (i = 0; i < c->n_files; i++)
		file_clear(&c->files[i]);
	free(c->files);
	memset(c, 0, sizeof(*c));
}

void repo_free(struct repo *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->n; i++)
		component_clear(&r->comps[i]);
	free(r->comps);
	names_free(r->listed, r->n_listed);
	free(r->index);
	free(r->dir);
	free(r);
}

const char *repo_dir(const struct repo *r)
{
	return r->dir;
}

size_t repo_count(const struct repo *r)
{
	return r->n;
}

const struct repo_component *repo_get(const struct repo *r, size_t i)
{
	return i < r->n ? &r->comps[i] : NULL;
}

const struct repo_component *repo_find(const struct repo *r, const char *id,
    const char *version)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		if (strcmp(r->comps[i].m->id, id) == 0 && (version == NULL ||
		    strcmp(r->comps[i].m->version, version) == 0))
			return &r->comps[i];
	}
	return NULL;
}

char *repo_file_path(const struct repo *r, const struct repo_component *c,
    const struct repo_file *f)
{
	return xasprintf("%s/%s/%s", r->dir, c->dir, f->name);
}

/* Order: id, then version (oldest first), then the version text. */
static int idver_cmp(const char *ida, const char *va, const char *idb,
    const char *vb)
{
	int c;

	if ((c = strcmp(ida, idb)) != 0)
		return c;
	if ((c = version_compare(va, vb)) != 0)
		return c;
	return strcmp(va, vb);
}

/* --- init --------------------------------------------------------------- */

static const char empty_index[] =
	"{\n  \"format\": 1,\n  \"components\": []\n}\n";

int repo_init(const char *dir, char *err, size_t errlen)
{
	char *comps = path_join(dir, REPO_COMPONENTS);
	char *index = path_join(dir, REPO_INDEX);
	char **names = NULL;
	size_t n = 0;
	int r = FW_ERR_SYSTEM;

	if (is_dir(comps) && access(index, F_OK) == 0) {
		snprintf(err, errlen, "%s holds a repository already; left "
		    "as it is", dir);
		r = FW_ERR_EXISTS;
		goto out;
	}
	if (is_dir(dir) && (list_dir(dir, &names, &n) != 0 || n > 0)) {
		snprintf(err, errlen, "%s is not empty and holds no "
		    "repository; choose an empty or new directory", dir);
		r = FW_ERR_EXISTS;
		goto out;
	}
	if (fw_mkdirs(dir, 0755) != 0 || fw_mkdirs(comps, 0755) != 0 ||
	    fw_write_file(index, empty_index, strlen(empty_index),
	    0644) != 0) {
		snprintf(err, errlen, "cannot create %s: %s", dir,
		    strerror(errno));
		goto out;
	}
	r = 0;
out:
	names_free(names, n);
	free(comps);
	free(index);
	return r;
}

/* --- add ---------------------------------------------------------------- */

/* Without "files", every other regular, non-hidden file is a payload. */
static void default_files(json_t *root, const char *srcdir)
{
	json_t *files;
	char **names, *p;
	size_t n, i;
	struct stat st;

	if (json_object_get(root, "files") != NULL ||
	    list_dir(srcdir, &names, &n) != 0)
		return;
	files = json_array();
	for (i = 0; i < n; i++) {
		p = path_join(srcdir, names[i]);
		if (names[i][0] != '.' && strcmp(names[i], "component.json") &&
		    stat(p, &st) == 0 && S_ISREG(st.st_mode))
			json_array_append_new(files, json_pack("{s:s}", "name",
			    names[i]));
		free(p);
	}
	names_free(names, n);
	json_object_set_new(root, "files", files);
}

static int copy_file(const char *src, const char *dst, struct hashed *h,
    char *why, size_t whylen)
{
	struct stat st;
	int in = -1, out = -1, r;

	memset(h, 0, sizeof(*h));
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(why, whylen, "cannot open: %s", strerror(errno));
		r = FW_ERR_SYSTEM;
		goto out;
	}
	if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		r = FW_ERR_INVALID;
		goto out;
	}
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    (st.st_mode & 0111) ? 0755 : 0644);
	if (out < 0 || (r = hash_stream(in, 0, out, h)) != 0 ||
	    fsync(out) != 0) {
		snprintf(why, whylen, "cannot copy: %s", strerror(errno));
		r = FW_ERR_SYSTEM;
		goto out;
	}
	r = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) != 0 && r == 0) {
		snprintf(why, whylen, "cannot copy: %s", strerror(errno));
		r = FW_ERR_SYSTEM;
	}
	return r;
}

/* Copies each listed file into tmp and records its size and sha256. */
static int add_files(const char *srcdir, const char *tmp, json_t *root,
    const struct manifest *m, char *err, size_t errlen)
{
	json_t *files = json_object_get(root, "files"), *f;
	const struct manifest_file *mf;
	struct hashed h;
	char *src, *dst, why[256], a[16], b[16];
	size_t i;
	int r = 0;

	for (i = 0; i < m->n_files && r == 0; i++) {
		mf = &m->files[i];
		src = path_join(srcdir, mf->name);
		dst = path_join(tmp, mf->name);
		if (copy_file(src, dst, &h, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s: %s", src, why);
			r = FW_ERR_SYSTEM;
		} else if (mf->hashed && (mf->size != h.size ||
		    strcmp(mf->sha256, h.sha256) != 0)) {
			snprintf(err, errlen, "%s: does not match "
			    "component.json (component.json %llu bytes, sha256 "
			    "%s; file %llu bytes, sha256 %s)", src,
			    (unsigned long long)mf->size,
			    short_hex(mf->sha256, a),
			    (unsigned long long)h.size, short_hex(h.sha256, b));
			r = FW_ERR_INVALID;
		} else {
			f = json_array_get(files, i);
			json_object_set_new(f, "size",
			    json_integer((json_int_t)h.size));
			json_object_set_new(f, "sha256", json_string(h.sha256));
		}
		hashed_clear(&h);
		free(src);
		free(dst);
	}
	return r;
}

/* Writes root as tmp/component.json and parses it back, strictly. */
static int add_manifest(const char *tmp, json_t *root, const char *where,
    char *err, size_t errlen)
{
	struct manifest *m = NULL;
	char *text = json_dumps(root, JSON_INDENT(2));
	char *path = path_join(tmp, "component.json"), *doc;
	int r;

	if (text == NULL)
		fatal("out of memory");
	doc = xasprintf("%s\n", text);
	if ((r = manifest_parse(doc, strlen(doc), where, 0, &m, err,
	    errlen)) == 0 &&
	    (r = fw_write_file(path, doc, strlen(doc), 0644)) != 0)
		snprintf(err, errlen, "cannot write %s: %s", path,
		    strerror(errno));
	manifest_free(m);
	free(doc);
	free(text);
	free(path);
	return r;
}

/* Moves the finished tmp directory to dest, replacing an old one. */
static int add_commit(const char *tmp, const char *dest, const char *old,
    char *err, size_t errlen)
{
	int had = is_dir(dest);

	if (had && rename(dest, old) != 0) {
		snprintf(err, errlen, "cannot move %s aside: %s", dest,
		    strerror(errno));
		return FW_ERR_SYSTEM;
	}
	if (rename(tmp, dest) != 0) {
		snprintf(err, errlen, "cannot create %s: %s", dest,
		    strerror(errno));
		if (had)
			rename(old, dest);
		return FW_ERR_SYSTEM;
	}
	if (had)
		remove_flat_dir(old);
	return 0;
}

/* Reads srcdir/component.json, fills default files, checks it. */
static int add_load(const char *srcdir, json_t **root, struct manifest **m,
    char *err, size_t errlen)
{
	char *where = path_join(srcdir, "component.json"), *text = NULL;
	json_error_t je;
	size_t len;
	int r;

	*root = NULL;
	*m = NULL;
	if ((r = fw_read_file(where, MANIFEST_MAX_SIZE, &text, &len)) != 0) {
		snprintf(err, errlen, "%s: %s", where, r == FW_ERR_SYSTEM ?
		    strerror(errno) : "too large");
		goto out;
	}
	if ((*root = json_loadb(text, len, JSON_REJECT_DUPLICATES,
	    &je)) == NULL) {
		snprintf(err, errlen, "%s:%d:%d: %s", where, je.line,
		    je.column, je.text);
		r = FW_ERR_PARSE;
		goto out;
	}
	if (json_is_object(*root))
		default_files(*root, srcdir);
	r = manifest_from_json(*root, where, MANIFEST_UNHASHED, m, err,
	    errlen);
out:
	if (r != 0) {
		json_decref(*root);
		*root = NULL;
	}
	free(text);
	free(where);
	return r;
}

/*
 * Warns of each file in dir (shown as `shown`) that m does not list:
 * "<shown>/<name>: not listed in <why>".
 */
static void warn_unlisted(const char *dir, const char *shown,
    const struct manifest *m, const char *why, struct repo_report *rep)
{
	char **names;
	size_t n, i, j;

	if (list_dir(dir, &names, &n) != 0)
		return;
	for (i = 0; i < n; i++) {
		for (j = 0; j < m->n_files; j++) {
			if (strcmp(names[i], m->files[j].name) == 0)
				break;
		}
		if (j == m->n_files && strcmp(names[i], "component.json") != 0)
			repo_report_warn(rep, "%s/%s: not listed in %s",
			    shown, names[i], why);
	}
	names_free(names, n);
}

int repo_add(const char *dir, const char *srcdir, int replace, char **added,
    struct repo_report *rep, char *err, size_t errlen)
{
	struct manifest *m = NULL;
	json_t *root = NULL;
	char *comps = path_join(dir, REPO_COMPONENTS);
	char *iddir = NULL, *dest = NULL, *tmp = NULL, *old = NULL;
	char *rel = NULL, *where = NULL;
	int r;

	*added = NULL;
	if (!is_dir(comps)) {
		snprintf(err, errlen, "%s is not a repository (no %s/); run "
		    "fwfleet repo init %s", dir, REPO_COMPONENTS, dir);
		r = FW_ERR_NOT_FOUND;
		goto out;
	}
	if ((r = add_load(srcdir, &root, &m, err, errlen)) != 0)
		goto out;
	rel = xasprintf("%s/%s/%s", REPO_COMPONENTS, m->id, m->version);
	where = xasprintf("%s/component.json", rel);
	iddir = path_join(comps, m->id);
	dest = path_join(dir, rel);
	tmp = xasprintf("%s/.add-%s.%ld", iddir, m->version, (long)getpid());
	old = xasprintf("%s/.old-%s.%ld", iddir, m->version, (long)getpid());
	if (is_dir(dest) && !replace) {
		snprintf(err, errlen, "%s exists already (--replace replaces "
		    "it)", rel);
		r = FW_ERR_EXISTS;
		goto out;
	}
	if (fw_mkdirs(iddir, 0755) != 0 || mkdir(tmp, 0755) != 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp,
		    strerror(errno));
		r = FW_ERR_SYSTEM;
		goto out;
	}
	if ((r = add_files(srcdir, tmp, root, m, err, errlen)) != 0 ||
	    (r = add_manifest(tmp, root, where, err, errlen)) != 0 ||
	    (r = add_commit(tmp, dest, old, err, errlen)) != 0) {
		remove_flat_dir(tmp);
		rmdir(iddir);	/* if this add made it */
		goto out;
	}
	warn_unlisted(srcdir, srcdir, m, "files; not copied", rep);
	*added = rel;
	rel = NULL;
out:
	json_decref(root);
	manifest_free(m);
	free(comps);
	free(iddir);
	free(dest);
	free(tmp);
	free(old);
	free(rel);
	free(where);
	return r;
}

/* --- index -------------------------------------------------------------- */

static json_t *file_json(const char *name, const struct hashed *h,
    uint32_t chunk_size)
{
	json_t *chunks = json_array();
	size_t i;

	for (i = 0; i < h->n_chunks; i++)
		json_array_append_new(chunks, json_string(h->chunks[i]));
	return json_pack("{s:s, s:I, s:s, s:I, s:o}", "name", name,
	    "size", (json_int_t)h->size, "sha256", h->sha256,
	    "chunk_size", (json_int_t)chunk_size, "chunk_sha256", chunks);
}

/* Hashes one payload for the index, checking it against the manifest. */
static json_t *index_file(const char *cdir, const char *rel,
    const struct manifest_file *mf, uint32_t chunk_size,
    struct repo_report *rep)
{
	struct hashed h;
	json_t *j = NULL;
	char *path = path_join(cdir, mf->name), why[256], a[16], b[16];

	if (hash_path(path, chunk_size, &h, why, sizeof(why)) != 0)
		repo_report_error(rep, "%s/%s: %s", rel, mf->name, why);
	else if (h.size != mf->size)
		repo_report_error(rep, "%s/%s: size mismatch (component.json "
		    "%llu, file %llu)", rel, mf->name,
		    (unsigned long long)mf->size, (unsigned long long)h.size);
	else if (strcmp(h.sha256, mf->sha256) != 0)
		repo_report_error(rep, "%s/%s: sha256 mismatch (component.json "
		    "%s, file %s)", rel, mf->name, short_hex(mf->sha256, a),
		    short_hex(h.sha256, b));
	else
		j = file_json(mf->name, &h, chunk_size);
	hashed_clear(&h);
	free(path);
	return j;
}


/* Reads and checks one manifest; its text's sha256 into sha. */
static struct manifest *read_manifest(const char *dir, const char *rel,
    int *missing, char sha[65], struct repo_report *rep)
{
	struct manifest *m = NULL;
	char *where = xasprintf("%s/component.json", rel);
	char *path = path_join(dir, where), *text = NULL, err[512];
	size_t len;
	int r;

	*missing = 0;
	sha[0] = '\0';
	if ((r = fw_read_file(path, MANIFEST_MAX_SIZE, &text, &len)) != 0) {
		*missing = r == FW_ERR_SYSTEM && errno == ENOENT;
		repo_report_error(rep, "%s: %s", where, *missing ? "missing" :
		    r == FW_ERR_SYSTEM ? strerror(errno) : "too large");
		goto out;
	}
	fw_sha256_hex(text, len, sha);
	if (manifest_parse(text, len, where, 0, &m, err, sizeof(err)) != 0)
		repo_report_error(rep, "%s", err);
out:
	free(text);
	free(path);
	free(where);
	return m;
}

/* The manifest must describe the directory it sits in. */
static int check_place(const struct manifest *m, const char *id,
    const char *version, const char *rel, struct repo_report *rep)
{
	if (strcmp(m->id, id) != 0) {
		repo_report_error(rep, "%s/component.json: field 'id': %s does "
		    "not match the directory (%s)", rel, m->id, id);
		return -1;
	}
	if (strcmp(m->version, version) != 0) {
		repo_report_error(rep, "%s/component.json: field 'version': %s "
		    "does not match the directory (%s)", rel, m->version,
		    version);
		return -1;
	}
	return 0;
}

/* The index entry of components/<id>/<version>, or NULL (see rep). */
static json_t *index_component(const char *dir, const char *id,
    const char *version, uint32_t chunk_size, struct repo_report *rep)
{
	struct manifest *m;
	json_t *files = NULL, *f, *j = NULL;
	char *rel = xasprintf("%s/%s/%s", REPO_COMPONENTS, id, version);
	char *cdir = path_join(dir, rel), sha[65];
	size_t i, before = rep->n_errors;
	int missing;

	if ((m = read_manifest(dir, rel, &missing, sha, rep)) == NULL ||
	    check_place(m, id, version, rel, rep) != 0)
		goto out;
	files = json_array();
	for (i = 0; i < m->n_files; i++) {
		if ((f = index_file(cdir, rel, &m->files[i], chunk_size,
		    rep)) != NULL)
			json_array_append_new(files, f);
	}
	warn_unlisted(cdir, rel, m, "component.json; never served", rep);
	if (rep->n_errors == before) {
		j = json_pack("{s:s, s:s, s:s, s:s, s:O}", "id", id,
		    "version", version, "kind", manifest_kind_name(m->kind),
		    "manifest_sha256", sha, "files", files);
	}
out:
	json_decref(files);
	manifest_free(m);
	free(rel);
	free(cdir);
	return j;
}

struct entry {
	json_t *j;
	const char *id;
	const char *version;
};

static int entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return idver_cmp(x->id, x->version, y->id, y->version);
}

/* The versions of one component directory, indexed into *v. */
static void index_versions(const char *dir, const char *id, uint32_t chunk,
    struct entry **v, size_t *n, struct repo_report *rep)
{
	char *idrel = xasprintf("%s/%s", REPO_COMPONENTS, id);
	char *iddir = path_join(dir, idrel), **vers, *p;
	size_t nv, i;
	json_t *j;

	if (list_dir(iddir, &vers, &nv) != 0) {
		repo_report_error(rep, "%s: %s", idrel, strerror(errno));
		goto out;
	}
	for (i = 0; i < nv; i++) {
		p = path_join(iddir, vers[i]);
		if (vers[i][0] == '.')
			repo_report_warn(rep, "%s/%s: left over from an "
			    "interrupted repo add; remove it", idrel, vers[i]);
		else if (!is_dir(p))
			repo_report_warn(rep, "%s/%s: not a directory; "
			    "ignored", idrel, vers[i]);
		else if (!manifest_version_valid(vers[i]))
			repo_report_error(rep, "%s/%s: not a valid version "
			    "directory name", idrel, vers[i]);
		else if ((j = index_component(dir, id, vers[i], chunk,
		    rep)) != NULL) {
			*v = xrealloc(*v, *n + 1, sizeof(**v));
			(*v)[*n].j = j;
			(*v)[*n].id = json_string_value(json_object_get(j,
			    "id"));
			(*v)[*n].version = json_string_value(json_object_get(j,
			    "version"));
			(*n)++;
		}
		free(p);
	}
	names_free(vers, nv);
out:
	free(idrel);
	free(iddir);
}

/* Every components/<id>/<version> under dir, sorted. */
static int index_scan(const char *dir, uint32_t chunk, struct entry **v,
    size_t *n, struct repo_report *rep, char *err, size_t errlen)
{
	char *comps = path_join(dir, REPO_COMPONENTS), **ids, *p;
	size_t nid, i;

	*v = NULL;
	*n = 0;
	if (list_dir(comps, &ids, &nid) != 0) {
		snprintf(err, errlen, "%s: %s (not a repository? fwfleet repo "
		    "init %s)", comps, strerror(errno), dir);
		free(comps);
		return FW_ERR_NOT_FOUND;
	}
	for (i = 0; i < nid; i++) {
		p = path_join(comps, ids[i]);
		if (!is_dir(p))
			repo_report_warn(rep, "%s/%s: not a directory; ignored",
			    REPO_COMPONENTS, ids[i]);
		else if (!manifest_id_valid(ids[i]))
			repo_report_error(rep, "%s/%s: not a valid component "
			    "id", REPO_COMPONENTS, ids[i]);
		else
			index_versions(dir, ids[i], chunk, v, n, rep);
		free(p);
	}
	names_free(ids, nid);
	free(comps);
	if (*n > 1)
		qsort(*v, *n, sizeof(**v), entry_cmp);
	for (i = 1; i < *n; i++) {
		if (strcmp((*v)[i - 1].id, (*v)[i].id) == 0 &&
		    version_compare((*v)[i - 1].version, (*v)[i].version) == 0)
			repo_report_error(rep, "%s/%s: versions %s and %s are "
			    "the same version; keep one", REPO_COMPONENTS,
			    (*v)[i].id, (*v)[i - 1].version, (*v)[i].version);
	}
	return 0;
}

/* Writes text as the index unless it is already; drops a stale sig. */
static int index_write(const char *dir, const char *text, int *changed,
    char *err, size_t errlen)
{
	char *path = path_join(dir, REPO_INDEX);
	char *sig = path_join(dir, REPO_SIG), *old = NULL;
	size_t oldlen;
	int r = FW_ERR_SYSTEM;

	*changed = 1;
	if (fw_read_file(path, INDEX_MAX, &old, &oldlen) == 0 &&
	    oldlen == strlen(text) && memcmp(old, text, oldlen) == 0) {
		*changed = 0;
		r = 0;
		goto out;
	}
	if (fw_write_file(path, text, strlen(text), 0644) != 0 ||
	    (unlink(sig) != 0 && errno != ENOENT)) {
		snprintf(err, errlen, "cannot write %s: %s", path,
		    strerror(errno));
		goto out;
	}
	r = 0;
out:
	free(old);
	free(path);
	free(sig);
	return r;
}

int repo_index(const char *dir, uint32_t chunk_size, int *changed,
    struct repo_report *rep, char *err, size_t errlen)
{
	struct entry *v = NULL;
	json_t *root = NULL, *arr;
	char *text = NULL, *doc = NULL;
	size_t n = 0, i, before = rep->n_errors;
	int r;

	*changed = 0;
	chunk_size = chunk_size ? chunk_size : REPO_CHUNK_DEFAULT;
	if (chunk_size < REPO_CHUNK_MIN || chunk_size > REPO_CHUNK_MAX) {
		snprintf(err, errlen, "chunk size must be %u to %u bytes",
		    REPO_CHUNK_MIN, REPO_CHUNK_MAX);
		return FW_ERR_INVALID;
	}
	if ((r = index_scan(dir, chunk_size, &v, &n, rep, err, errlen)) != 0)
		goto out;
	if (rep->n_errors > before) {
		snprintf(err, errlen, "%zu problem(s); %s not written",
		    rep->n_errors - before, REPO_INDEX);
		r = FW_ERR_PARSE;
		goto out;
	}
	arr = json_array();
	for (i = 0; i < n; i++)
		json_array_append(arr, v[i].j);
	root = json_pack("{s:i, s:o}", "format", REPO_INDEX_FORMAT,
	    "components", arr);
	if (root == NULL || (text = json_dumps(root, JSON_INDENT(2))) == NULL)
		fatal("out of memory");
	doc = xasprintf("%s\n", text);
	r = index_write(dir, doc, changed, err, errlen);
out:
	for (i = 0; i < n; i++)
		json_decref(v[i].j);
	free(v);
	json_decref(root);
	free(text);
	free(doc);
	return r;
}

/* --- load --------------------------------------------------------------- */

struct ictx {
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static int ibad(struct ictx *c, const char *field, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s: %s: %s", REPO_INDEX, field, msg);
	return FW_ERR_PARSE;
}

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static int parse_chunks(struct ictx *c, json_t *e, const char *field,
    struct repo_file *f)
{
	json_t *arr = json_object_get(e, "chunk_sha256"), *h;
	uint64_t want;
	size_t i;

	want = f->size / f->chunk_size + (f->size % f->chunk_size != 0);
	if (!json_is_array(arr) || json_array_size(arr) != want)
		return ibad(c, field, "chunk_sha256 must list %llu hashes",
		    (unsigned long long)want);
	f->chunk_sha256 = xcalloc(want ? want : 1, sizeof(*f->chunk_sha256));
	json_array_foreach(arr, i, h) {
		if (!manifest_sha256_valid(json_string_value(h)))
			return ibad(c, field, "chunk_sha256[%zu] must be 64 "
			    "lowercase hex digits", i);
		memcpy(f->chunk_sha256[i], json_string_value(h), 65);
	}
	f->n_chunks = (size_t)want;
	return 0;
}

static int parse_index_file(struct ictx *c, json_t *e, const char *field,
    struct repo_file *f)
{
	json_t *size = json_object_get(e, "size");
	json_t *chunk = json_object_get(e, "chunk_size");

	if (!json_is_object(e))
		return ibad(c, field, "must be an object");
	if (!manifest_file_name_valid(jstr(e, "name")))
		return ibad(c, field, "name must be a plain file name");
	f->name = xstrdup(jstr(e, "name"));
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return ibad(c, field, "size must be a non-negative integer");
	f->size = (uint64_t)json_integer_value(size);
	if (!manifest_sha256_valid(jstr(e, "sha256")))
		return ibad(c, field, "sha256 must be 64 lowercase hex digits");
	memcpy(f->sha256, jstr(e, "sha256"), 65);
	if (!json_is_integer(chunk) ||
	    json_integer_value(chunk) < REPO_CHUNK_MIN ||
	    json_integer_value(chunk) > REPO_CHUNK_MAX)
		return ibad(c, field, "chunk_size must be %u to %u",
		    REPO_CHUNK_MIN, REPO_CHUNK_MAX);
	f->chunk_size = (uint32_t)json_integer_value(chunk);
	return parse_chunks(c, e, field, f);
}

static int parse_index_entry(struct ictx *c, json_t *e, size_t i,
    struct repo_component *comp, const char **id, const char **version)
{
	json_t *files, *fe;
	char field[96];
	size_t k;
	int r;

	snprintf(field, sizeof(field), "components[%zu]", i);
	*id = jstr(e, "id");
	*version = jstr(e, "version");
	if (!json_is_object(e) || !manifest_id_valid(*id) ||
	    !manifest_version_valid(*version))
		return ibad(c, field, "needs a valid id and version");
	if (!manifest_sha256_valid(jstr(e, "manifest_sha256")))
		return ibad(c, field, "manifest_sha256 must be 64 lowercase "
		    "hex digits");
	memcpy(comp->manifest_sha256, jstr(e, "manifest_sha256"), 65);
	comp->dir = xasprintf("%s/%s/%s", REPO_COMPONENTS, *id, *version);
	files = json_object_get(e, "files");
	if (!json_is_array(files) || json_array_size(files) == 0)
		return ibad(c, field, "files must be a non-empty list");
	comp->files = xcalloc(json_array_size(files), sizeof(*comp->files));
	json_array_foreach(files, k, fe) {
		comp->n_files = k + 1;
		snprintf(field, sizeof(field), "components[%zu].files[%zu]",
		    i, k);
		if ((r = parse_index_file(c, fe, field, &comp->files[k])) != 0)
			return r;
	}
	return 0;
}

static int parse_index(struct repo *r, char *err, size_t errlen)
{
	struct ictx c = { err, errlen };
	json_error_t je;
	json_t *root, *arr, *e;
	const char *id, *version;
	size_t i, k;
	int rr = FW_ERR_PARSE;

	if ((root = json_loadb(r->index, r->index_len, JSON_REJECT_DUPLICATES,
	    &je)) == NULL) {
		snprintf(err, errlen, "%s:%d:%d: %s", REPO_INDEX, je.line,
		    je.column, je.text);
		return FW_ERR_PARSE;
	}
	if (!json_is_integer(json_object_get(root, "format")) ||
	    json_integer_value(json_object_get(root, "format")) !=
	    REPO_INDEX_FORMAT) {
		ibad(&c, "format", "must be %d (made by another fwfleet "
		    "version?)", REPO_INDEX_FORMAT);
		goto out;
	}
	if (!json_is_array(arr = json_object_get(root, "components"))) {
		ibad(&c, "components", "must be a list");
		goto out;
	}
	r->comps = xcalloc(json_array_size(arr) + 1, sizeof(*r->comps));
	json_array_foreach(arr, i, e) {
		r->n = i + 1;
		if (parse_index_entry(&c, e, i, &r->comps[i], &id,
		    &version) != 0)
			goto out;
		for (k = 0; k < i; k++) {
			if (strcmp(r->comps[k].dir, r->comps[i].dir) == 0) {
				ibad(&c, r->comps[i].dir, "listed twice");
				goto out;
			}
		}
	}
	rr = 0;
out:
	json_decref(root);
	return rr;
}

/* The manifest must list exactly the files the index lists. */
static int check_files_agree(const struct repo_component *c,
    struct repo_report *rep)
{
	const struct manifest *m = c->m;
	size_t i;

	if (m->n_files != c->n_files) {
		repo_report_error(rep, "%s: component.json lists %zu files, "
		    "index.json %zu", c->dir, m->n_files, c->n_files);
		return -1;
	}
	for (i = 0; i < c->n_files; i++) {
		if (strcmp(m->files[i].name, c->files[i].name) != 0 ||
		    m->files[i].size != c->files[i].size ||
		    strcmp(m->files[i].sha256, c->files[i].sha256) != 0) {
			repo_report_error(rep, "%s/%s: component.json and "
			    "index.json disagree on this file", c->dir,
			    c->files[i].name);
			return -1;
		}
	}
	return 0;
}

/* Loads and checks c's manifest against the index; 0 if it is good. */
static int load_manifest(const struct repo *r, struct repo_component *c,
    struct repo_report *rep)
{
	const char *id = c->dir + strlen(REPO_COMPONENTS) + 1;
	const char *slash = strchr(id, '/');
	char sha[65], idbuf[80], a[16], b[16];
	int missing;

	snprintf(idbuf, sizeof(idbuf), "%.*s", (int)(slash - id), id);
	if ((c->m = read_manifest(r->dir, c->dir, &missing, sha,
	    rep)) == NULL) {
		/* A parse error can be a changed file: say so if it is. */
		if (!missing && sha[0] != '\0' &&
		    strcmp(sha, c->manifest_sha256) != 0)
			repo_report_error(rep, "%s/component.json: sha256 "
			    "mismatch (index %s, file %s)", c->dir,
			    short_hex(c->manifest_sha256, a),
			    short_hex(sha, b));
		return -1;
	}
	if (strcmp(sha, c->manifest_sha256) != 0) {
		repo_report_error(rep, "%s/component.json: sha256 mismatch "
		    "(index %s, file %s)", c->dir,
		    short_hex(c->manifest_sha256, a), short_hex(sha, b));
		return -1;
	}
	if (check_place(c->m, idbuf, slash + 1, c->dir, rep) != 0 ||
	    check_files_agree(c, rep) != 0)
		return -1;
	return 0;
}

static int comp_cmp(const void *a, const void *b)
{
	const struct repo_component *x = a, *y = b;

	return idver_cmp(x->m->id, x->m->version, y->m->id, y->m->version);
}

int repo_load(const char *dir, struct repo **out, struct repo_report *rep,
    char *err, size_t errlen)
{
	struct repo *r = xcalloc(1, sizeof(*r));
	char *path = path_join(dir, REPO_INDEX);
	size_t i, kept = 0;
	int rr;

	*out = NULL;
	r->dir = xstrdup(dir);
	if ((rr = fw_read_file(path, INDEX_MAX, &r->index,
	    &r->index_len)) != 0) {
		snprintf(err, errlen, "%s: %s", path, rr == FW_ERR_SYSTEM ?
		    (errno == ENOENT ? "missing (not a repository, or run "
		    "fwfleet repo index)" : strerror(errno)) : "too large");
		goto out;
	}
	if ((rr = parse_index(r, err, errlen)) != 0)
		goto out;
	r->listed = xcalloc(r->n + 1, sizeof(*r->listed));
	for (i = 0; i < r->n; i++)
		r->listed[r->n_listed++] = xstrdup(r->comps[i].dir);
	for (i = 0; i < r->n; i++) {
		if (load_manifest(r, &r->comps[i], rep) != 0)
			component_clear(&r->comps[i]);
		else
			r->comps[kept++] = r->comps[i];
	}
	r->n = kept;
	if (r->n > 1)
		qsort(r->comps, r->n, sizeof(*r->comps), comp_cmp);
	*out = r;
	r = NULL;
	rr = 0;
out:
	repo_free(r);
	free(path);
	return rr;
}

/* --- signatures --------------------------------------------------------- */

static void key_id(EVP_PKEY *k, char out[80])
{
	unsigned char raw[32];
	size_t len = sizeof(raw);
	char hex[65];

	if (EVP_PKEY_get_raw_public_key(k, raw, &len) != 1) {
		snprintf(out, 80, "ed25519:?");
		return;
	}
	fw_sha256_hex(raw, len, hex);
	snprintf(out, 80, "ed25519:%.16s", hex);
}

static int key_is_ed25519(EVP_PKEY *k)
{
	return EVP_PKEY_get_id(k) == EVP_PKEY_ED25519;
}

/* Loads a PEM public key (SubjectPublicKeyInfo) that must be Ed25519. */
static int load_pubkey(const char *path, EVP_PKEY **out, char *err,
    size_t errlen)
{
	char *text = NULL;
	size_t len;
	BIO *bio = NULL;
	int r = FW_ERR_PARSE;

	*out = NULL;
	if (fw_read_file(path, KEY_MAX, &text, &len) != 0) {
		snprintf(err, errlen, "cannot read the public key %s: %s",
		    path, strerror(errno));
		return errno == ENOENT ? FW_ERR_NOT_FOUND : FW_ERR_SYSTEM;
	}
	if ((bio = BIO_new_mem_buf(text, (int)len)) == NULL)
		fatal("out of memory");
	*out = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (*out == NULL || !key_is_ed25519(*out)) {
		snprintf(err, errlen, "%s: not an Ed25519 public key in PEM",
		    path);
		EVP_PKEY_free(*out);
		*out = NULL;
		goto out;
	}
	r = 0;
out:
	BIO_free(bio);
	free(text);
	return r;
}

/* Loads the operator's private key; refuses one others may read. */
static int load_private_key(const char *path, EVP_PKEY **out, char *err,
    size_t errlen)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	int r = FW_ERR_INVALID;

	*out = NULL;
	if (stat(path, &st) != 0 || fw_read_file(path, KEY_MAX, &text,
	    &len) != 0) {
		snprintf(err, errlen, "cannot read the key %s: %s", path,
		    strerror(errno));
		return FW_ERR_SYSTEM;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s is accessible by group or others "
		    "(mode %03o); chmod 600 it, and keep it off the "
		    "repository", path, (unsigned)(st.st_mode & 0777));
		goto out;
	}
	if ((bio = BIO_new_mem_buf(text, (int)len)) == NULL)
		fatal("out of memory");
	*out = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	if (*out == NULL || !key_is_ed25519(*out)) {
		snprintf(err, errlen, "%s: not an unencrypted Ed25519 private "
		    "key in PEM (fwfleet repo keygen makes one)", path);
		EVP_PKEY_free(*out);
		*out = NULL;
		goto out;
	}
	r = 0;
out:
	BIO_free(bio);
	if (text != NULL)
		OPENSSL_clear_free(text, len);
	return r;
}

int repo_check_signature(const struct repo *r, const char *pubkey_file,
    struct repo_sig *sig, char *err, size_t errlen)
{
	EVP_MD_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	char *keypath = NULL, *sigpath = path_join(r->dir, REPO_SIG);
	char *s = NULL;
	size_t slen = 0;
	int rr;

	memset(sig, 0, sizeof(*sig));
	sig->pinned = pubkey_file != NULL;
	keypath = pubkey_file != NULL ? xstrdup(pubkey_file) :
	    path_join(r->dir, REPO_PUB);
	if ((rr = fw_read_file(sigpath, 1024, &s, &slen)) != 0) {
		rr = errno == ENOENT ? FW_ERR_NOT_FOUND : FW_ERR_SYSTEM;
		snprintf(err, errlen, "%s: %s", REPO_SIG,
		    rr == FW_ERR_NOT_FOUND ? "missing: the index is not "
		    "signed (fwfleet repo sign)" : strerror(errno));
		goto out;
	}
	if (load_pubkey(keypath, &key, err, errlen) != 0) {
		rr = FW_ERR_INVALID;	/* signed, but no key to check */
		goto out;
	}
	key_id(key, sig->key_id);
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		fatal("out of memory");
	rr = FW_ERR_CERT;
	if (slen != SIG_LEN ||
	    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) != 1 ||
	    EVP_DigestVerify(ctx, (unsigned char *)s, slen,
	    (unsigned char *)r->index, r->index_len) != 1) {
		snprintf(err, errlen, "%s: the signature does not verify with "
		    "%s %s (%s): %s or the signature was changed", REPO_SIG,
		    sig->pinned ? "the pinned key" : REPO_PUB, sig->key_id,
		    keypath, REPO_INDEX);
		goto out;
	}
	sig->verified = 1;
	rr = 0;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	free(s);
	free(sigpath);
	free(keypath);
	return rr;
}

/* --- payload checks ----------------------------------------------------- */

static void check_chunks(const struct repo_component *c,
    const struct repo_file *f, const struct hashed *h,
    struct repo_report *rep)
{
	size_t i;

	if (h->n_chunks != f->n_chunks) {
		repo_report_error(rep, "%s: %s/%s: the index lists %zu chunks, "
		    "the file has %zu", REPO_INDEX, c->dir, f->name,
		    f->n_chunks, h->n_chunks);
		return;
	}
	for (i = 0; i < h->n_chunks; i++) {
		if (strcmp(h->chunks[i], f->chunk_sha256[i]) != 0) {
			repo_report_error(rep, "%s: chunk %zu of %s/%s does "
			    "not match the file (run fwfleet repo index)",
			    REPO_INDEX, i, c->dir, f->name);
			return;
		}
	}
}

static void check_payload(const struct repo *r, const struct repo_component *c,
    const struct repo_file *f, struct repo_report *rep, uint64_t *bytes)
{
	char *path = repo_file_path(r, c, f), why[256], a[16], b[16];
	struct hashed h;
	struct stat st;
	int fd;

	memset(&h, 0, sizeof(h));
	if (open_regular(path, &fd, &st, why, sizeof(why)) != 0) {
		repo_report_error(rep, "%s/%s: %s", c->dir, f->name, why);
		goto out;
	}
	if ((uint64_t)st.st_size != f->size) {
		repo_report_error(rep, "%s/%s: size mismatch (index %llu, file "
		    "%llu)", c->dir, f->name, (unsigned long long)f->size,
		    (unsigned long long)st.st_size);
	} else if (hash_stream(fd, f->chunk_size, -1, &h) != 0) {
		repo_report_error(rep, "%s/%s: read error: %s", c->dir, f->name,
		    strerror(errno));
	} else if (h.size != f->size) {
		repo_report_error(rep, "%s/%s: size mismatch (index %llu, file "
		    "%llu)", c->dir, f->name, (unsigned long long)f->size,
		    (unsigned long long)h.size);
	} else if (strcmp(h.sha256, f->sha256) != 0) {
		repo_report_error(rep, "%s/%s: sha256 mismatch (index %s, file "
		    "%s)", c->dir, f->name, short_hex(f->sha256, a),
		    short_hex(h.sha256, b));
	} else {
		check_chunks(c, f, &h, rep);
	}
	*bytes += h.size;
	close(fd);
out:
	hashed_clear(&h);
	free(path);
}

static int is_listed(const struct repo *r, const char *id, const char *ver)
{
	char *dir = xasprintf("%s/%s/%s", REPO_COMPONENTS, id, ver);
	size_t i;
	int found = 0;

	for (i = 0; i < r->n_listed && !found; i++)
		found = strcmp(r->listed[i], dir) == 0;
	free(dir);
	return found;
}

/* Versions of id on disk that the index does not list: warnings. */
static void warn_unindexed_id(const struct repo *r, const char *comps,
    const char *id, struct repo_report *rep)
{
	char *iddir = path_join(comps, id), **vers;
	size_t nv, k;

	if (is_dir(iddir) && list_dir(iddir, &vers, &nv) == 0) {
		for (k = 0; k < nv; k++) {
			if (!is_listed(r, id, vers[k]))
				repo_report_warn(rep, "%s/%s/%s: not in %s; "
				    "not used (fwfleet repo index)",
				    REPO_COMPONENTS, id, vers[k], REPO_INDEX);
		}
		names_free(vers, nv);
	}
	free(iddir);
}

static void warn_unindexed(const struct repo *r, struct repo_report *rep)
{
	char *comps = path_join(r->dir, REPO_COMPONENTS), **ids;
	size_t nid, i;

	if (list_dir(comps, &ids, &nid) == 0) {
		for (i = 0; i < nid; i++)
			warn_unindexed_id(r, comps, ids[i], rep);
		names_free(ids, nid);
	}
	free(comps);
}

int repo_check_payloads(const struct repo *r, struct repo_report *rep,
    size_t *files, uint64_t *bytes)
{
	const struct repo_component *c;
	size_t i, k, before = rep->n_errors;
	char *cdir;

	*files = 0;
	*bytes = 0;
	for (i = 0; i < r->n; i++) {
		c = &r->comps[i];
		for (k = 0; k < c->n_files; k++) {
			check_payload(r, c, &c->files[k], rep, bytes);
			(*files)++;
		}
		cdir = path_join(r->dir, c->dir);
		warn_unlisted(cdir, c->dir, c->m,
		    "component.json; never served", rep);
		free(cdir);
	}
	warn_unindexed(r, rep);
	return rep->n_errors > before ? FW_ERR_PARSE : 0;
}

int repo_verify(const char *dir, const struct repo_verify_opts *o,
    struct repo **out, struct repo_sig *sig, struct repo_report *rep,
    char *err, size_t errlen)
{
	struct repo *r = NULL;
	char msg[1024];
	size_t before = rep->n_errors, files;
	uint64_t bytes;
	int rr;

	*out = NULL;
	memset(sig, 0, sizeof(*sig));
	if ((rr = repo_load(dir, &r, rep, err, errlen)) != 0)
		return rr;
	rr = repo_check_signature(r, o->pubkey, sig, msg, sizeof(msg));
	if (rr == FW_ERR_NOT_FOUND && o->allow_unsigned)
		repo_report_warn(rep, "%s", msg);
	else if (rr != 0)
		repo_report_error(rep, "%s", msg);
	if (o->payloads)
		repo_check_payloads(r, rep, &files, &bytes);
	if (rep->n_errors > before) {
		snprintf(err, errlen, "%s failed verification (%zu problem%s)",
		    dir, rep->n_errors - before,
		    rep->n_errors - before == 1 ? "" : "s");
		repo_free(r);
		return FW_ERR_PARSE;
	}
	*out = r;
	return 0;
}

/* --- keys and signing --------------------------------------------------- */

/* PEM text of k (private or public) in a new buffer. */
static char *key_pem(EVP_PKEY *k, int private, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *copy;
	long n;

	if (bio == NULL || (private ? PEM_write_bio_PrivateKey(bio, k, NULL,
	    NULL, 0, NULL, NULL) : PEM_write_bio_PUBKEY(bio, k)) != 1)
		fatal("cannot encode a key");
	n = BIO_get_mem_data(bio, &data);
	copy = xmalloc((size_t)n + 1);
	memcpy(copy, data, (size_t)n);
	copy[n] = '\0';
	*len = (size_t)n;
	if (private)
		OPENSSL_cleanse(data, (size_t)n);
	BIO_free(bio);
	return copy;
}

int repo_keygen(const char *path, char *err, size_t errlen)
{
	EVP_PKEY *k = NULL;
	char *pub = xasprintf("%s.pub", path), *pem = NULL;
	struct stat st;
	size_t len = 0;
	int r = FW_ERR_EXISTS;

	if (lstat(path, &st) == 0 || lstat(pub, &st) == 0) {
		snprintf(err, errlen, "%s exists already; not overwritten",
		    lstat(path, &st) == 0 ? path : pub);
		goto out;
	}
	if ((k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")) == NULL)
		fatal("cannot generate an Ed25519 key");
	pem = key_pem(k, 1, &len);
	r = FW_ERR_SYSTEM;
	if (fw_write_file(path, pem, len, 0600) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", path,
		    strerror(errno));
		goto out;
	}
	OPENSSL_clear_free(pem, len);
	pem = key_pem(k, 0, &len);
	if (fw_write_file(pub, pem, len, 0644) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", pub,
		    strerror(errno));
		goto out;
	}
	r = 0;
out:
	if (pem != NULL)
		OPENSSL_clear_free(pem, len);
	EVP_PKEY_free(k);
	free(pub);
	return r;
}

/* repo.pub must be key's public half; written if missing. */
static int sign_pubkey(const char *dir, EVP_PKEY *key, char *err,
    size_t errlen)
{
	char *path = path_join(dir, REPO_PUB), *pem = NULL;
	EVP_PKEY *have = NULL;
	size_t len;
	int r;

	r = load_pubkey(path, &have, err, errlen);
	if (r == 0 && EVP_PKEY_eq(have, key) != 1) {
		snprintf(err, errlen, "the key does not match %s, the key this "
		    "repository is signed with; to change keys, remove %s "
		    "first (and re-pin the new key everywhere)", path, path);
		r = FW_ERR_CERT;
	} else if (r == FW_ERR_NOT_FOUND) {
		pem = key_pem(key, 0, &len);
		r = fw_write_file(path, pem, len, 0644);
		if (r != 0)
			snprintf(err, errlen, "cannot write %s: %s", path,
			    strerror(errno));
	}
	EVP_PKEY_free(have);
	free(pem);
	free(path);
	return r;
}

static int sign_bytes(EVP_PKEY *key, const struct repo *r,
    unsigned char sig[SIG_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t len = SIG_LEN;
	int ok;

	if (ctx == NULL)
		fatal("out of memory");
	ok = EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
	    EVP_DigestSign(ctx, sig, &len, (unsigned char *)r->index,
	    r->index_len) == 1 && len == SIG_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : FW_ERR_INTERNAL;
}

int repo_sign(const char *dir, const char *key_file, struct repo_sig *sig,
    struct repo_report *rep, char *err, size_t errlen)
{
	struct repo *r = NULL;
	EVP_PKEY *key = NULL;
	unsigned char s[SIG_LEN];
	char *sigpath = path_join(dir, REPO_SIG);
	size_t before = rep->n_errors, files;
	uint64_t bytes;
	int rr;

	memset(sig, 0, sizeof(*sig));
	if ((rr = load_private_key(key_file, &key, err, errlen)) != 0 ||
	    (rr = repo_load(dir, &r, rep, err, errlen)) != 0)
		goto out;
	repo_check_payloads(r, rep, &files, &bytes);
	if (rep->n_errors > before) {
		snprintf(err, errlen, "%zu problem(s); not signed",
		    rep->n_errors - before);
		rr = FW_ERR_PARSE;
		goto out;
	}
	if ((rr = sign_pubkey(dir, key, err, errlen)) != 0)
		goto out;
	if ((rr = sign_bytes(key, r, s)) != 0) {
		snprintf(err, errlen, "signing failed");
		goto out;
	}
	if ((rr = fw_write_file(sigpath, s, SIG_LEN, 0644)) != 0) {
		snprintf(err, errlen, "cannot write %s: %s", sigpath,
		    strerror(errno));
		goto out;
	}
	key_id(key, sig->key_id);
	sig->verified = 1;
out:
	EVP_PKEY_free(key);
	repo_free(r);
	free(sigpath);
	return rr;
}
