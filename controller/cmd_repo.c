/*
 * fwfleet repo init|add|index|list|verify|sign|keygen: build, sign and
 * check a component repository (controller/repo.h, docs/repository.md).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "command.h"
#include "err.h"
#include "repo.h"
#include "util.h"

static void fmt_size(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = -1;

	if (n < 1024) {
		snprintf(buf, len, "%llu B", (unsigned long long)n);
		return;
	}
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, units[u]);
}

/*
 * Parses the options of a repo command: the long options in opts (with
 * "h" excluded: main handles --help), then exactly nargs positional
 * arguments into args. Returns 0 or -1 (message printed).
 */
static int parse(const char *cmd, int argc, char **argv,
    const struct option *opts, int (*take)(int ch, const char *arg, void *ctx),
    void *ctx, int nargs, const char **args)
{
	int ch, i;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == '?' || take == NULL || take(ch, optarg, ctx) != 0) {
			fprintf(stderr, "fwfleet %s: see --help\n", cmd);
			return -1;
		}
	}
	if (argc - optind != nargs) {
		fprintf(stderr, "fwfleet %s: expected %d argument%s; see "
		    "--help\n", cmd, nargs, nargs == 1 ? "" : "s");
		return -1;
	}
	for (i = 0; i < nargs; i++)
		args[i] = argv[optind + i];
	return 0;
}

static const struct option no_opts[] = { { NULL, 0, NULL, 0 } };

/* --- repo init ---------------------------------------------------------- */

static int init_exec(const struct global_opts *g, int argc, char **argv)
{
	const char *dir;
	char err[1024];
	int r;

	if (parse("repo init", argc, argv, no_opts, NULL, NULL, 1, &dir) != 0)
		return EXIT_FW_BAD_PARAM;
	r = repo_init(dir, err, sizeof(err));
	if (r == FW_ERR_EXISTS && strstr(err, "holds a repository") != NULL) {
		printf("%s\n", err);
		return EXIT_FW_OK;
	}
	if (r != 0) {
		fprintf(stderr, "fwfleet repo init: %s\n", err);
		return r == FW_ERR_EXISTS ? EXIT_FW_BAD_PARAM : EXIT_FW_FAILURE;
	}
	printf("created an empty repository in %s\n", dir);
	return EXIT_FW_OK;
}

const struct command cmd_repo_init = {
	.name = "repo init",
	.summary = "create an empty component repository",
	.usage = "usage: fwfleet repo init DIR\n\n"
	    "Creates DIR (and its parents) with components/ and an empty\n"
	    "index.json. A directory that holds a repository already is left\n"
	    "as it is; a non-empty directory that does not is refused.\n"
	    "See docs/repository.md for the layout and the manifest format.\n",
	.exec = init_exec,
};

/* --- repo add ----------------------------------------------------------- */

static int add_take(int ch, const char *arg, void *ctx)
{
	*(int *)ctx = 1;
	return ch == 'r' ? 0 : -1;
}

static int add_exec(const struct global_opts *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "replace", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct repo_report rep = { 0 };
	const char *args[2];
	char err[1024], *added = NULL;
	int replace = 0, r;

	if (parse("repo add", argc, argv, opts, add_take, &replace, 2,
	    args) != 0)
		return EXIT_FW_BAD_PARAM;
	r = repo_add(args[0], args[1], replace, &added, &rep, err, sizeof(err));
	repo_report_print(stderr, "repo add", &rep);
	repo_report_clear(&rep);
	if (r != 0) {
		fprintf(stderr, "fwfleet repo add: %s\n", err);
		return r == FW_ERR_SYSTEM ? EXIT_FW_FAILURE : EXIT_FW_BAD_PARAM;
	}
	printf("added %s; now run: fwfleet repo index %s\n", added, args[0]);
	free(added);
	return EXIT_FW_OK;
}

const struct command cmd_repo_add = {
	.name = "repo add",
	.summary = "copy a component into a repository",
	.usage = "usage: fwfleet repo add DIR SRCDIR [--replace]\n\n"
	    "Copies the component in SRCDIR (component.json and the payload\n"
	    "files it lists; without \"files\", every other file in SRCDIR)\n"
	    "into DIR/components/<id>/<version>/, and writes each file's size\n"
	    "and sha256 into the copied component.json. Sizes and hashes that\n"
	    "SRCDIR's component.json gives must match the files. The manifest\n"
	    "is checked; each problem names the field.\n"
	    "Then run `fwfleet repo index DIR` and `fwfleet repo sign`.\n"
	    "\n"
	    "  --replace   replace a version the repository holds already\n"
	    "\n"
	    "exit status: 0 added, 254 bad component or arguments, 255 I/O\n",
	.exec = add_exec,
};

/* --- repo index --------------------------------------------------------- */

static int index_take(int ch, const char *arg, void *ctx)
{
	long v;

	if (ch != 'c' || fw_parse_long(arg, REPO_CHUNK_MIN, REPO_CHUNK_MAX,
	    &v) != 0) {
		fprintf(stderr, "fwfleet repo index: --chunk-size must be %u "
		    "to %u bytes\n", REPO_CHUNK_MIN, REPO_CHUNK_MAX);
		return -1;
	}
	*(uint32_t *)ctx = (uint32_t)v;
	return 0;
}

static int index_exec(const struct global_opts *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "chunk-size", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct repo_report rep = { 0 };
	const char *dir;
	char err[1024];
	uint32_t chunk = REPO_CHUNK_DEFAULT;
	int changed = 0, r;

	if (parse("repo index", argc, argv, opts, index_take, &chunk, 1,
	    &dir) != 0)
		return EXIT_FW_BAD_PARAM;
	r = repo_index(dir, chunk, &changed, &rep, err, sizeof(err));
	repo_report_print(stderr, "repo index", &rep);
	repo_report_clear(&rep);
	if (r != 0) {
		fprintf(stderr, "fwfleet repo index: %s\n", err);
		return EXIT_FW_BAD_PARAM;
	}
	if (changed)
		printf("wrote %s/%s; sign it: fwfleet repo sign %s --key "
		    "KEY\n", dir, REPO_INDEX, dir);
	else
		printf("%s/%s is up to date\n", dir, REPO_INDEX);
	return EXIT_FW_OK;
}

const struct command cmd_repo_index = {
	.name = "repo index",
	.summary = "build a repository's index.json",
	.usage = "usage: fwfleet repo index DIR [--chunk-size BYTES]\n\n"
	    "Checks every components/<id>/<version>/ (its manifest, and each\n"
	    "payload against the size and sha256 the manifest gives) and\n"
	    "writes DIR/index.json: each component's id, version, manifest\n"
	    "sha256, and each payload's size, sha256, chunk size and\n"
	    "per-chunk sha256. Any problem: nothing is written. A changed\n"
	    "index drops the old index.json.sig: sign again.\n"
	    "\n"
	    "  --chunk-size BYTES  download chunk size (default 1048576)\n",
	.exec = index_exec,
};

/* --- repo list ---------------------------------------------------------- */

static uint64_t component_bytes(const struct repo_component *c)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; i < c->n_files; i++)
		n += c->files[i].size;
	return n;
}

static void list_text(const struct repo *r)
{
	const struct repo_component *c;
	char size[32];
	size_t i;

	printf("%-24s %-16s %-9s %5s %10s  %s\n", "ID", "VERSION", "KIND",
	    "FILES", "SIZE", "NAME");
	for (i = 0; i < repo_count(r); i++) {
		c = repo_get(r, i);
		fmt_size(component_bytes(c), size, sizeof(size));
		printf("%-24s %-16s %-9s %5zu %10s  %s\n", c->m->id,
		    c->m->version, manifest_kind_name(c->m->kind), c->n_files,
		    size, c->m->name);
	}
}

static void list_json(const struct repo *r)
{
	const struct repo_component *c;
	json_t *arr = json_array(), *doc;
	char *s;
	size_t i;

	for (i = 0; i < repo_count(r); i++) {
		c = repo_get(r, i);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, "
		    "s:I, s:I}", "id", c->m->id, "version", c->m->version,
		    "kind", manifest_kind_name(c->m->kind), "name", c->m->name,
		    "files", (json_int_t)c->n_files,
		    "size", (json_int_t)component_bytes(c)));
	}
	doc = json_pack("{s:o}", "components", arr);
	if (doc == NULL || (s = json_dumps(doc, JSON_INDENT(2))) == NULL)
		return;
	printf("%s\n", s);
	free(s);
	json_decref(doc);
}

static int list_take(int ch, const char *arg, void *ctx)
{
	*(int *)ctx = 1;
	return ch == 'j' ? 0 : -1;
}

static int list_exec(const struct global_opts *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct repo_report rep = { 0 };
	struct repo *r = NULL;
	const char *dir;
	char err[1024];
	int json = 0, rc = EXIT_FW_BAD_PARAM;

	if (parse("repo list", argc, argv, opts, list_take, &json, 1,
	    &dir) != 0)
		return EXIT_FW_BAD_PARAM;
	if (repo_load(dir, &r, &rep, err, sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet repo list: %s\n", err);
		goto out;
	}
	if (json)
		list_json(r);
	else
		list_text(r);
	rc = rep.n_errors > 0 ? EXIT_FW_BAD_PARAM : EXIT_FW_OK;
out:
	repo_report_print(stderr, "repo list", &rep);
	repo_report_clear(&rep);
	repo_free(r);
	return rc;
}

const struct command cmd_repo_list = {
	.name = "repo list",
	.summary = "list a repository's components",
	.usage = "usage: fwfleet repo list DIR [--json]\n\n"
	    "Lists the components in DIR/index.json: id, version, kind,\n"
	    "number of files, total size and name, sorted by id and version.\n"
	    "Checks each manifest against the index (not the payloads or the\n"
	    "signature: see repo verify).\n",
	.exec = list_exec,
};

/* --- repo verify -------------------------------------------------------- */

struct verify_args {
	const char *pubkey;
	int allow_unsigned;
};

static int verify_take(int ch, const char *arg, void *ctx)
{
	struct verify_args *v = ctx;

	if (ch == 'p')
		v->pubkey = arg;
	else if (ch == 'u')
		v->allow_unsigned = 1;
	else
		return -1;
	return 0;
}

static void trust_warning(const char *cmd, const char *dir,
    const struct repo_sig *sig)
{
	if (!sig->verified || sig->pinned)
		return;
	fprintf(stderr, "fwfleet %s: WARNING: no --pubkey: the signature was "
	    "checked with %s/%s (%s), which sits in the repository itself.\n"
	    "  That proves the index matches that key, not who made it: "
	    "whoever can change the\n  repository can replace the key too. "
	    "Pin the key: --pubkey FILE.\n", cmd, dir, REPO_PUB, sig->key_id);
}

static int verify_exec(const struct global_opts *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pubkey", required_argument, NULL, 'p' },
		{ "allow-unsigned", no_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	struct verify_args va = { NULL, 0 };
	struct repo_verify_opts o = { NULL, 0, 1 };
	struct repo_report rep = { 0 };
	struct repo_sig sig;
	struct repo *r = NULL;
	const struct repo_component *c;
	const char *dir;
	char err[1024], size[32];
	uint64_t bytes = 0;
	size_t i, files = 0;

	if (parse("repo verify", argc, argv, opts, verify_take, &va, 1,
	    &dir) != 0)
		return EXIT_FW_BAD_PARAM;
	o.pubkey = va.pubkey;
	o.allow_unsigned = va.allow_unsigned;
	if (repo_verify(dir, &o, &r, &sig, &rep, err, sizeof(err)) != 0) {
		repo_report_print(stderr, "repo verify", &rep);
		fprintf(stderr, "fwfleet repo verify: %s\n", err);
		repo_report_clear(&rep);
		return EXIT_FW_BAD_PARAM;
	}
	repo_report_print(stderr, "repo verify", &rep);
	trust_warning("repo verify", dir, &sig);
	for (i = 0; i < repo_count(r); i++) {
		c = repo_get(r, i);
		files += c->n_files;
		bytes += component_bytes(c);
	}
	fmt_size(bytes, size, sizeof(size));
	printf("%s: ok: %zu components, %zu files, %s; %s\n", dir,
	    repo_count(r), files, size, sig.verified ? (sig.pinned ?
	    "signed with the pinned key" : "signed with repo.pub") :
	    "NOT SIGNED");
	if (sig.verified)
		printf("key %s\n", sig.key_id);
	repo_report_clear(&rep);
	repo_free(r);
	return EXIT_FW_OK;
}

const struct command cmd_repo_verify = {
	.name = "repo verify",
	.summary = "check a repository's signature, manifests and payloads",
	.usage = "usage: fwfleet repo verify DIR [--pubkey FILE] "
	    "[--allow-unsigned]\n\n"
	    "Checks index.json.sig against index.json, each manifest's\n"
	    "sha256, and each payload's size, sha256 and chunk hashes (read\n"
	    "in pieces, never whole), and names every file that differs:\n"
	    "  components/x/1.2/fw.bin: sha256 mismatch (index 3f2a…, file "
	    "9c1e…)\n"
	    "\n"
	    "  --pubkey FILE     the key to trust (PEM). Without it the\n"
	    "                    repository's own repo.pub is used, with a\n"
	    "                    warning: pin the key you expect.\n"
	    "  --allow-unsigned  an unsigned index is a warning, not an error\n"
	    "\n"
	    "exit status: 0 verified, 254 a problem (each one printed)\n",
	.exec = verify_exec,
};

/* --- repo sign ---------------------------------------------------------- */

static int sign_take(int ch, const char *arg, void *ctx)
{
	if (ch != 'k')
		return -1;
	*(const char **)ctx = arg;
	return 0;
}

static int sign_exec(const struct global_opts *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	struct repo_report rep = { 0 };
	struct repo_sig sig;
	const char *dir, *key = NULL;
	char err[1024];
	int r;

	if (parse("repo sign", argc, argv, opts, sign_take, &key, 1,
	    &dir) != 0)
		return EXIT_FW_BAD_PARAM;
	if (key == NULL) {
		fprintf(stderr, "fwfleet repo sign: --key FILE is required\n");
		return EXIT_FW_BAD_PARAM;
	}
	r = repo_sign(dir, key, &sig, &rep, err, sizeof(err));
	repo_report_print(stderr, "repo sign", &rep);
	repo_report_clear(&rep);
	if (r != 0) {
		fprintf(stderr, "fwfleet repo sign: %s\n", err);
		return EXIT_FW_BAD_PARAM;
	}
	printf("signed %s/%s with %s\n", dir, REPO_INDEX, sig.key_id);
	return EXIT_FW_OK;
}

const struct command cmd_repo_sign = {
	.name = "repo sign",
	.summary = "sign a repository's index with an Ed25519 key",
	.usage = "usage: fwfleet repo sign DIR --key FILE\n\n"
	    "Verifies the repository (manifests and payloads against\n"
	    "index.json), then writes DIR/index.json.sig, an Ed25519\n"
	    "signature over index.json. FILE is the private key (PEM, mode\n"
	    "0600; keep it off the repository). DIR/repo.pub gets the public\n"
	    "key if it has none; a repo.pub of another key is refused.\n"
	    "Check by hand: openssl pkeyutl -verify -pubin -inkey repo.pub\n"
	    "  -rawin -in index.json -sigfile index.json.sig\n",
	.exec = sign_exec,
};

/* --- repo keygen -------------------------------------------------------- */

static int keygen_exec(const struct global_opts *g, int argc, char **argv)
{
	const char *path;
	char err[1024];

	if (parse("repo keygen", argc, argv, no_opts, NULL, NULL, 1,
	    &path) != 0)
		return EXIT_FW_BAD_PARAM;
	if (repo_keygen(path, err, sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet repo keygen: %s\n", err);
		return EXIT_FW_BAD_PARAM;
	}
	printf("wrote %s (private key, 0600: keep it safe and off the "
	    "repository) and %s.pub\n", path, path);
	return EXIT_FW_OK;
}

const struct command cmd_repo_keygen = {
	.name = "repo keygen",
	.summary = "make an Ed25519 key pair for signing repositories",
	.usage = "usage: fwfleet repo keygen FILE\n\n"
	    "Writes a new Ed25519 private key to FILE (PEM, mode 0600) and\n"
	    "its public key to FILE.pub. Existing files are never\n"
	    "overwritten.\n"
	    "Pin FILE.pub where you run plan and deploy (--pubkey).\n",
	.exec = keygen_exec,
};
