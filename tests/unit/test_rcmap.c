/*
 * Unit tests for common/rcmap.c: installer exit codes → outcomes under
 * each convention and custom maps; outcome names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "err.h"
#include "rcmap.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define OUT(x)		FWFLEET__INSTALL_OUTCOME__OUTCOME_##x

struct want {
	int code;
	Fwfleet__InstallOutcome outcome;
};

static void check_convention(const char *name, const struct want *w,
    size_t n)
{
	Fwfleet__ReturnCodeMap map = FWFLEET__RETURN_CODE_MAP__INIT;
	size_t i;

	map.convention = (char *)name;
	assert_int_equal(rcmap_check(&map), 0);
	for (i = 0; i < n; i++) {
		if (rcmap_outcome(&map, w[i].code) != w[i].outcome)
			fail_msg("%s: exit %d gave %s, want %s", name,
			    w[i].code, rcmap_outcome_name(rcmap_outcome(&map,
			    w[i].code)), rcmap_outcome_name(w[i].outcome));
	}
}

static void test_hp_linux(void **state)
{
	static const struct want w[] = {
		{ 0, OUT(SUCCESS) }, { 1, OUT(SUCCESS_REBOOT) },
		{ 2, OUT(ALREADY_CURRENT) }, { 3, OUT(FAILED) },
		{ 4, OUT(FAILED) }, { 7, OUT(FAILED) }, { 8, OUT(FAILED) },
		{ 255, OUT(FAILED) }, { 1000, OUT(FAILED) }, { -1, OUT(FAILED) },
	};

	check_convention("hp-linux", w, ARRAY_SIZE(w));
}

static void test_hp_linux_multi(void **state)
{
	static const struct want w[] = {
		{ 0, OUT(SUCCESS) }, { 1, OUT(SUCCESS_REBOOT) },
		{ 2, OUT(ALREADY_CURRENT) }, { 3, OUT(NOT_APPLICABLE) },
		{ 4, OUT(FAILED) }, { 5, OUT(FAILED) }, { 6, OUT(FAILED) },
		{ 7, OUT(FAILED) }, { 8, OUT(FAILED) }, { -9, OUT(FAILED) },
	};

	check_convention("hp-linux-multi", w, ARRAY_SIZE(w));
}

static void test_hp_windows(void **state)
{
	static const struct want w[] = {
		{ 0, OUT(FAILED) }, { 1, OUT(SUCCESS) },
		{ 2, OUT(SUCCESS_REBOOT) }, { 3, OUT(NOT_APPLICABLE) },
		{ 4, OUT(FAILED) }, { 3010, OUT(FAILED) }, { -1, OUT(FAILED) },
	};

	check_convention("hp-windows", w, ARRAY_SIZE(w));
}

static void test_rpm(void **state)
{
	static const struct want w[] = {
		{ 0, OUT(SUCCESS) }, { 1, OUT(FAILED) }, { 2, OUT(FAILED) },
		{ 127, OUT(FAILED) }, { -1, OUT(FAILED) },
	};

	check_convention("rpm", w, ARRAY_SIZE(w));
}

/* No map at all: HP's Linux convention, as the design says. */
static void test_null_map(void **state)
{
	assert_int_equal(rcmap_check(NULL), 0);
	assert_int_equal(rcmap_outcome(NULL, 0), OUT(SUCCESS));
	assert_int_equal(rcmap_outcome(NULL, 1), OUT(SUCCESS_REBOOT));
	assert_int_equal(rcmap_outcome(NULL, 2), OUT(ALREADY_CURRENT));
	assert_int_equal(rcmap_outcome(NULL, 3), OUT(FAILED));
	assert_int_equal(rcmap_outcome(NULL, -1), OUT(FAILED));
}

static void test_unknown_convention(void **state)
{
	Fwfleet__ReturnCodeMap map = FWFLEET__RETURN_CODE_MAP__INIT;

	map.convention = "hp-linux-v9";
	assert_int_equal(rcmap_check(&map), FW_ERR_INVALID);
	assert_int_equal(rcmap_outcome(&map, 0), OUT(FAILED));
	assert_false(rcmap_convention_known("hp-linux-v9"));
	assert_false(rcmap_convention_known(NULL));
	assert_false(rcmap_convention_known("HP-LINUX"));
	assert_true(rcmap_convention_known("hp-linux"));
	assert_true(rcmap_convention_known("hp-linux-multi"));
	assert_true(rcmap_convention_known("hp-windows"));
	assert_true(rcmap_convention_known("rpm"));
}

static void test_custom(void **state)
{
	Fwfleet__ReturnCodeMap map = FWFLEET__RETURN_CODE_MAP__INIT;
	Fwfleet__ReturnCodeMap__CodesEntry e[3] = {
		FWFLEET__RETURN_CODE_MAP__CODES_ENTRY__INIT,
		FWFLEET__RETURN_CODE_MAP__CODES_ENTRY__INIT,
		FWFLEET__RETURN_CODE_MAP__CODES_ENTRY__INIT,
	};
	Fwfleet__ReturnCodeMap__CodesEntry *codes[3] = { &e[0], &e[1], &e[2] };

	e[0].key = 0;
	e[0].value = OUT(SUCCESS);
	e[1].key = 10;
	e[1].value = OUT(SUCCESS_REBOOT);
	e[2].key = 20;
	e[2].value = OUT(ALREADY_CURRENT);
	map.n_codes = 3;
	map.codes = codes;
	assert_int_equal(rcmap_check(&map), 0);
	assert_int_equal(rcmap_outcome(&map, 0), OUT(SUCCESS));
	assert_int_equal(rcmap_outcome(&map, 10), OUT(SUCCESS_REBOOT));
	assert_int_equal(rcmap_outcome(&map, 20), OUT(ALREADY_CURRENT));
	/* Not listed, no default: failed. */
	assert_int_equal(rcmap_outcome(&map, 1), OUT(FAILED));
	assert_int_equal(rcmap_outcome(&map, -1), OUT(FAILED));
	map.default_outcome = OUT(NOT_APPLICABLE);
	assert_int_equal(rcmap_outcome(&map, 1), OUT(NOT_APPLICABLE));
	assert_int_equal(rcmap_outcome(&map, 10), OUT(SUCCESS_REBOOT));
	/* A killed installer fails whatever the default says. */
	map.default_outcome = OUT(SUCCESS);
	assert_int_equal(rcmap_outcome(&map, -1), OUT(FAILED));
	/* A NULL convention is the same as "". */
	map.convention = NULL;
	assert_int_equal(rcmap_outcome(&map, 20), OUT(ALREADY_CURRENT));
}

static void test_custom_invalid(void **state)
{
	Fwfleet__ReturnCodeMap map = FWFLEET__RETURN_CODE_MAP__INIT;
	Fwfleet__ReturnCodeMap__CodesEntry e =
	    FWFLEET__RETURN_CODE_MAP__CODES_ENTRY__INIT;
	Fwfleet__ReturnCodeMap__CodesEntry *codes[1] = { &e };

	/* An empty custom map: everything fails, but it is usable. */
	assert_int_equal(rcmap_check(&map), 0);
	assert_int_equal(rcmap_outcome(&map, 0), OUT(FAILED));
	e.key = 0;
	e.value = OUT(UNKNOWN);
	map.n_codes = 1;
	map.codes = codes;
	assert_int_equal(rcmap_check(&map), FW_ERR_INVALID);
	assert_int_equal(rcmap_outcome(&map, 0), OUT(FAILED));
	e.value = (Fwfleet__InstallOutcome)42;
	assert_int_equal(rcmap_check(&map), FW_ERR_INVALID);
	assert_int_equal(rcmap_outcome(&map, 0), OUT(FAILED));
	e.value = OUT(SUCCESS);
	map.default_outcome = (Fwfleet__InstallOutcome)9;
	assert_int_equal(rcmap_check(&map), FW_ERR_INVALID);
	assert_int_equal(rcmap_outcome(&map, 3), OUT(FAILED));
}

static void test_names(void **state)
{
	static const struct {
		const char *name;
		Fwfleet__InstallOutcome o;
	} v[] = {
		{ "success", OUT(SUCCESS) },
		{ "success-reboot-required", OUT(SUCCESS_REBOOT) },
		{ "already-current", OUT(ALREADY_CURRENT) },
		{ "not-applicable", OUT(NOT_APPLICABLE) },
		{ "failed", OUT(FAILED) },
	};
	Fwfleet__InstallOutcome o;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(v); i++) {
		assert_string_equal(rcmap_outcome_name(v[i].o), v[i].name);
		assert_int_equal(rcmap_outcome_parse(v[i].name, &o), 0);
		assert_int_equal(o, v[i].o);
	}
	assert_string_equal(rcmap_outcome_name(OUT(UNKNOWN)), "unknown");
	assert_string_equal(rcmap_outcome_name((Fwfleet__InstallOutcome)77),
	    "unknown");
	assert_int_equal(rcmap_outcome_parse("unknown", &o), FW_ERR_INVALID);
	assert_int_equal(o, OUT(UNKNOWN));
	assert_int_equal(rcmap_outcome_parse("Success", &o), FW_ERR_INVALID);
	assert_int_equal(rcmap_outcome_parse("", &o), FW_ERR_INVALID);
	assert_int_equal(rcmap_outcome_parse(NULL, &o), FW_ERR_INVALID);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hp_linux),
		cmocka_unit_test(test_hp_linux_multi),
		cmocka_unit_test(test_hp_windows),
		cmocka_unit_test(test_rpm),
		cmocka_unit_test(test_null_map),
		cmocka_unit_test(test_unknown_convention),
		cmocka_unit_test(test_custom),
		cmocka_unit_test(test_custom_invalid),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
