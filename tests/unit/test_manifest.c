/*
 * Unit tests for controller/manifest.c: a full manifest parses into the
 * right fields; each bad manifest is refused with an error that names the
 * file and the field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "err.h"
#include "manifest.h"
#include "rcmap.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define WHERE		"components/i40e-nvm/8.80/component.json"
#define SHA_A		"81fad2affe7d4c4940f3522b26ccb1837fcb85c7d2da999ebec0b08cabf82ccb"
#define SHA_B		"b7c44c0ad3e1f04069f7e934aee6145a3fa4206ae527b851cef0dfc3e4117ffa"

static const char base[] =
	"{\n"
	"  \"id\": \"i40e-nvm\",\n"
	"  \"name\": \"Intel X710 NVM\",\n"
	"  \"version\": \"8.80\",\n"
	"  \"kind\": \"firmware\",\n"
	"  \"description\": \"NVM update\",\n"
	"  \"os\": [\"linux\", \"rhel\"],\n"
	"  \"arch\": [\"x86_64\"],\n"
	"  \"applies_to\": [\n"
	"    {\"pci\": \"8086:1572\"},\n"
	"    {\"pci\": \"8086:1583:103C:22fc\", \"nic_driver\": \"i40e\","
	"     \"dmi_product\": \"ProLiant*\", \"dmi_vendor\": \"HPE\"}\n"
	"  ],\n"
	"  \"installed_version\": {\"field\": \"nic.firmware_version\","
	"    \"regex\": \"^([0-9.]+)\"},\n"
	"  \"installer\": {\"command\": [\"./install.sh\", \"--silent\"],"
	"    \"timeout_s\": 900},\n"
	"  \"return_codes\": \"hp-linux-multi\",\n"
	"  \"reboot_required\": true,\n"
	"  \"depends\": [{\"id\": \"bios-u30\", \"min_version\": \"2.90\"},"
	"    {\"id\": \"i40e-nvm\", \"min_version\": \"8.50\"}],\n"
	"  \"files\": [\n"
	"    {\"name\": \"install.sh\", \"size\": 1628, \"sha256\": \"" SHA_B "\"},\n"
	"    {\"name\": \"nvm-8.80.bin\", \"size\": 5120, \"sha256\": \"" SHA_A "\"}\n"
	"  ],\n"
	"  \"x-vendor-note\": {\"anything\": [1, 2]}\n"
	"}\n";

static struct manifest *parse_ok(const char *text, int flags)
{
	struct manifest *m = NULL;
	char err[512] = "";

	if (manifest_parse(text, strlen(text), WHERE, flags, &m, err,
	    sizeof(err)) != 0)
		fail_msg("parse failed: %s", err);
	return m;
}

static void test_full_manifest(void **state)
{
	struct manifest *m = parse_ok(base, 0);
	const struct manifest_matcher *mm;

	assert_string_equal(m->id, "i40e-nvm");
	assert_string_equal(m->name, "Intel X710 NVM");
	assert_string_equal(m->version, "8.80");
	assert_string_equal(m->description, "NVM update");
	assert_int_equal(m->kind, MANIFEST_FIRMWARE);
	assert_int_equal(m->n_os, 2);
	assert_string_equal(m->os[1], "rhel");
	assert_int_equal(m->n_arch, 1);
	assert_false(m->applies_all);
	assert_int_equal(m->n_match, 2);
	mm = &m->match[0];
	assert_true(mm->has_pci);
	assert_false(mm->has_subsys);
	assert_int_equal(mm->vendor, 0x8086);
	assert_int_equal(mm->device, 0x1572);
	assert_null(mm->nic_driver);
	mm = &m->match[1];
	assert_true(mm->has_subsys);
	assert_int_equal(mm->sub_vendor, 0x103c);
	assert_int_equal(mm->sub_device, 0x22fc);
	assert_string_equal(mm->nic_driver, "i40e");
	assert_string_equal(mm->dmi_product, "ProLiant*");
	assert_string_equal(mm->dmi_vendor, "HPE");
	assert_int_equal(m->source, SRC_NIC_FIRMWARE);
	assert_string_equal(m->regex, "^([0-9.]+)");
	assert_int_equal(m->argc, 2);
	assert_string_equal(m->argv[0], "./install.sh");
	assert_string_equal(m->argv[1], "--silent");
	assert_null(m->argv[2]);
	assert_int_equal(m->timeout_s, 900);
	assert_string_equal(m->rc->convention, "hp-linux-multi");
	assert_int_equal(rcmap_outcome(m->rc, 3),
	    FWFLEET__INSTALL_OUTCOME__OUTCOME_NOT_APPLICABLE);
	assert_true(m->reboot_required);
	assert_int_equal(m->n_deps, 2);
	assert_string_equal(m->deps[0].id, "bios-u30");
	assert_string_equal(m->deps[0].min_version, "2.90");
	assert_int_equal(m->n_files, 2);
	assert_string_equal(m->files[1].name, "nvm-8.80.bin");
	assert_int_equal(m->files[1].size, 5120);
	assert_string_equal(m->files[1].sha256, SHA_A);
	assert_true(m->files[1].hashed);
	manifest_free(m);
	manifest_free(NULL);
}

/* Sets (value) or deletes (NULL) the field at path ("a.b[1].c"). */
static void set_path(json_t *root, const char *path, json_t *value)
{
	char buf[128], *p = buf, *dot;
	json_t *cur = root;
	char *br;
	long idx;

	snprintf(buf, sizeof(buf), "%s", path);
	for (;;) {
		dot = strchr(p, '.');
		if (dot != NULL)
			*dot = '\0';
		idx = -1;
		if ((br = strchr(p, '[')) != NULL) {
			idx = strtol(br + 1, NULL, 10);
			*br = '\0';
		}
		if (dot == NULL && idx < 0) {
			if (value == NULL)
				json_object_del(cur, p);
			else
				json_object_set_new(cur, p, value);
			return;
		}
		cur = json_object_get(cur, p);
		if (idx >= 0) {
			if (dot == NULL) {
				if (value == NULL)
					json_array_remove(cur, (size_t)idx);
				else
					json_array_set_new(cur, (size_t)idx,
					    value);
				return;
			}
			cur = json_array_get(cur, (size_t)idx);
		}
		assert_non_null(cur);
		p = dot + 1;
	}
}

/* The base manifest with one change; returns the parse error. */
static int parse_changed(const char *path, json_t *value, int flags,
    char *err, size_t errlen)
{
	struct manifest *m = NULL;
	json_t *root = json_loads(base, 0, NULL);
	char *text;
	int r;

	assert_non_null(root);
	set_path(root, path, value);
	text = json_dumps(root, 0);
	r = manifest_parse(text, strlen(text), WHERE, flags, &m, err, errlen);
	if (r == 0)
		assert_non_null(m);
	else
		assert_null(m);
	manifest_free(m);
	free(text);
	json_decref(root);
	return r;
}

struct bad_case {
	const char *path;	/* field to change */
	const char *json;	/* new value as JSON; NULL deletes it */
	const char *field;	/* the field the error must name */
	const char *says;	/* and text it must hold */
};

static void test_bad_manifests(void **state)
{
	static const struct bad_case cases[] = {
		{ "id", NULL, "id", "missing (required)" },
		{ "id", "\"I40E\"", "id", "[a-z0-9._-]" },
		{ "id", "\"-x\"", "id", "starting with" },
		{ "id", "\"../x\"", "id", "[a-z0-9._-]" },
		{ "id", "7", "id", "must be a string" },
		{ "id", "\"\"", "id", "must not be empty" },
		{ "name", NULL, "name", "missing" },
		{ "name", "\"a\\u0007b\"", "name", "control characters" },
		{ "version", "\"8 80\"", "version", "[A-Za-z0-9._+~-]" },
		{ "version", "\"..\"", "version", "starting with" },
		{ "version", "\"/8.80\"", "version", "starting with" },
		{ "kind", "\"bios\"", "kind", "firmware, driver or software" },
		{ "kind", NULL, "kind", "missing" },
		{ "description", "[]", "description", "must be a string" },
		{ "os", NULL, "os", "missing" },
		{ "os", "[]", "os", "must not be empty" },
		{ "os", "\"linux\"", "os", "must be a list" },
		{ "os[1]", "\"Red Hat\"", "os[1]", "os-release ID" },
		{ "arch[0]", "\"sparc\"", "arch[0]", "x86_64, aarch64 or any" },
		{ "applies_to", NULL, "applies_to", "missing" },
		{ "applies_to", "\"some\"", "applies_to", "\"all\" or a list" },
		{ "applies_to", "[]", "applies_to", "must not be empty" },
		{ "applies_to[0]", "{}", "applies_to[0]", "at least one of" },
		{ "applies_to[0]", "\"pci\"", "applies_to[0]",
		    "must be an object" },
		{ "applies_to[0].pci", "\"8086\"", "applies_to[0].pci",
		    "VVVV:DDDD" },
		{ "applies_to[0].pci", "\"8086:15722\"", "applies_to[0].pci",
		    "VVVV:DDDD" },
		{ "applies_to[0].pci", "\"8086:1572:103c\"",
		    "applies_to[0].pci", "VVVV:DDDD" },
		{ "applies_to[0].pci", "\"808g:1572\"", "applies_to[0].pci",
		    "hex" },
		{ "applies_to[0].pci", "\"8086:1572:1:2:3\"",
		    "applies_to[0].pci", "VVVV:DDDD" },
		{ "applies_to[1].dmi_product", "\"Pro*Liant\"",
		    "applies_to[1].dmi_product", "'*' only at the end" },
		{ "applies_to[1].nvme_model", "5", "applies_to[1].nvme_model",
		    "must be a string" },
		{ "applies_to[1].serial", "\"x\"", "applies_to[1].serial",
		    "unknown field" },
		{ "installed_version", NULL, "installed_version", "missing" },
		{ "installed_version", "\"nic\"", "installed_version",
		    "must be an object" },
		{ "installed_version.field", "\"nic.firmware\"",
		    "installed_version.field", "nic.firmware_version" },
		{ "installed_version.field", "\"package:\"",
		    "installed_version.field", "package name" },
		{ "installed_version.regex", "\"([0-9\"",
		    "installed_version.regex", "does not compile" },
		{ "installed_version.regex", "\"^[0-9.]+\"",
		    "installed_version.regex", "capture group" },
		{ "installed_version.source", "\"x\"",
		    "installed_version.source", "unknown field" },
		{ "installer", NULL, "installer", "missing" },
		{ "installer.command", NULL, "installer.command", "missing" },
		{ "installer.command", "[]", "installer.command",
		    "list of 1 to" },
		{ "installer.command[0]", "\"\"", "installer.command[0]",
		    "must not be empty" },
		{ "installer.command[1]", "3", "installer.command[1]",
		    "must be a string" },
		{ "installer.command[0]", "\"install.sh\"",
		    "installer.command[0]", "./NAME of one of the files" },
		{ "installer.command[0]", "\"./setup.sh\"",
		    "installer.command[0]", "./NAME of one of the files" },
		{ "installer.timeout_s", "0", "installer.timeout_s",
		    "must be a positive integer" },
		{ "installer.timeout_s", "-5", "installer.timeout_s",
		    "must be a positive integer" },
		{ "installer.timeout_s", "\"600\"", "installer.timeout_s",
		    "must be a positive integer" },
		{ "installer.timeout_s", "1.5", "installer.timeout_s",
		    "must be a positive integer" },
		{ "installer.timeout_s", "90000", "installer.timeout_s",
		    "at most 86400" },
		{ "installer.env", "{}", "installer.env", "unknown field" },
		{ "return_codes", "\"hp-unix\"", "return_codes",
		    "hp-linux, hp-linux-multi, hp-windows, rpm" },
		{ "return_codes", "{}", "return_codes", "non-empty object" },
		{ "return_codes", "[0]", "return_codes", "convention name" },
		{ "return_codes", "{\"0\": \"ok\"}", "return_codes.0",
		    "success, success-reboot-required" },
		{ "return_codes", "{\"x\": \"success\"}", "return_codes.x",
		    "exit codes 0-255" },
		{ "return_codes", "{\"256\": \"failed\"}", "return_codes.256",
		    "exit codes 0-255" },
		{ "return_codes", "{\"0\": \"success\", \"default\": \"bad\"}",
		    "return_codes.default", "success, success-reboot" },
		{ "reboot_required", "\"yes\"", "reboot_required",
		    "true or false" },
		{ "depends", "{}", "depends", "must be a list" },
		{ "depends[0]", "\"bios-u30\"", "depends[0].id",
		    "must be objects" },
		{ "depends[0].id", NULL, "depends[0].id", "missing" },
		{ "depends[0].id", "\"Bios\"", "depends[0].id",
		    "component id" },
		{ "depends[0].min_version", NULL, "depends[0].min_version",
		    "missing" },
		{ "depends[0].min_version", "\"2 90\"",
		    "depends[0].min_version", "must be a version" },
		{ "depends[1].min_version", "\"8.80\"",
		    "depends[1].min_version", "older version of itself" },
		{ "depends[1].min_version", "\"9.0\"",
		    "depends[1].min_version", "older version of itself" },
		{ "depends[0].max_version", "\"3\"", "depends[0].max_version",
		    "unknown field" },
		{ "files", NULL, "files", "missing" },
		{ "files", "[]", "files", "must not be empty" },
		{ "files[0]", "\"install.sh\"", "files[0].name",
		    "must be objects" },
		{ "files[0].name", NULL, "files[0].name", "missing" },
		{ "files[1].name", "\"../fw.bin\"", "files[1].name",
		    "plain file name" },
		{ "files[1].name", "\".hidden\"", "files[1].name",
		    "plain file name" },
		{ "files[1].name", "\"component.json\"", "files[1].name",
		    "plain file name" },
		{ "files[1].name", "\"install.sh\"", "files[1].name",
		    "listed twice" },
		{ "files[1].size", NULL, "files[1].size", "repo add fills" },
		{ "files[1].size", "-1", "files[1].size", "non-negative" },
		{ "files[1].size", "\"5120\"", "files[1].size",
		    "non-negative" },
		{ "files[1].sha256", NULL, "files[1].sha256", "repo add fills" },
		{ "files[1].sha256", "\"abc\"", "files[1].sha256",
		    "64 lowercase hex" },
		{ "files[1].sha256", "\"81FAD2AFFE7D4C4940F3522B26CCB1837FCB85C7D2DA999EBEC0B08CABF82CCB\"",
		    "files[1].sha256", "64 lowercase hex" },
		{ "files[1].mode", "\"0755\"", "files[1].mode",
		    "unknown field" },
		{ "reboot", "true", "reboot", "unknown field" },
	};
	char err[512], want[256];
	json_t *v;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		v = cases[i].json != NULL ? json_loads(cases[i].json,
		    JSON_DECODE_ANY, NULL) : NULL;
		if (cases[i].json != NULL && v == NULL)
			fail_msg("case %zu: bad test JSON", i);
		err[0] = '\0';
		if (parse_changed(cases[i].path, v, 0, err, sizeof(err)) !=
		    FW_ERR_PARSE)
			fail_msg("case %zu (%s = %s): accepted", i,
			    cases[i].path, cases[i].json ? cases[i].json :
			    "deleted");
		snprintf(want, sizeof(want), WHERE ": field '%s': ",
		    cases[i].field);
		if (strncmp(err, want, strlen(want)) != 0 ||
		    strstr(err, cases[i].says) == NULL)
			fail_msg("case %zu (%s): error \"%s\" does not start "
			    "with \"%s\" or lacks \"%s\"", i, cases[i].path,
			    err, want, cases[i].says);
	}
}

/* A manifest's installed_version must read from a device it names. */
static void test_bindings(void **state)
{
	char err[512];
	json_t *v;

	v = json_loads("[{\"dmi_product\": \"X\"}]", 0, NULL);
	assert_int_equal(parse_changed("applies_to", v, 0, err, sizeof(err)),
	    FW_ERR_PARSE);
	assert_non_null(strstr(err, "field 'applies_to[0]': must name pci or "
	    "nic_driver: installed_version reads nic.firmware_version"));
	assert_int_equal(parse_changed("applies_to", json_string("all"), 0,
	    err, sizeof(err)), FW_ERR_PARSE);
	assert_non_null(strstr(err, "field 'applies_to': \"all\" names no "
	    "device"));
}

/* The base manifest with up to two changes; must parse. */
static struct manifest *parse_with2(const char *path, const char *json,
    const char *path2, const char *json2)
{
	struct manifest *m = NULL;
	json_t *root = json_loads(base, 0, NULL);
	char *text, err[512];

	set_path(root, path, json != NULL ? json_loads(json, JSON_DECODE_ANY,
	    NULL) : NULL);
	if (path2 != NULL)
		set_path(root, path2, json_loads(json2, JSON_DECODE_ANY, NULL));
	text = json_dumps(root, 0);
	if (manifest_parse(text, strlen(text), WHERE, 0, &m, err,
	    sizeof(err)) != 0)
		fail_msg("%s = %s: %s", path, json ? json : "deleted", err);
	free(text);
	json_decref(root);
	return m;
}

static struct manifest *parse_with(const char *path, const char *json)
{
	return parse_with2(path, json, NULL, NULL);
}

static void test_defaults_and_variants(void **state)
{
	struct manifest *m;

	m = parse_with("return_codes", NULL);
	assert_string_equal(m->rc->convention, "hp-linux");
	manifest_free(m);
	m = parse_with("installer.timeout_s", NULL);
	assert_int_equal(m->timeout_s, MANIFEST_DEFAULT_TIMEOUT);
	manifest_free(m);
	m = parse_with("reboot_required", NULL);
	assert_false(m->reboot_required);
	manifest_free(m);
	m = parse_with("depends", NULL);
	assert_int_equal(m->n_deps, 0);
	manifest_free(m);
	m = parse_with("return_codes", "{\"0\": \"success\", \"255\": "
	    "\"failed\"}");
	manifest_free(m);
	m = parse_with("return_codes", "{\"0\": \"success\", \"10\": "
	    "\"success-reboot-required\", \"default\": \"not-applicable\"}");
	assert_string_equal(m->rc->convention, "");
	assert_int_equal(m->rc->n_codes, 2);
	assert_int_equal(rcmap_outcome(m->rc, 10),
	    FWFLEET__INSTALL_OUTCOME__OUTCOME_SUCCESS_REBOOT);
	assert_int_equal(rcmap_outcome(m->rc, 11),
	    FWFLEET__INSTALL_OUTCOME__OUTCOME_NOT_APPLICABLE);
	manifest_free(m);
	m = parse_with("return_codes", "{\"1\": \"success\"}");
	assert_int_equal(rcmap_outcome(m->rc, 0),
	    FWFLEET__INSTALL_OUTCOME__OUTCOME_FAILED);
	manifest_free(m);
	m = parse_with("installed_version", "{\"field\": \"package:hp-ams\"}");
	assert_int_equal(m->source, SRC_PACKAGE);
	assert_string_equal(m->package, "hp-ams");
	assert_null(m->regex);
	manifest_free(m);
	m = parse_with("installed_version", "{\"field\": "
	    "\"system.bios_version\"}");
	assert_int_equal(m->source, SRC_BIOS_VERSION);
	manifest_free(m);
	m = parse_with2("applies_to", "\"all\"", "installed_version",
	    "{\"field\": \"package:fwfleet-tools\"}");
	assert_true(m->applies_all);
	manifest_free(m);
	m = parse_with("installer.command", "[\"/bin/sh\", \"install.sh\"]");
	assert_string_equal(m->argv[0], "/bin/sh");
	manifest_free(m);
	m = parse_with("arch", "[\"any\"]");
	manifest_free(m);
	m = parse_with("kind", "\"software\"");
	assert_int_equal(m->kind, MANIFEST_SOFTWARE);
	manifest_free(m);
}

static void test_unhashed(void **state)
{
	struct manifest *m;
	json_t *root = json_loads(base, 0, NULL);
	char *text, err[512];

	json_object_set_new(root, "files", json_loads("[{\"name\": "
	    "\"install.sh\"}, {\"name\": \"nvm-8.80.bin\"}]", 0, NULL));
	text = json_dumps(root, 0);
	assert_int_equal(manifest_parse(text, strlen(text), WHERE, 0, &m, err,
	    sizeof(err)), FW_ERR_PARSE);
	assert_non_null(strstr(err, "field 'files[0].size'"));
	assert_int_equal(manifest_parse(text, strlen(text), WHERE,
	    MANIFEST_UNHASHED, &m, err, sizeof(err)), 0);
	assert_false(m->files[0].hashed);
	manifest_free(m);
	free(text);
	json_decref(root);
}

static void test_syntax_errors(void **state)
{
	struct manifest *m = (struct manifest *)1;
	char err[512];

	assert_int_equal(manifest_parse("{\"id\": ", 7, WHERE, 0, &m, err,
	    sizeof(err)), FW_ERR_PARSE);
	assert_null(m);
	assert_non_null(strstr(err, WHERE ":1:"));
	assert_int_equal(manifest_parse("[1]", 3, WHERE, 0, &m, err,
	    sizeof(err)), FW_ERR_PARSE);
	assert_non_null(strstr(err, "must be a JSON object"));
	assert_int_equal(manifest_parse("{\"id\": \"a\", \"id\": \"b\"}", 22,
	    WHERE, 0, &m, err, sizeof(err)), FW_ERR_PARSE);
	assert_non_null(strstr(err, "duplicate"));
}

static void test_extract_version(void **state)
{
	struct manifest *m = parse_ok(base, 0);
	char *v;

	v = manifest_extract_version(m, "8.70 0x8000d96e 1.3295.0");
	assert_string_equal(v, "8.70");
	free(v);
	assert_null(manifest_extract_version(m, "N/A"));
	assert_null(manifest_extract_version(m, ""));
	assert_null(manifest_extract_version(m, NULL));
	free(m->regex);
	regfree(&m->re);
	m->regex = NULL;
	v = manifest_extract_version(m, "U30 v2.80");
	assert_string_equal(v, "U30 v2.80");
	free(v);
	manifest_free(m);
}

static void test_helpers(void **state)
{
	enum manifest_kind k;

	assert_true(manifest_pattern_match("MZXL5*", "MZXL53T8HBLS-000H3"));
	assert_false(manifest_pattern_match("MZXL5*", "MZXL4"));
	assert_true(manifest_pattern_match("*", "anything"));
	assert_true(manifest_pattern_match("i40e", "i40e"));
	assert_false(manifest_pattern_match("i40e", "i40evf"));
	assert_false(manifest_pattern_match("i40e", NULL));
	assert_int_equal(manifest_kind_parse("driver", &k), 0);
	assert_int_equal(k, MANIFEST_DRIVER);
	assert_int_equal(manifest_kind_parse("Driver", &k), FW_ERR_INVALID);
	assert_string_equal(manifest_kind_name(MANIFEST_SOFTWARE), "software");
	assert_string_equal(manifest_source_name(SRC_DISK_FIRMWARE),
	    "disk.firmware_rev");
	assert_true(manifest_id_valid("a"));
	assert_false(manifest_id_valid(".a"));
	assert_false(manifest_id_valid(NULL));
	assert_true(manifest_version_valid("0x80000835"));
	assert_false(manifest_version_valid("."));
	assert_true(manifest_file_name_valid("U30_2.90.fwpkg"));
	assert_false(manifest_file_name_valid("a/b"));
	assert_false(manifest_file_name_valid("-rf"));
	assert_true(manifest_sha256_valid(SHA_A));
	assert_false(manifest_sha256_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_manifest),
		cmocka_unit_test(test_bad_manifests),
		cmocka_unit_test(test_bindings),
		cmocka_unit_test(test_defaults_and_variants),
		cmocka_unit_test(test_unhashed),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_extract_version),
		cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
