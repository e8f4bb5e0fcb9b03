/*
 * Unit tests for common/version.c: the ordering of firmware, driver and
 * software versions (rules in common/version.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "version.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static int sign(int v)
{
	return v < 0 ? -1 : v > 0;
}

/* a < b, checked both ways round. */
static void check_less(const char *a, const char *b)
{
	if (sign(version_compare(a, b)) != -1 ||
	    sign(version_compare(b, a)) != 1)
		fail_msg("expected \"%s\" < \"%s\" (got %d, reverse %d)", a, b,
		    version_compare(a, b), version_compare(b, a));
}

static void check_equal(const char *a, const char *b)
{
	if (version_compare(a, b) != 0 || version_compare(b, a) != 0)
		fail_msg("expected \"%s\" == \"%s\" (got %d, reverse %d)", a,
		    b, version_compare(a, b), version_compare(b, a));
}

static void test_dotted_numbers(void **state)
{
	static const char *const pairs[][2] = {
		{ "2.9", "2.10" }, { "1.2", "1.3" }, { "1.2.3", "1.2.4" },
		{ "1.9.9", "1.10" }, { "0.9", "1" }, { "2.80", "2.90" },
		{ "8.70", "8.80" }, { "9", "10" }, { "1.2", "1.2.1" },
		{ "16.35.2000", "16.35.4030" }, { "224.0.110.0", "224.1.0" },
		{ "2.9", "2.80" },	/* numbers, not decimals */
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(pairs); i++)
		check_less(pairs[i][0], pairs[i][1]);
}

static void test_equal_forms(void **state)
{
	static const char *const pairs[][2] = {
		{ "1.2", "1.2.0" }, { "1.2", "1.2.0.0" }, { "1.02", "1.2" },
		{ "v2.80", "2.80" }, { "V2.80", "2.80" }, { "1.0a", "1.0A" },
		{ "1-2-3", "1.2.3" }, { "1_2", "1.2" }, { "0x0a", "0xA" },
		{ "", "0" }, { NULL, "" }, { "1.0-rc1", "1-rc1" },
		{ "2.19.1", "2.19.1" }, { " 1.2 ", "1.2" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(pairs); i++)
		check_equal(pairs[i][0], pairs[i][1]);
}

static void test_suffixes(void **state)
{
	static const char *const pairs[][2] = {
		{ "1.2.3", "1.2.3a" }, { "1.2.3a", "1.2.3b" },
		{ "1.2.3a", "1.2.4" }, { "1.2a", "1.2.1" },
		{ "3.8", "3.8a" }, { "1.0a", "1.0.1" }, { "1.2.3z", "1.2.3.1" },
		{ "1.0-1", "1.0-2" }, { "1.0", "1.0-1" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(pairs); i++)
		check_less(pairs[i][0], pairs[i][1]);
}

static void test_pre_releases(void **state)
{
	static const char *const pairs[][2] = {
		{ "1.0-rc1", "1.0" }, { "1.0-rc1", "1.0-rc2" },
		{ "1.0-beta", "1.0-rc1" }, { "1.0-alpha", "1.0-beta" },
		{ "1.0-dev", "1.0-alpha" }, { "1.0-pre", "1.0-rc" },
		{ "1.0rc1", "1.0" }, { "1.0.0-rc1", "1.0" },
		{ "1.0-RC1", "1.0" }, { "1.0~beta", "1.0-beta" },
		{ "1.0~rc1", "1.0" }, { "0.9", "1.0-rc1" },
		{ "1.0-rc1", "1.0a" }, { "1.0-rc9", "1.0.1" },
		{ "2.0-beta2", "2.0-beta10" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(pairs); i++)
		check_less(pairs[i][0], pairs[i][1]);
	check_equal("1.0-preview", "1.0-pre");
}

static void test_hex(void **state)
{
	check_less("0x800006e1", "0x80000835");
	check_less("0x9", "0xa");
	check_less("0xff", "0x100");
	check_less("0x0FFF", "0x1000");
	check_equal("0x10", "16");		/* hex and decimal by value */
	check_less("0x800006e1", "0x800006e1a");	/* more hex digits */
	check_less("0xffffffffffffffff", "0x10000000000000000");
	check_less("99999999999999999999", "100000000000000000000");
	check_less("18446744073709551615", "18446744073709551616");
	check_less("0x1", "99999999999999999999");
}

static void test_words_and_firmware_strings(void **state)
{
	check_less("HPK1", "HPK2");
	check_less("HPK2", "HPK10");
	check_less("EDA7502Q", "EDA7602Q");
	check_less("VDV1DP23", "VDV1DP25");
	check_less("HPD3", "HPD4");
	check_less("4B6Q", "4B7Q");
	check_less("U30 v2.80", "U30 v2.90");
	check_less("U30 v2.80", "U31 v1.00");	/* family number decides */
	check_less("8.70 0x8000d96e 1.3295.0", "8.80 0x8000e1a2 1.3353.0");
	check_less("8.70", "8.70 0x8000d96e 1.3295.0");
	check_less("8.70 0x8000d96e 1.3295.0", "8.80");
	check_less("5719-v1.46 NCSI v1.5.18.0", "5719-v1.47 NCSI v1.5.18.0");
	check_less("abc", "abd");
	check_less("ABC", "abd");
}

/* One side starts with a number: the other is read from its core. */
static void test_alignment(void **state)
{
	check_less("U30 v2.80", "2.90");
	check_less("2.72", "U30 v2.80");
	check_equal("U30 v2.80", "2.80");
	check_equal("IVE176E-3.22", "3.22");
	check_less("IVE176E-3.22", "3.30");
	check_less("3.10", "IVE176E-3.22");
	check_equal("Version 1.2", "1.2");
	check_equal("fw v7", "7");
	check_less("build 41", "42");
	check_equal("224.0.110.0/pkg 224.1.102.0", "224.0.110.0/pkg 224.1.102.0");
}

static void test_empty_and_odd(void **state)
{
	check_less("", "1");
	check_less(NULL, "0.1");
	check_less("", "a");
	check_less("~", "");
	check_equal("...", "");
	check_equal("-", "0.0");
	check_less("1.0", "1.0.0.0.0.1");
	check_less("1", "1.0.5");
}

/* Past 128 tokens nothing counts, and nothing overflows. */
static void test_long_versions(void **state)
{
	char a[2048], b[2048];
	size_t i, n = 0;

	for (i = 0; i < 300; i++)
		n += (size_t)snprintf(a + n, sizeof(a) - n, "1.");
	memcpy(b, a, n + 1);
	a[n - 1] = '\0';
	b[n] = '2';
	b[n + 1] = '\0';
	check_equal(a, b);	/* the difference is past token 128 */
	memcpy(b, a, n);
	b[0] = '2';
	check_less(a, b);
}

/* Sorting a list with qsort gives the documented order. */
static int cmp(const void *a, const void *b)
{
	return version_compare(*(const char *const *)a,
	    *(const char *const *)b);
}

static void test_sort(void **state)
{
	const char *v[] = { "1.10", "1.0", "1.0-rc2", "1.2a", "1.0-beta",
	    "1.9", "1.2", "1.0-rc10", "1.2.1", "0.9" };
	static const char *const want[] = { "0.9", "1.0-beta", "1.0-rc2",
	    "1.0-rc10", "1.0", "1.2", "1.2a", "1.2.1", "1.9", "1.10" };
	size_t i;

	qsort(v, ARRAY_SIZE(v), sizeof(v[0]), cmp);
	for (i = 0; i < ARRAY_SIZE(v); i++)
		assert_string_equal(v[i], want[i]);
}

/* Transitivity over a mixed set (no alignment: all start alike). */
static void test_transitive(void **state)
{
	static const char *const v[] = { "1", "1.0", "1a", "1.0~", "1.0.0a",
	    "1-rc1", "1.0.1", "1.1", "1.0-beta", "1.a", "1~", "1.0.0.1",
	    "1b", "1.0z", "2", "1.0-1", "1.0.0-rc1", "1.0.0.0" };
	size_t i, j, k, n = ARRAY_SIZE(v);
	int ab, bc, ac;

	for (i = 0; i < n; i++) {
		for (j = 0; j < n; j++) {
			assert_int_equal(sign(version_compare(v[i], v[j])),
			    -sign(version_compare(v[j], v[i])));
			for (k = 0; k < n; k++) {
				ab = sign(version_compare(v[i], v[j]));
				bc = sign(version_compare(v[j], v[k]));
				ac = sign(version_compare(v[i], v[k]));
				if (ab <= 0 && bc <= 0 && ac > 0)
					fail_msg("not transitive: %s <= %s <= "
					    "%s but %s > %s", v[i], v[j], v[k],
					    v[i], v[k]);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dotted_numbers),
		cmocka_unit_test(test_equal_forms),
		cmocka_unit_test(test_suffixes),
		cmocka_unit_test(test_pre_releases),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_words_and_firmware_strings),
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_empty_and_odd),
		cmocka_unit_test(test_long_versions),
		cmocka_unit_test(test_sort),
		cmocka_unit_test(test_transitive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
