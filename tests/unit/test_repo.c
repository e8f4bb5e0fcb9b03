/*
 * Unit tests for controller/repo.c: init, add, index, list, keygen, sign
 * and verify on a repository built from tests/fixtures/repo in a scratch
 * directory; every kind of tampering is named.
 */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "err.h"
#include "repo.h"
#include "util.h"

#define NFIXTURES	10

static const char *const fixtures[NFIXTURES] = {
	"bios-u30-2.90", "hpe-nvme-mzxl5-HPK2", "hpe-nvme-mzxl5-HPK3",
	"i40e-driver-2.24.6", "i40e-nvm-8.80", "intel-p4610-fw-VDV1DP25",
	"ixgbe-82599-nvm-0x80000835", "lenovo-sr650-uefi-3.30",
	"mlx5-fw-16.35.2000", "samsung-pm983-fw-EDA7502Q",
};

struct ctx {
	char *tmp;		/* scratch directory */
	char *repo;		/* tmp/R: the fixture repository, indexed */
	char *key;		/* tmp/k: its signing key (k.pub beside) */
};

/* --- helpers ------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char *fixture(const char *name)
{
	const char *dir = getenv("FWFLEET_FIXTURES");

	if (dir == NULL)
		fail_msg("FWFLEET_FIXTURES is not set");
	return xasprintf("%s/repo/%s", dir, name);
}

static char *at(const struct ctx *c, const char *rel)
{
	return xasprintf("%s/%s", c->repo, rel);
}

static void write_text(const char *path, const char *text)
{
	assert_int_equal(fw_write_file(path, text, strlen(text), 0644), 0);
}

/* Flips one byte of path at offset. */
static void flip_byte(const char *path, long offset)
{
	FILE *f = fopen(path, "r+b");
	int ch;

	assert_non_null(f);
	assert_int_equal(fseek(f, offset, SEEK_SET), 0);
	ch = fgetc(f);
	assert_int_equal(fseek(f, offset, SEEK_SET), 0);
	fputc(ch ^ 0x5a, f);
	fclose(f);
}

static int report_has(char **v, size_t n, const char *text)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strstr(v[i], text) != NULL)
			return 1;
	}
	return 0;
}

static void dump(const struct repo_report *rep)
{
	size_t i;

	for (i = 0; i < rep->n_errors; i++)
		print_message("error: %s\n", rep->errors[i]);
	for (i = 0; i < rep->n_warnings; i++)
		print_message("warning: %s\n", rep->warnings[i]);
}

static void expect_error(const struct repo_report *rep, const char *text)
{
	if (!report_has(rep->errors, rep->n_errors, text)) {
		dump(rep);
		fail_msg("no error containing \"%s\"", text);
	}
}

static void expect_warning(const struct repo_report *rep, const char *text)
{
	if (!report_has(rep->warnings, rep->n_warnings, text)) {
		dump(rep);
		fail_msg("no warning containing \"%s\"", text);
	}
}

/* repo_verify with a pinned key (or none) and payload checks. */
static int verify(const char *dir, const char *pubkey, int allow_unsigned,
    struct repo_report *rep, struct repo_sig *sig)
{
	struct repo_verify_opts o = { pubkey, allow_unsigned, 1 };
	struct repo *r = NULL;
	char err[1024];
	int rr;

	rr = repo_verify(dir, &o, &r, sig, rep, err, sizeof(err));
	if (rr == 0)
		assert_non_null(r);
	else
		assert_null(r);
	repo_free(r);
	return rr;
}

/* Builds tmp/R from every fixture component, indexed and signed. */
static int setup(void **state)
{
	struct repo_report rep = { 0 };
	struct repo_sig sig;
	struct ctx *c = xcalloc(1, sizeof(*c));
	char tmpl[] = "/tmp/fwf-test-repo.XXXXXX", err[1024], *src, *added;
	size_t i;
	int changed;

	assert_non_null(mkdtemp(tmpl));
	c->tmp = xstrdup(tmpl);
	c->repo = xasprintf("%s/R", c->tmp);
	c->key = xasprintf("%s/k", c->tmp);
	assert_int_equal(repo_init(c->repo, err, sizeof(err)), 0);
	for (i = 0; i < NFIXTURES; i++) {
		src = fixture(fixtures[i]);
		if (repo_add(c->repo, src, 0, &added, &rep, err,
		    sizeof(err)) != 0)
			fail_msg("repo add %s: %s", src, err);
		free(added);
		free(src);
	}
	assert_int_equal(rep.n_warnings, 0);
	assert_int_equal(repo_index(c->repo, 1024, &changed, &rep, err,
	    sizeof(err)), 0);
	assert_true(changed);
	assert_int_equal(repo_keygen(c->key, err, sizeof(err)), 0);
	assert_int_equal(repo_sign(c->repo, c->key, &sig, &rep, err,
	    sizeof(err)), 0);
	assert_int_equal(rep.n_errors, 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	rm_rf(c->tmp);
	free(c->tmp);
	free(c->repo);
	free(c->key);
	free(c);
	return 0;
}

/* A copy of the fixture repository to tamper with: tmp/T. */
static char *copy_repo(const struct ctx *c)
{
	char *dst = xasprintf("%s/T", c->tmp), *cmd;

	rm_rf(dst);
	cmd = xasprintf("cp -a '%s' '%s'", c->repo, dst);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	return dst;
}

/* --- tests -------------------------------------------------------------- */

static void test_init(void **state)
{
	struct ctx *c = *state;
	char *dir = xasprintf("%s/new/deep", c->tmp), *p, err[1024];
	struct stat st;

	assert_int_equal(repo_init(dir, err, sizeof(err)), 0);
	p = xasprintf("%s/components", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	free(p);
	assert_int_equal(repo_init(dir, err, sizeof(err)), FW_ERR_EXISTS);
	assert_non_null(strstr(err, "holds a repository already"));
	free(dir);
	/* A non-empty directory that is no repository is refused. */
	dir = xasprintf("%s/notrepo", c->tmp);
	assert_int_equal(mkdir(dir, 0755), 0);
	p = xasprintf("%s/precious.txt", dir);
	write_text(p, "keep\n");
	assert_int_equal(repo_init(dir, err, sizeof(err)), FW_ERR_EXISTS);
	assert_non_null(strstr(err, "not empty"));
	free(p);
	free(dir);
}

static void test_add_fills_hashes(void **state)
{
	struct ctx *c = *state;
	char *p = at(c, "components/i40e-nvm/8.80/component.json");
	json_t *root = json_load_file(p, 0, NULL), *f;
	struct stat st;

	assert_non_null(root);
	f = json_array_get(json_object_get(root, "files"), 1);
	assert_string_equal(json_string_value(json_object_get(f, "name")),
	    "nvm-8.80.bin");
	assert_int_equal(json_integer_value(json_object_get(f, "size")), 5120);
	assert_int_equal(strlen(json_string_value(json_object_get(f,
	    "sha256"))), 64);
	json_decref(root);
	free(p);
	/* The installer stays executable, the payload does not become so. */
	p = at(c, "components/i40e-nvm/8.80/install.sh");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);
	free(p);
	p = at(c, "components/i40e-nvm/8.80/nvm-8.80.bin");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	free(p);
}

static void test_add_refusals(void **state)
{
	struct ctx *c = *state;
	struct repo_report rep = { 0 };
	char *src = fixture("bios-u30-2.90"), *added, err[1024];
	char *mine = xasprintf("%s/src", c->tmp), *p, *cmd;

	/* Once is enough, unless replacing. */
	assert_int_equal(repo_add(c->repo, src, 0, &added, &rep, err,
	    sizeof(err)), FW_ERR_EXISTS);
	assert_null(added);
	assert_non_null(strstr(err, "components/bios-u30/2.90 exists already"));
	assert_int_equal(repo_add(c->repo, src, 1, &added, &rep, err,
	    sizeof(err)), 0);
	assert_string_equal(added, "components/bios-u30/2.90");
	free(added);
	/* Not a repository. */
	assert_int_equal(repo_add(c->tmp, src, 0, &added, &rep, err,
	    sizeof(err)), FW_ERR_NOT_FOUND);
	assert_non_null(strstr(err, "repo init"));
	/* A manifest whose hash the payload does not match. */
	rm_rf(mine);
	cmd = xasprintf("cp -a '%s' '%s'", src, mine);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	p = xasprintf("%s/component.json", mine);
	write_text(p, "{\"id\": \"x\", \"name\": \"X\", \"version\": \"1.0\","
	    "\"kind\": \"firmware\", \"os\": [\"linux\"], \"arch\": "
	    "[\"any\"], \"applies_to\": \"all\", \"installed_version\": "
	    "{\"field\": \"system.bios_version\"}, \"installer\": "
	    "{\"command\": [\"./install.sh\"]}, \"files\": [{\"name\": "
	    "\"install.sh\"}, {\"name\": \"U30_2.90.fwpkg\", \"size\": 6144, "
	    "\"sha256\": \"00000000000000000000000000000000000000000000000000"
	    "00000000000000\"}]}");
	assert_int_equal(repo_add(c->repo, mine, 0, &added, &rep, err,
	    sizeof(err)), FW_ERR_INVALID);
	assert_non_null(strstr(err, "U30_2.90.fwpkg: does not match "
	    "component.json"));
	/* Nothing of it is left behind. */
	free(p);
	p = at(c, "components/x");
	assert_int_not_equal(access(p, F_OK), 0);
	free(p);
	/* A bad field is named. */
	p = xasprintf("%s/component.json", mine);
	write_text(p, "{\"id\": \"x\", \"name\": \"X\", \"version\": \"1.0\","
	    "\"kind\": \"firmware\", \"os\": [\"linux\"], \"arch\": "
	    "[\"any\"], \"applies_to\": \"all\", \"installed_version\": "
	    "{\"field\": \"system.bios_version\"}, \"installer\": "
	    "{\"command\": [\"./install.sh\"], \"timeout_s\": 0}}");
	assert_int_equal(repo_add(c->repo, mine, 0, &added, &rep, err,
	    sizeof(err)), FW_ERR_PARSE);
	assert_non_null(strstr(err, "/component.json: field "
	    "'installer.timeout_s': must be a positive integer"));
	free(p);
	repo_report_clear(&rep);
	rm_rf(mine);
	free(mine);
	free(src);
}

/* Without "files", every other file is a payload; extras are warned. */
static void test_add_default_files(void **state)
{
	struct ctx *c = *state;
	struct repo_report rep = { 0 };
	char *dir = xasprintf("%s/auto", c->tmp), *p, *added, err[1024];
	char *repo = xasprintf("%s/R2", c->tmp);
	json_t *root;

	assert_int_equal(mkdir(dir, 0755), 0);
	p = xasprintf("%s/component.json", dir);
	write_text(p, "{\"id\": \"tools\", \"name\": \"Tools\", \"version\": "
	    "\"1.0\", \"kind\": \"software\", \"os\": [\"linux\"], \"arch\": "
	    "[\"any\"], \"applies_to\": \"all\", \"installed_version\": "
	    "{\"field\": \"package:tools\"}, \"installer\": {\"command\": "
	    "[\"./setup.sh\"]}, \"return_codes\": \"rpm\"}");
	free(p);
	p = xasprintf("%s/setup.sh", dir);
	write_text(p, "#!/bin/sh\nexit 0\n");
	free(p);
	p = xasprintf("%s/data.bin", dir);
	write_text(p, "");
	free(p);
	assert_int_equal(repo_init(repo, err, sizeof(err)), 0);
	assert_int_equal(repo_add(repo, dir, 0, &added, &rep, err,
	    sizeof(err)), 0);
	free(added);
	p = xasprintf("%s/components/tools/1.0/component.json", repo);
	root = json_load_file(p, 0, NULL);
	assert_int_equal(json_array_size(json_object_get(root, "files")), 2);
	json_decref(root);
	free(p);
	assert_int_equal(rep.n_warnings, 0);
	repo_report_clear(&rep);
	rm_rf(dir);
	rm_rf(repo);
	free(dir);
	free(repo);
}

static void test_index_contents(void **state)
{
	struct ctx *c = *state;
	char *p = at(c, REPO_INDEX);
	json_t *root = json_load_file(p, 0, NULL), *arr, *e, *f;
	size_t i;

	assert_non_null(root);
	assert_int_equal(json_integer_value(json_object_get(root, "format")),
	    1);
	arr = json_object_get(root, "components");
	assert_int_equal(json_array_size(arr), NFIXTURES);
	/* Sorted by id, then version: HPK2 before HPK3. */
	e = json_array_get(arr, 1);
	assert_string_equal(json_string_value(json_object_get(e, "id")),
	    "hpe-nvme-mzxl5");
	assert_string_equal(json_string_value(json_object_get(e, "version")),
	    "HPK2");
	for (i = 0; i < json_array_size(arr); i++) {
		e = json_array_get(arr, i);
		assert_int_equal(strlen(json_string_value(json_object_get(e,
		    "manifest_sha256"))), 64);
	}
	/* 5120 bytes in chunks of 1024: five chunk hashes. */
	e = json_array_get(arr, 4);
	assert_string_equal(json_string_value(json_object_get(e, "id")),
	    "i40e-nvm");
	f = json_array_get(json_object_get(e, "files"), 1);
	assert_int_equal(json_integer_value(json_object_get(f, "chunk_size")),
	    1024);
	assert_int_equal(json_array_size(json_object_get(f, "chunk_sha256")),
	    5);
	json_decref(root);
	free(p);
}

static void test_index_is_stable(void **state)
{
	struct ctx *c = *state;
	struct repo_report rep = { 0 };
	char *sig = at(c, REPO_SIG), *t, *tsig, err[1024];
	int changed = 1;

	/* Nothing changed: the index and its signature stay. */
	assert_int_equal(repo_index(c->repo, 1024, &changed, &rep, err,
	    sizeof(err)), 0);
	assert_false(changed);
	assert_int_equal(access(sig, F_OK), 0);
	/* Another chunk size changes the index: the old signature goes. */
	t = copy_repo(c);
	tsig = xasprintf("%s/%s", t, REPO_SIG);
	assert_int_equal(repo_index(t, 0, &changed, &rep, err, sizeof(err)),
	    0);
	assert_true(changed);
	assert_int_not_equal(access(tsig, F_OK), 0);
	assert_int_equal(repo_index(t, 1 << 30, &changed, &rep, err,
	    sizeof(err)), FW_ERR_INVALID);
	assert_non_null(strstr(err, "chunk size"));
	assert_int_equal(rep.n_errors, 0);
	repo_report_clear(&rep);
	rm_rf(t);
	free(t);
	free(tsig);
	free(sig);
}

static void test_load_and_list(void **state)
{
	struct ctx *c = *state;
	struct repo_report rep = { 0 };
	const struct repo_component *rc;
	struct repo *r = NULL;
	char err[1024], *p, *want;

	assert_int_equal(repo_load(c->repo, &r, &rep, err, sizeof(err)), 0);
	assert_int_equal(rep.n_errors, 0);
	assert_int_equal(repo_count(r), NFIXTURES);
	assert_string_equal(repo_dir(r), c->repo);
	rc = repo_get(r, 2);
	assert_string_equal(rc->m->id, "hpe-nvme-mzxl5");
	assert_string_equal(rc->m->version, "HPK3");
	assert_string_equal(rc->dir, "components/hpe-nvme-mzxl5/HPK3");
	assert_null(repo_get(r, NFIXTURES));
	rc = repo_find(r, "ixgbe-82599-nvm", "0x80000835");
	assert_non_null(rc);
	assert_int_equal(rc->n_files, 2);
	assert_int_equal(rc->files[1].size, 4096);
	assert_int_equal(rc->files[1].n_chunks, 4);
	p = repo_file_path(r, rc, &rc->files[1]);
	want = xasprintf("%s/components/ixgbe-82599-nvm/0x80000835/nvm.bin",
	    c->repo);
	assert_string_equal(p, want);
	free(p);
	free(want);
	assert_null(repo_find(r, "ixgbe-82599-nvm", "1.0"));
	repo_free(r);
	repo_free(NULL);
}

static void test_verify_ok(void **state)
{
	struct ctx *c = *state;
	struct repo_report rep = { 0 };
	struct repo_sig sig;
	char *pub = xasprintf("%s.pub", c->key);

	assert_int_equal(verify(c->repo, pub, 0, &rep, &sig), 0);
	assert_true(sig.verified);
	assert_true(sig.pinned);
	assert_int_equal(strncmp(sig.key_id, "ed25519:", 8), 0);
	assert_int_equal(rep.n_errors, 0);
	assert_int_equal(rep.n_warnings, 0);
	assert_int_equal(verify(c->repo, NULL, 0, &rep, &sig), 0);
	assert_true(sig.verified);
	assert_false(sig.pinned);
	repo_report_clear(&rep);
	free(pub);
}

static void test_keys(void **state)
{
	struct ctx *c = *state;
	struct stat st;
	char *pub = xasprintf("%s.pub", c->key), err[1024];

	assert_int_equal(stat(c->key, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(pub, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(repo_keygen(c->key, err, sizeof(err)), FW_ERR_EXISTS);
	assert_non_null(strstr(err, "exists already"));
	free(pub);
}

static void test_tampered_payloads(void **state)
{
	struct ctx *c = *state;
	struct repo_report rep = { 0 };
	struct repo_sig sig;
	char *t = copy_repo(c), *p, *pub = xasprintf("%s.pub", c->key);
	FILE *f;

	p = xasprintf("%s/components/i40e-nvm/8.80/nvm-8.80.bin", t);
	flip_byte(p, 3000);
	free(p);
	p = xasprintf("%s/components/mlx5-fw/16.35.2000/fw-16.35.2000.bin", t);
	f = fopen(p, "ab");
	fputc('x', f);
	fclose(f);
	free(p);
	p = xasprintf("%s/components/bios-u30/2.90/install.sh", t);
	assert_int_equal(unlink(p), 0);
	free(p);
	p = xasprintf("%s/components/ixgbe-82599-nvm/0x80000835/extra.txt", t);
	write_text(p, "stray\n");
	free(p);
	assert_int_equal(verify(t, pub, 0, &rep, &sig), FW_ERR_PARSE);
	assert_true(sig.verified);	/* the index itself is fine */
	assert_int_equal(rep.n_errors, 3);
	expect_error(&rep, "components/i40e-nvm/8.80/nvm-8.80.bin: sha256 "
	    "mismatch (index 81fad2affe7d\u2026, file ");
	expect_error(&rep, "components/mlx5-fw/16.35.2000/fw-16.35.2000.bin: "
	    "size mismatch (index 4096, file 4097)");
	expect_error(&rep, "components/bios-u30/2.90/install.sh: missing");
	expect_warning(&rep, "components/ixgbe-82599-nvm/0x80000835/extra.txt: "
	    "not listed");
	repo_report_clear(&rep);
	rm_rf(t);
	free(t);
	free(pub);
}

static void test_tampered_manifest(void **state)
{
	struct ctx *c = *state;
	struct repo_report rep = { 0 };
	struct repo_sig sig;
	char *t = copy_repo(c), *p, *pub = xasprintf("%s.pub", c->key);
	FILE *f;

	p = xasprintf("%s/components/hpe-nvme-mzxl5/HPK2/component.json", t);
	f = fopen(p, "ab");
	fputs(" ", f);
	fclose(f);
	free(p);
	assert_int_equal(verify(t, pub, 0, &rep, &sig), FW_ERR_PARSE);
	assert_int_equal(rep.n_errors, 1);
	expect_error(&rep, "components/hpe-nvme-mzxl5/HPK2/component.json: "
	    "sha256 mismatch (index ");
	repo_report_clear(&rep);
	/* A manifest that no longer parses is named as changed, too. */
	p = xasprintf("%s/components/hpe-nvme-mzxl5/HPK2/component.json", t);
	write_text(p, "{");
	free(p);
	assert_int_equal(verify(t, pub, 0, &rep, &sig), FW_ERR_PARSE);
	expect_error(&rep, "components/hpe-nvme-mzxl5/HPK2/component.json:1:");
	expect_error(&rep, "components/hpe-nvme-mzxl5/HPK2/component.json: "
	    "sha256 mismatch");
	repo_report_clear(&rep);
	rm_rf(t);
	free(t);
	free(pub);
}

static void test_tampered_index(void **state)
{
	struct ctx *c = *state;
	struct repo_report rep = { 0 };
	struct repo_sig sig;
	char *t = copy_repo(c), *p, *pub = xasprintf("%s.pub", c->key);
	char *text, *s, err[1024];
	size_t len;

	p = xasprintf("%s/%s", t, REPO_INDEX);
	assert_int_equal(fw_read_file(p, 1 << 24, &text, &len), 0);
	s = strstr(text, "\"sha256\": \"81fad2");
	assert_non_null(s);
	s[11] = '9';			/* 81fad2... -> 91fad2... */
	write_text(p, text);
	free(text);
	assert_int_equal(verify(t, pub, 0, &rep, &sig), FW_ERR_PARSE);
	assert_false(sig.verified);
	expect_error(&rep, "index.json.sig: the signature does not verify "
	    "with the pinned key ed25519:");
	expect_error(&rep, "components/i40e-nvm/8.80/nvm-8.80.bin: "
	    "component.json and index.json disagree");
	assert_int_equal(rep.n_errors, 2);
	repo_report_clear(&rep);
	/* Unsigned: an error, or a warning if allowed. */
	assert_int_equal(repo_sign(t, c->key, &sig, &rep, err, sizeof(err)),
	    FW_ERR_PARSE);		/* sign refuses a bad repository */
	assert_non_null(strstr(err, "not signed"));
	repo_report_clear(&rep);
	free(p);
	p = xasprintf("%s/%s", t, REPO_SIG);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(verify(t, pub, 0, &rep, &sig), FW_ERR_PARSE);
	expect_error(&rep, "index.json.sig: missing: the index is not signed");
	repo_report_clear(&rep);
	free(p);
	rm_rf(t);
	free(t);
	free(pub);
}

static void test_unsigned_allowed(void **state)
{
	struct ctx *c = *state;
	struct repo_report rep = { 0 };
	struct repo_sig sig;
	char *t = copy_repo(c), *p = xasprintf("%s/%s", t, REPO_PUB);

	/* Signed, but no key to check with: never waved through. */
	assert_int_equal(unlink(p), 0);
	assert_int_equal(verify(t, NULL, 1, &rep, &sig), FW_ERR_PARSE);
	expect_error(&rep, "cannot read the public key");
	repo_report_clear(&rep);
	free(p);
	p = xasprintf("%s/%s", t, REPO_SIG);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(verify(t, NULL, 1, &rep, &sig), 0);
	assert_false(sig.verified);
	expect_warning(&rep, "not signed");
	repo_report_clear(&rep);
	free(p);
	rm_rf(t);
	free(t);
}

static void test_wrong_keys(void **state)
{
	struct ctx *c = *state;
	struct repo_report rep = { 0 };
	struct repo_sig sig;
	char *other = xasprintf("%s/other", c->tmp), *pub, err[1024];

	assert_int_equal(repo_keygen(other, err, sizeof(err)), 0);
	pub = xasprintf("%s.pub", other);
	assert_int_equal(verify(c->repo, pub, 0, &rep, &sig), FW_ERR_PARSE);
	expect_error(&rep, "does not verify with the pinned key");
	repo_report_clear(&rep);
	/* Another key cannot sign over repo.pub. */
	assert_int_equal(repo_sign(c->repo, other, &sig, &rep, err,
	    sizeof(err)), FW_ERR_CERT);
	assert_non_null(strstr(err, "does not match"));
	/* A key others can read is refused before anything is read. */
	assert_int_equal(chmod(other, 0640), 0);
	assert_int_equal(repo_sign(c->repo, other, &sig, &rep, err,
	    sizeof(err)), FW_ERR_INVALID);
	assert_non_null(strstr(err, "chmod 600"));
	/* A pinned key file that is missing, or not a key. */
	assert_int_equal(verify(c->repo, "/nonexistent/k.pub", 0, &rep, &sig),
	    FW_ERR_PARSE);
	expect_error(&rep, "cannot read the public key /nonexistent/k.pub");
	repo_report_clear(&rep);
	assert_int_equal(verify(c->repo, c->key, 0, &rep, &sig),
	    FW_ERR_PARSE);
	expect_error(&rep, "not an Ed25519 public key");
	repo_report_clear(&rep);
	unlink(pub);
	unlink(other);
	free(pub);
	free(other);
}

/* repo index refuses payloads that differ from their manifests. */
static void test_index_refusals(void **state)
{
	struct ctx *c = *state;
	struct repo_report rep = { 0 };
	char *t = copy_repo(c), *p, *cmd, *idx, *before, *after, err[1024];
	size_t l1, l2;
	int changed;

	idx = xasprintf("%s/%s", t, REPO_INDEX);
	assert_int_equal(fw_read_file(idx, 1 << 24, &before, &l1), 0);
	p = xasprintf("%s/components/i40e-nvm/8.80/nvm-8.80.bin", t);
	flip_byte(p, 10);
	free(p);
	/* A version directory whose manifest says another version. */
	cmd = xasprintf("cp -a '%s/components/bios-u30/2.90' "
	    "'%s/components/bios-u30/2.91'", t, t);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	/* The same version twice. */
	cmd = xasprintf("cp -a '%s/components/mlx5-fw/16.35.2000' "
	    "'%s/components/mlx5-fw/16.35.2000.0'", t, t);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	assert_int_equal(repo_index(t, 0, &changed, &rep, err, sizeof(err)),
	    FW_ERR_PARSE);
	assert_non_null(strstr(err, "not written"));
	expect_error(&rep, "components/i40e-nvm/8.80/nvm-8.80.bin: sha256 "
	    "mismatch (component.json 81fad2affe7d\u2026, file ");
	expect_error(&rep, "components/bios-u30/2.91/component.json: field "
	    "'version': 2.90 does not match the directory (2.91)");
	expect_error(&rep, "components/mlx5-fw/16.35.2000.0/component.json: "
	    "field 'version'");
	assert_int_equal(fw_read_file(idx, 1 << 24, &after, &l2), 0);
	assert_int_equal(l1, l2);
	assert_memory_equal(before, after, l1);	/* nothing written */
	repo_report_clear(&rep);
	free(before);
	free(after);
	free(idx);
	rm_rf(t);
	free(t);
}

static void test_bad_index(void **state)
{
	static const char *const bad[][2] = {
		{ "{", "index.json:1:" },
		{ "{\"format\": 2, \"components\": []}", "format: must be 1" },
		{ "{\"format\": 1}", "components: must be a list" },
		{ "{\"format\": 1, \"components\": [{\"id\": \"../x\", "
		    "\"version\": \"1\"}]}", "needs a valid id and version" },
		{ "{\"format\": 1, \"components\": [{\"id\": \"x\", "
		    "\"version\": \"..\"}]}", "needs a valid id and version" },
		{ "{\"format\": 1, \"components\": [{\"id\": \"x\", "
		    "\"version\": \"1\", \"manifest_sha256\": \"zz\"}]}",
		    "manifest_sha256 must be" },
		{ "{\"format\": 1, \"components\": [{\"id\": \"x\", "
		    "\"version\": \"1\", \"manifest_sha256\": "
		    "\"0000000000000000000000000000000000000000000000000000000000"
		    "000000\", \"files\": [{\"name\": \"../../etc/passwd\"}]}]}",
		    "name must be a plain file name" },
		{ "{\"format\": 1, \"components\": [{\"id\": \"x\", "
		    "\"version\": \"1\", \"manifest_sha256\": "
		    "\"0000000000000000000000000000000000000000000000000000000000"
		    "000000\", \"files\": [{\"name\": \"a\", \"size\": 2048, "
		    "\"sha256\": \"00000000000000000000000000000000000000000000000"
		    "00000000000000000\", \"chunk_size\": 1024, \"chunk_sha256\": "
		    "[]}]}]}", "chunk_sha256 must list 2 hashes" },
	};
	struct ctx *c = *state;
	struct repo_report rep = { 0 };
	struct repo *r = NULL;
	char *t = xasprintf("%s/B", c->tmp), *p, err[1024];
	size_t i;

	assert_int_equal(repo_init(t, err, sizeof(err)), 0);
	p = xasprintf("%s/%s", t, REPO_INDEX);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_text(p, bad[i][0]);
		assert_int_equal(repo_load(t, &r, &rep, err, sizeof(err)),
		    FW_ERR_PARSE);
		assert_null(r);
		if (strstr(err, bad[i][1]) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err,
			    bad[i][1]);
	}
	assert_int_equal(unlink(p), 0);
	assert_int_equal(repo_load(t, &r, &rep, err, sizeof(err)),
	    FW_ERR_SYSTEM);
	assert_non_null(strstr(err, "missing"));
	free(p);
	rm_rf(t);
	free(t);
}

/* An unsigned index whose chunk list was edited: named precisely. */
static void test_chunk_mismatch(void **state)
{
	struct ctx *c = *state;
	struct repo_report rep = { 0 };
	struct repo_sig sig;
	char *t = copy_repo(c), *p, *s;
	json_t *root, *f, *chunks;

	p = xasprintf("%s/%s", t, REPO_INDEX);
	root = json_load_file(p, 0, NULL);
	f = json_array_get(json_object_get(json_array_get(json_object_get(root,
	    "components"), 6), "files"), 1);
	chunks = json_object_get(f, "chunk_sha256");
	json_array_set(chunks, 2, json_array_get(chunks, 0));
	s = json_dumps(root, JSON_INDENT(2));
	write_text(p, s);
	free(s);
	json_decref(root);
	assert_int_equal(verify(t, NULL, 1, &rep, &sig), FW_ERR_PARSE);
	expect_error(&rep, "index.json: chunk 2 of "
	    "components/ixgbe-82599-nvm/0x80000835/nvm.bin does not match");
	repo_report_clear(&rep);
	free(p);
	rm_rf(t);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_add_fills_hashes),
		cmocka_unit_test(test_add_refusals),
		cmocka_unit_test(test_add_default_files),
		cmocka_unit_test(test_index_contents),
		cmocka_unit_test(test_index_is_stable),
		cmocka_unit_test(test_load_and_list),
		cmocka_unit_test(test_verify_ok),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_tampered_payloads),
		cmocka_unit_test(test_tampered_manifest),
		cmocka_unit_test(test_tampered_index),
		cmocka_unit_test(test_unsigned_allowed),
		cmocka_unit_test(test_wrong_keys),
		cmocka_unit_test(test_index_refusals),
		cmocka_unit_test(test_bad_index),
		cmocka_unit_test(test_chunk_mismatch),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
