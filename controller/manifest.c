#include "manifest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "rcmap.h"
#include "util.h"
#include "version.h"

#define MAX_NAME	200
#define MAX_TEXT	4000
#define MAX_ARG		4096
#define MAX_ARGS	64
#define MAX_LIST	256
#define MAX_FILE_NAME	128

/* Parse context: the file being parsed and the caller's error buffer. */
struct mctx {
	const char *where;
	int flags;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static int bad(struct mctx *c, const char *field, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(c->err, c->errlen, "%s: field '%s': %s", c->where, field, msg);
	return FW_ERR_PARSE;
}

static int all_in(const char *s, const char *set)
{
	for (; *s != '\0'; s++) {
		if (strchr(set, *s) == NULL)
			return 0;
	}
	return 1;
}

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

#define LOWER_ALNUM	"abcdefghijklmnopqrstuvwxyz0123456789"
#define ALNUM		LOWER_ALNUM "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

int manifest_id_valid(const char *id)
{
	size_t n = id != NULL ? strlen(id) : 0;

	return n >= 1 && n <= 64 && is_lower_alnum(id[0]) &&
	    all_in(id, LOWER_ALNUM "._-");
}

int manifest_version_valid(const char *v)
{
	size_t n = v != NULL ? strlen(v) : 0;

	return n >= 1 && n <= 64 && is_alnum(v[0]) &&
	    all_in(v, ALNUM "._+~-");
}

int manifest_file_name_valid(const char *name)
{
	size_t n = name != NULL ? strlen(name) : 0;

	return n >= 1 && n <= MAX_FILE_NAME && name[0] != '.' &&
	    name[0] != '-' && all_in(name, ALNUM "._+-") &&
	    strcmp(name, "component.json") != 0;
}

int manifest_sha256_valid(const char *hex)
{
	return hex != NULL && strlen(hex) == 64 &&
	    all_in(hex, "0123456789abcdef");
}

/* No control characters (jansson has checked UTF-8 already). */
static int printable(const char *s)
{
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	}
	return 1;
}

const char *manifest_kind_name(enum manifest_kind k)
{
	switch (k) {
	case MANIFEST_FIRMWARE: return "firmware";
	case MANIFEST_DRIVER: return "driver";
	case MANIFEST_SOFTWARE: return "software";
	}
	return "?";
}

int manifest_kind_parse(const char *s, enum manifest_kind *out)
{
	static const enum manifest_kind kinds[] = { MANIFEST_FIRMWARE,
	    MANIFEST_DRIVER, MANIFEST_SOFTWARE };
	size_t i;

	for (i = 0; s != NULL && i < 3; i++) {
		if (strcmp(s, manifest_kind_name(kinds[i])) == 0) {
			*out = kinds[i];
			return 0;
		}
	}
	return FW_ERR_INVALID;
}

static const struct {
	enum manifest_source src;
	const char *name;
} sources[] = {
	{ SRC_BIOS_VERSION, "system.bios_version" },
	{ SRC_NIC_FIRMWARE, "nic.firmware_version" },
	{ SRC_NIC_DRIVER, "nic.driver_version" },
	{ SRC_NVME_FIRMWARE, "nvme.firmware_rev" },
	{ SRC_DISK_FIRMWARE, "disk.firmware_rev" },
	{ SRC_PACKAGE, "package:" },
};

const char *manifest_source_name(enum manifest_source s)
{
	size_t i;

	for (i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		if (sources[i].src == s)
			return sources[i].name;
	}
	return "?";
}

int manifest_pattern_match(const char *pat, const char *s)
{
	size_t n = strlen(pat);

	if (s == NULL)
		return 0;
	if (n > 0 && pat[n - 1] == '*')
		return strncmp(pat, s, n - 1) == 0;
	return strcmp(pat, s) == 0;
}

char *manifest_extract_version(const struct manifest *m, const char *value)
{
	regmatch_t g[2];

	if (value == NULL || value[0] == '\0')
		return NULL;
	if (m->regex == NULL)
		return xstrdup(value);
	if (regexec(&m->re, value, 2, g, 0) != 0 || g[1].rm_so < 0 ||
	    g[1].rm_eo <= g[1].rm_so)
		return NULL;
	return xasprintf("%.*s", (int)(g[1].rm_eo - g[1].rm_so),
	    value + g[1].rm_so);
}

/* --- field readers -------------------------------------------------- */

/*
 * Fails for each key of obj not in allowed (NULL-terminated). Keys that
 * start with "x-" are extensions and ignored.
 */
static int check_keys(struct mctx *c, json_t *obj, const char *prefix,
    const char *const *allowed)
{
	const char *key;
	json_t *v;
	size_t i;
	char field[256];

	json_object_foreach(obj, key, v) {
		if (strncmp(key, "x-", 2) == 0)
			continue;
		for (i = 0; allowed[i] != NULL; i++) {
			if (strcmp(key, allowed[i]) == 0)
				break;
		}
		if (allowed[i] == NULL) {
			snprintf(field, sizeof(field), "%s%s", prefix, key);
			return bad(c, field, "unknown field");
		}
	}
	return 0;
}

/*
 * Reads obj[key] as a string of at most max bytes into *out (a copy).
 * Absent: FW_ERR_NOT_FOUND if optional, else an error.
 */
static int get_string(struct mctx *c, json_t *obj, const char *key,
    const char *field, size_t max, int optional, char **out)
{
	json_t *v = json_object_get(obj, key);
	const char *s;

	*out = NULL;
	if (v == NULL)
		return optional ? FW_ERR_NOT_FOUND :
		    bad(c, field, "missing (required)");
	if (!json_is_string(v))
		return bad(c, field, "must be a string");
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return bad(c, field, "must not contain NUL");
	if (s[0] == '\0')
		return bad(c, field, "must not be empty");
	if (strlen(s) > max)
		return bad(c, field, "longer than %zu bytes", max);
	*out = xstrdup(s);
	return 0;
}

static int get_array(struct mctx *c, json_t *obj, const char *key,
    int optional, json_t **out)
{
	json_t *v = json_object_get(obj, key);

	*out = NULL;
	if (v == NULL)
		return optional ? FW_ERR_NOT_FOUND :
		    bad(c, key, "missing (required)");
	if (!json_is_array(v))
		return bad(c, key, "must be a list");
	if (json_array_size(v) == 0)
		return bad(c, key, "must not be empty");
	if (json_array_size(v) > MAX_LIST)
		return bad(c, key, "more than %d entries", MAX_LIST);
	*out = v;
	return 0;
}

static void strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

/* A list of strings, each checked by ok(); what says what is allowed. */
static int get_strings(struct mctx *c, json_t *obj, const char *key,
    int (*ok)(const char *), const char *what, char ***out, size_t *n)
{
	json_t *arr, *v;
	char field[64], **strs = NULL;
	size_t i = 0;
	int r;

	*out = NULL;
	*n = 0;
	if ((r = get_array(c, obj, key, 0, &arr)) != 0)
		return r;
	strs = xcalloc(json_array_size(arr), sizeof(*strs));
	json_array_foreach(arr, i, v) {
		snprintf(field, sizeof(field), "%s[%zu]", key, i);
		if (!json_is_string(v) || !ok(json_string_value(v))) {
			strv_free(strs, i);
			return bad(c, field, "must be %s", what);
		}
		strs[i] = xstrdup(json_string_value(v));
	}
	*out = strs;
	*n = json_array_size(arr);
	return 0;
}

static int os_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 32 && is_lower_alnum(s[0]) &&
	    all_in(s, LOWER_ALNUM "._-");
}

static int arch_ok(const char *s)
{
	return strcmp(s, "x86_64") == 0 || strcmp(s, "aarch64") == 0 ||
	    strcmp(s, "any") == 0;
}

/* --- top-level scalar fields ---------------------------------------- */

static int parse_identity(struct mctx *c, json_t *root, struct manifest *m)
{
	char *kind = NULL;
	int r;

	if ((r = get_string(c, root, "id", "id", 64, 0, &m->id)) != 0)
		goto out;
	if (!manifest_id_valid(m->id)) {
		r = bad(c, "id", "must be 1-64 of [a-z0-9._-], starting with "
		    "a letter or digit");
		goto out;
	}
	if ((r = get_string(c, root, "name", "name", MAX_NAME, 0,
	    &m->name)) != 0)
		goto out;
	if (!printable(m->name)) {
		r = bad(c, "name", "must not contain control characters");
		goto out;
	}
	if ((r = get_string(c, root, "version", "version", 64, 0,
	    &m->version)) != 0)
		goto out;
	if (!manifest_version_valid(m->version)) {
		r = bad(c, "version", "must be 1-64 of [A-Za-z0-9._+~-], "
		    "starting with a letter or digit");
		goto out;
	}
	r = get_string(c, root, "description", "description", MAX_TEXT, 1,
	    &m->description);
	if (r != 0 && r != FW_ERR_NOT_FOUND)
		goto out;
	if ((r = get_string(c, root, "kind", "kind", 16, 0, &kind)) != 0)
		goto out;
	if (manifest_kind_parse(kind, &m->kind) != 0) {
		r = bad(c, "kind", "must be firmware, driver or software");
		goto out;
	}
	r = 0;
out:
	free(kind);
	return r;
}

static int parse_bool(struct mctx *c, json_t *root, const char *key, int *out)
{
	json_t *v = json_object_get(root, key);

	*out = 0;
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return bad(c, key, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

/* --- applies_to ------------------------------------------------------ */

static int parse_hex16(const char *s, uint16_t *out)
{
	unsigned v = 0;
	size_t i;

	if (strlen(s) != 4)
		return -1;
	for (i = 0; i < 4; i++) {
		v <<= 4;
		if (s[i] >= '0' && s[i] <= '9')
			v |= (unsigned)(s[i] - '0');
		else if (s[i] >= 'a' && s[i] <= 'f')
			v |= (unsigned)(s[i] - 'a' + 10);
		else if (s[i] >= 'A' && s[i] <= 'F')
			v |= (unsigned)(s[i] - 'A' + 10);
		else
			return -1;
	}
	*out = (uint16_t)v;
	return 0;
}

/* "8086:1572" or "8086:1572:103c:22fc". */
static int parse_pci(const char *s, struct manifest_matcher *mm)
{
	char part[4][8];
	const char *p = s, *colon;
	size_t n = 0, len;

	for (;;) {
		colon = strchr(p, ':');
		len = colon != NULL ? (size_t)(colon - p) : strlen(p);
		if (n == 4 || len >= sizeof(part[0]))
			return -1;
		memcpy(part[n], p, len);
		part[n++][len] = '\0';
		if (colon == NULL)
			break;
		p = colon + 1;
	}
	if ((n != 2 && n != 4) || parse_hex16(part[0], &mm->vendor) != 0 ||
	    parse_hex16(part[1], &mm->device) != 0)
		return -1;
	if (n == 4 && (parse_hex16(part[2], &mm->sub_vendor) != 0 ||
	    parse_hex16(part[3], &mm->sub_device) != 0))
		return -1;
	mm->has_pci = 1;
	mm->has_subsys = n == 4;
	return 0;
}

/* A matcher pattern: printable, '*' only at the end. */
static int get_pattern(struct mctx *c, json_t *obj, const char *key,
    const char *prefix, char **out)
{
	char field[96];
	char *s;
	size_t n;
	int r;

	snprintf(field, sizeof(field), "%s%s", prefix, key);
	if ((r = get_string(c, obj, key, field, MAX_NAME, 1, &s)) != 0)
		return r == FW_ERR_NOT_FOUND ? 0 : r;
	n = strlen(s);
	if (!printable(s) || (strchr(s, '*') != NULL &&
	    strchr(s, '*') != s + n - 1)) {
		free(s);
		return bad(c, field, "must be printable text, with '*' only "
		    "at the end");
	}
	*out = s;
	return 0;
}

static void matcher_clear(struct manifest_matcher *mm)
{
	free(mm->dmi_product);
	free(mm->dmi_vendor);
	free(mm->nvme_model);
	free(mm->nic_driver);
	free(mm->disk_model);
	memset(mm, 0, sizeof(*mm));
}

static int parse_matcher(struct mctx *c, json_t *obj, size_t i,
    struct manifest_matcher *mm)
{
	static const char *const keys[] = { "pci", "dmi_product",
	    "dmi_vendor", "nvme_model", "nic_driver", "disk_model", NULL };
	char prefix[48], field[64];
	char *pci = NULL;
	int r;

	snprintf(prefix, sizeof(prefix), "applies_to[%zu].", i);
	snprintf(field, sizeof(field), "applies_to[%zu]", i);
	if (!json_is_object(obj))
		return bad(c, field, "must be an object");
	if ((r = check_keys(c, obj, prefix, keys)) != 0)
		return r;
	snprintf(field, sizeof(field), "%spci", prefix);
	r = get_string(c, obj, "pci", field, 32, 1, &pci);
	if (r == 0 && parse_pci(pci, mm) != 0)
		r = bad(c, field, "must be VVVV:DDDD or VVVV:DDDD:SVVV:SDDD "
		    "(hex)");
	free(pci);
	if (r != 0 && r != FW_ERR_NOT_FOUND)
		return r;
	if ((r = get_pattern(c, obj, "dmi_product", prefix,
	    &mm->dmi_product)) != 0 ||
	    (r = get_pattern(c, obj, "dmi_vendor", prefix,
	    &mm->dmi_vendor)) != 0 ||
	    (r = get_pattern(c, obj, "nvme_model", prefix,
	    &mm->nvme_model)) != 0 ||
	    (r = get_pattern(c, obj, "nic_driver", prefix,
	    &mm->nic_driver)) != 0 ||
	    (r = get_pattern(c, obj, "disk_model", prefix,
	    &mm->disk_model)) != 0)
		return r;
	snprintf(field, sizeof(field), "applies_to[%zu]", i);
	if (!mm->has_pci && mm->dmi_product == NULL && mm->dmi_vendor == NULL &&
	    mm->nvme_model == NULL && mm->nic_driver == NULL &&
	    mm->disk_model == NULL)
		return bad(c, field, "needs at least one of pci, dmi_product, "
		    "dmi_vendor, nvme_model, nic_driver, disk_model");
	return 0;
}

static int parse_applies(struct mctx *c, json_t *root, struct manifest *m)
{
	json_t *v = json_object_get(root, "applies_to"), *arr, *e;
	size_t i;
	int r;

	if (json_is_string(v) && strcmp(json_string_value(v), "all") == 0) {
		m->applies_all = 1;
		return 0;
	}
	if (v != NULL && !json_is_array(v))
		return bad(c, "applies_to", "must be \"all\" or a list of "
		    "matchers");
	if ((r = get_array(c, root, "applies_to", 0, &arr)) != 0)
		return r;
	m->match = xcalloc(json_array_size(arr), sizeof(*m->match));
	json_array_foreach(arr, i, e) {
		m->n_match = i + 1;
		if ((r = parse_matcher(c, e, i, &m->match[i])) != 0)
			return r;
	}
	return 0;
}

/* --- installed_version ---------------------------------------------- */

/* Every matcher must name the device the version is read from. */
static int check_binding(struct mctx *c, const struct manifest *m)
{
	const struct manifest_matcher *mm;
	const char *need = NULL;
	char field[48];
	size_t i;
	int ok;

	for (i = 0; i < m->n_match; i++) {
		mm = &m->match[i];
		switch (m->source) {
		case SRC_NIC_FIRMWARE:
		case SRC_NIC_DRIVER:
			ok = mm->has_pci || mm->nic_driver != NULL;
			need = "pci or nic_driver";
			break;
		case SRC_NVME_FIRMWARE:
			ok = mm->has_pci || mm->nvme_model != NULL;
			need = "pci or nvme_model";
			break;
		case SRC_DISK_FIRMWARE:
			ok = mm->disk_model != NULL;
			need = "disk_model";
			break;
		default:
			ok = 1;
			break;
		}
		if (!ok) {
			snprintf(field, sizeof(field), "applies_to[%zu]", i);
			return bad(c, field, "must name %s: installed_version "
			    "reads %s", need, manifest_source_name(m->source));
		}
	}
	if (m->applies_all && m->source != SRC_BIOS_VERSION &&
	    m->source != SRC_PACKAGE)
		return bad(c, "applies_to", "\"all\" names no device to read "
		    "%s from", manifest_source_name(m->source));
	return 0;
}

static int parse_source(struct mctx *c, const char *field, struct manifest *m)
{
	const char *pkg;
	size_t i;

	if (strncmp(field, "package:", 8) == 0) {
		pkg = field + 8;
		if (strlen(pkg) < 1 || strlen(pkg) > 128 ||
		    !is_alnum(pkg[0]) || !all_in(pkg, ALNUM "._+-"))
			return bad(c, "installed_version.field", "package:NAME "
			    "needs a package name of [A-Za-z0-9._+-]");
		m->source = SRC_PACKAGE;
		m->package = xstrdup(pkg);
		return 0;
	}
	for (i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		if (sources[i].src != SRC_PACKAGE &&
		    strcmp(field, sources[i].name) == 0) {
			m->source = sources[i].src;
			return 0;
		}
	}
	return bad(c, "installed_version.field", "must be system.bios_version, "
	    "nic.firmware_version, nic.driver_version, nvme.firmware_rev, "
	    "disk.firmware_rev or package:NAME");
}

static int parse_installed(struct mctx *c, json_t *root, struct manifest *m)
{
	static const char *const keys[] = { "field", "regex", NULL };
	json_t *iv = json_object_get(root, "installed_version");
	char *field = NULL, msg[256];
	int r, rr;

	if (iv == NULL)
		return bad(c, "installed_version", "missing (required)");
	if (!json_is_object(iv))
		return bad(c, "installed_version", "must be an object");
	if ((r = check_keys(c, iv, "installed_version.", keys)) != 0 ||
	    (r = get_string(c, iv, "field", "installed_version.field", 160, 0,
	    &field)) != 0 || (r = parse_source(c, field, m)) != 0)
		goto out;
	r = get_string(c, iv, "regex", "installed_version.regex", 512, 1,
	    &m->regex);
	if (r == FW_ERR_NOT_FOUND) {
		r = check_binding(c, m);
		goto out;
	}
	if (r != 0)
		goto out;
	if ((rr = regcomp(&m->re, m->regex, REG_EXTENDED)) != 0) {
		regerror(rr, &m->re, msg, sizeof(msg));
		free(m->regex);
		m->regex = NULL;	/* nothing compiled to free */
		r = bad(c, "installed_version.regex", "does not compile: %s",
		    msg);
		goto out;
	}
	if (m->re.re_nsub < 1) {
		r = bad(c, "installed_version.regex", "needs a capture group "
		    "( ) around the version");
		goto out;
	}
	r = check_binding(c, m);
out:
	free(field);
	return r;
}

/* --- installer, return codes, reboot, depends -------------------------- */

static int parse_timeout(struct mctx *c, json_t *inst, struct manifest *m)
{
	json_t *v = json_object_get(inst, "timeout_s");

	m->timeout_s = MANIFEST_DEFAULT_TIMEOUT;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return bad(c, "installer.timeout_s", "must be a positive "
		    "integer");
	if (json_integer_value(v) > MANIFEST_MAX_TIMEOUT)
		return bad(c, "installer.timeout_s", "must be at most %d "
		    "(24 hours)", MANIFEST_MAX_TIMEOUT);
	m->timeout_s = (unsigned)json_integer_value(v);
	return 0;
}

static int parse_installer(struct mctx *c, json_t *root, struct manifest *m)
{
	static const char *const keys[] = { "command", "timeout_s", NULL };
	json_t *inst = json_object_get(root, "installer"), *cmd, *v;
	char field[48];
	size_t i;

	if (inst == NULL)
		return bad(c, "installer", "missing (required)");
	if (!json_is_object(inst))
		return bad(c, "installer", "must be an object");
	if (check_keys(c, inst, "installer.", keys) != 0)
		return FW_ERR_PARSE;
	cmd = json_object_get(inst, "command");
	if (cmd == NULL)
		return bad(c, "installer.command", "missing (required)");
	if (!json_is_array(cmd) || json_array_size(cmd) == 0 ||
	    json_array_size(cmd) > MAX_ARGS)
		return bad(c, "installer.command", "must be a list of 1 to %d "
		    "strings", MAX_ARGS);
	m->argv = xcalloc(json_array_size(cmd) + 1, sizeof(*m->argv));
	json_array_foreach(cmd, i, v) {
		snprintf(field, sizeof(field), "installer.command[%zu]", i);
		if (!json_is_string(v) ||
		    strlen(json_string_value(v)) != json_string_length(v) ||
		    json_string_length(v) > MAX_ARG)
			return bad(c, field, "must be a string of at most %d "
			    "bytes", MAX_ARG);
		m->argv[i] = xstrdup(json_string_value(v));
		m->argc = i + 1;
	}
	if (m->argv[0][0] == '\0')
		return bad(c, "installer.command[0]", "must not be empty");
	return parse_timeout(c, inst, m);
}

static Fwfleet__ReturnCodeMap *rc_new(const char *convention)
{
	Fwfleet__ReturnCodeMap *rc = xcalloc(1, sizeof(*rc));

	fwfleet__return_code_map__init(rc);
	rc->convention = xstrdup(convention);
	return rc;
}

static void rc_free(Fwfleet__ReturnCodeMap *rc)
{
	size_t i;

	if (rc == NULL)
		return;
	for (i = 0; i < rc->n_codes; i++)
		free(rc->codes[i]);
	free(rc->codes);
	free(rc->convention);
	free(rc);
}

/* One "code": "outcome" pair of a custom map. */
static int parse_rc_entry(struct mctx *c, Fwfleet__ReturnCodeMap *rc,
    const char *key, json_t *v)
{
	Fwfleet__InstallOutcome o;
	Fwfleet__ReturnCodeMap__CodesEntry *e;
	char field[64];
	long code;

	snprintf(field, sizeof(field), "return_codes.%.32s", key);
	if (!json_is_string(v) ||
	    rcmap_outcome_parse(json_string_value(v), &o) != 0)
		return bad(c, field, "must be success, "
		    "success-reboot-required, already-current, not-applicable "
		    "or failed");
	if (strcmp(key, "default") == 0) {
		rc->default_outcome = o;
		return 0;
	}
	if (fw_parse_long(key, 0, 255, &code) != 0)
		return bad(c, field, "keys must be exit codes 0-255 or "
		    "\"default\"");
	e = xcalloc(1, sizeof(*e));
	fwfleet__return_code_map__codes_entry__init(e);
	e->key = (int32_t)code;
	e->value = o;
	rc->codes[rc->n_codes++] = e;
	return 0;
}

static int parse_return_codes(struct mctx *c, json_t *root, struct manifest *m)
{
	json_t *v = json_object_get(root, "return_codes"), *o;
	const char *key;
	int r;

	if (v == NULL) {
		m->rc = rc_new("hp-linux");
		return 0;
	}
	if (json_is_string(v)) {
		if (!rcmap_convention_known(json_string_value(v)))
			return bad(c, "return_codes", "must be hp-linux, "
			    "hp-linux-multi, hp-windows, rpm or an object "
			    "{\"0\": \"success\", ..., \"default\": "
			    "\"failed\"}");
		m->rc = rc_new(json_string_value(v));
		return 0;
	}
	if (!json_is_object(v) || json_object_size(v) == 0)
		return bad(c, "return_codes", "must be a convention name or a "
		    "non-empty object of exit code: outcome");
	m->rc = rc_new("");
	m->rc->default_outcome = FWFLEET__INSTALL_OUTCOME__OUTCOME_FAILED;
	m->rc->codes = xcalloc(json_object_size(v), sizeof(*m->rc->codes));
	json_object_foreach(v, key, o) {
		if ((r = parse_rc_entry(c, m->rc, key, o)) != 0)
			return r;
	}
	return 0;
}

static int parse_dep(struct mctx *c, json_t *e, size_t i, struct manifest *m)
{
	static const char *const keys[] = { "id", "min_version", NULL };
	struct manifest_dep *d = &m->deps[i];
	char prefix[32], f1[48], f2[48];
	int r;

	snprintf(prefix, sizeof(prefix), "depends[%zu].", i);
	snprintf(f1, sizeof(f1), "depends[%zu].id", i);
	snprintf(f2, sizeof(f2), "depends[%zu].min_version", i);
	if (!json_is_object(e))
		return bad(c, f1, "depends entries must be objects {\"id\", "
		    "\"min_version\"}");
	if ((r = check_keys(c, e, prefix, keys)) != 0 ||
	    (r = get_string(c, e, "id", f1, 64, 0, &d->id)) != 0)
		return r;
	if (!manifest_id_valid(d->id))
		return bad(c, f1, "must be a component id");
	if ((r = get_string(c, e, "min_version", f2, 64, 0,
	    &d->min_version)) != 0)
		return r;
	if (!manifest_version_valid(d->min_version))
		return bad(c, f2, "must be a version");
	if (strcmp(d->id, m->id) == 0 &&
	    version_compare(d->min_version, m->version) >= 0)
		return bad(c, f2, "a component can only need an older "
		    "version of itself (a stepping stone), not %s",
		    d->min_version);
	return 0;
}

static int parse_depends(struct mctx *c, json_t *root, struct manifest *m)
{
	json_t *arr, *e;
	size_t i;
	int r;

	if ((r = get_array(c, root, "depends", 1, &arr)) != 0)
		return r == FW_ERR_NOT_FOUND ? 0 : r;
	m->deps = xcalloc(json_array_size(arr), sizeof(*m->deps));
	json_array_foreach(arr, i, e) {
		m->n_deps = i + 1;
		if ((r = parse_dep(c, e, i, m)) != 0)
			return r;
	}
	return 0;
}

/* --- files -------------------------------------------------------------- */

static int parse_file_hash(struct mctx *c, json_t *e, size_t i,
    struct manifest_file *f)
{
	json_t *size = json_object_get(e, "size");
	json_t *sha = json_object_get(e, "sha256");
	char field[48];

	if (size == NULL && sha == NULL && (c->flags & MANIFEST_UNHASHED))
		return 0;
	snprintf(field, sizeof(field), "files[%zu].size", i);
	if (size == NULL)
		return bad(c, field, "missing (required; fwfleet repo add "
		    "fills it in)");
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return bad(c, field, "must be a non-negative integer");
	snprintf(field, sizeof(field), "files[%zu].sha256", i);
	if (sha == NULL)
		return bad(c, field, "missing (required; fwfleet repo add "
		    "fills it in)");
	if (!json_is_string(sha) ||
	    !manifest_sha256_valid(json_string_value(sha)))
		return bad(c, field, "must be 64 lowercase hex digits");
	f->size = (uint64_t)json_integer_value(size);
	memcpy(f->sha256, json_string_value(sha), 65);
	f->hashed = 1;
	return 0;
}

static int parse_file(struct mctx *c, json_t *e, size_t i, struct manifest *m)
{
	static const char *const keys[] = { "name", "size", "sha256", NULL };
	struct manifest_file *f = &m->files[i];
	char prefix[32], field[48];
	size_t j;
	int r;

	snprintf(prefix, sizeof(prefix), "files[%zu].", i);
	snprintf(field, sizeof(field), "files[%zu].name", i);
	if (!json_is_object(e))
		return bad(c, field, "files entries must be objects {\"name\", "
		    "\"size\", \"sha256\"}");
	if ((r = check_keys(c, e, prefix, keys)) != 0 ||
	    (r = get_string(c, e, "name", field, MAX_FILE_NAME, 0,
	    &f->name)) != 0)
		return r;
	if (!manifest_file_name_valid(f->name))
		return bad(c, field, "must be a plain file name of "
		    "[A-Za-z0-9._+-] (not starting with '.' or '-', not "
		    "component.json)");
	for (j = 0; j < i; j++) {
		if (strcmp(m->files[j].name, f->name) == 0)
			return bad(c, field, "%s is listed twice", f->name);
	}
	return parse_file_hash(c, e, i, f);
}

static int parse_files(struct mctx *c, json_t *root, struct manifest *m)
{
	json_t *arr, *e;
	size_t i;
	int r;

	if ((r = get_array(c, root, "files", 0, &arr)) != 0)
		return r;
	m->files = xcalloc(json_array_size(arr), sizeof(*m->files));
	json_array_foreach(arr, i, e) {
		m->n_files = i + 1;
		if ((r = parse_file(c, e, i, m)) != 0)
			return r;
	}
	return 0;
}

/* A relative installer must be one of the payload files. */
static int check_command(struct mctx *c, const struct manifest *m)
{
	const char *a0 = m->argv[0];
	size_t i;

	if (a0[0] == '/')
		return 0;
	if (strncmp(a0, "./", 2) == 0) {
		for (i = 0; i < m->n_files; i++) {
			if (strcmp(a0 + 2, m->files[i].name) == 0)
				return 0;
		}
	}
	return bad(c, "installer.command[0]", "must be an absolute path or "
	    "./NAME of one of the files (not '%s')", a0);
}

/* --- entry points ------------------------------------------------------ */

int manifest_from_json(json_t *root, const char *where, int flags,
    struct manifest **out, char *err, size_t errlen)
{
	static const char *const keys[] = { "id", "name", "version", "kind",
	    "description", "os", "arch", "applies_to", "installed_version",
	    "installer", "return_codes", "reboot_required", "depends",
	    "files", NULL };
	struct mctx c = { where, flags, err, errlen };
	struct manifest *m = xcalloc(1, sizeof(*m));
	int r;

	*out = NULL;
	if (!json_is_object(root)) {
		snprintf(err, errlen, "%s: must be a JSON object", where);
		r = FW_ERR_PARSE;
		goto out;
	}
	if ((r = check_keys(&c, root, "", keys)) != 0 ||
	    (r = parse_identity(&c, root, m)) != 0 ||
	    (r = get_strings(&c, root, "os", os_ok, "\"linux\", \"windows\" "
	    "or an os-release ID", &m->os, &m->n_os)) != 0 ||
	    (r = get_strings(&c, root, "arch", arch_ok, "x86_64, aarch64 or "
	    "any", &m->arch, &m->n_arch)) != 0 ||
	    (r = parse_applies(&c, root, m)) != 0 ||
	    (r = parse_installed(&c, root, m)) != 0 ||
	    (r = parse_installer(&c, root, m)) != 0 ||
	    (r = parse_return_codes(&c, root, m)) != 0 ||
	    (r = parse_bool(&c, root, "reboot_required",
	    &m->reboot_required)) != 0 ||
	    (r = parse_depends(&c, root, m)) != 0 ||
	    (r = parse_files(&c, root, m)) != 0 ||
	    (r = check_command(&c, m)) != 0)
		goto out;
	*out = m;
	m = NULL;
out:
	manifest_free(m);
	return r;
}

int manifest_parse(const char *text, size_t len, const char *where,
    int flags, struct manifest **out, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root;
	int r;

	*out = NULL;
	if (len > MANIFEST_MAX_SIZE) {
		snprintf(err, errlen, "%s: larger than %d bytes", where,
		    MANIFEST_MAX_SIZE);
		return FW_ERR_PARSE;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		snprintf(err, errlen, "%s:%d:%d: %s", where, je.line,
		    je.column, je.text);
		return FW_ERR_PARSE;
	}
	r = manifest_from_json(root, where, flags, out, err, errlen);
	json_decref(root);
	return r;
}

void manifest_free(struct manifest *m)
{
	size_t i;

	if (m == NULL)
		return;
	free(m->id);
	free(m->name);
	free(m->version);
	free(m->description);
	strv_free(m->os, m->n_os);
	strv_free(m->arch, m->n_arch);
	for (i = 0; i < m->n_match; i++)
		matcher_clear(&m->match[i]);
	free(m->match);
	free(m->package);
	if (m->regex != NULL)
		regfree(&m->re);
	free(m->regex);
	strv_free(m->argv, m->argc);
	rc_free(m->rc);
	for (i = 0; i < m->n_deps; i++) {
		free(m->deps[i].id);
		free(m->deps[i].min_version);
	}
	free(m->deps);
	for (i = 0; i < m->n_files; i++)
		free(m->files[i].name);
	free(m->files);
	free(m);
}
