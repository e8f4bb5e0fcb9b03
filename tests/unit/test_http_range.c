/*
 * Range header parsing: every form RFC 9110 allows, the malformed ones
 * that must be ignored, and the edges (empty files, huge numbers).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "http_range.h"

/* Parses s (NUL-terminated) against size; checks kind and, if partial,
 * the range. */
static void check(const char *s, uint64_t size, enum http_range_kind want,
    uint64_t first, uint64_t last)
{
	struct http_range r = { 99, 99 };
	enum http_range_kind k;

	k = http_range_parse(s, s != NULL ? strlen(s) : 0, size, &r);
	if (k != want)
		fail_msg("\"%s\" size %llu: kind %d, want %d", s ? s : "(null)",
		    (unsigned long long)size, (int)k, (int)want);
	if (want == HTTP_RANGE_PARTIAL) {
		assert_int_equal(r.first, first);
		assert_int_equal(r.last, last);
	} else {
		assert_int_equal(r.first, 0);
		assert_int_equal(r.last, 0);
	}
}

static void full(const char *s, uint64_t size)
{
	check(s, size, HTTP_RANGE_FULL, 0, 0);
}

static void part(const char *s, uint64_t size, uint64_t first, uint64_t last)
{
	check(s, size, HTTP_RANGE_PARTIAL, first, last);
}

static void unsat(const char *s, uint64_t size)
{
	check(s, size, HTTP_RANGE_UNSATISFIABLE, 0, 0);
}

static void test_no_header(void **state)
{
	full(NULL, 0);
	full(NULL, 1000);
}

static void test_first_last(void **state)
{
	part("bytes=0-0", 1000, 0, 0);
	part("bytes=0-499", 1000, 0, 499);
	part("bytes=500-999", 1000, 500, 999);
	part("bytes=999-999", 1000, 999, 999);
	part("bytes=10-10", 11, 10, 10);
}

static void test_last_clipped(void **state)
{
	part("bytes=500-1000", 1000, 500, 999);
	part("bytes=0-18446744073709551615", 1000, 0, 999);
	part("bytes=1-99999999999999999999999999999999", 10, 1, 9);
}

static void test_open_ended(void **state)
{
	part("bytes=0-", 1000, 0, 999);
	part("bytes=999-", 1000, 999, 999);
	part("bytes=123456-", 1 << 20, 123456, (1 << 20) - 1);
	unsat("bytes=1000-", 1000);
	unsat("bytes=5000-", 1000);
}

static void test_suffix(void **state)
{
	part("bytes=-1", 1000, 999, 999);
	part("bytes=-500", 1000, 500, 999);
	part("bytes=-1000", 1000, 0, 999);
	part("bytes=-1001", 1000, 0, 999);
	part("bytes=-99999999999999999999999", 1000, 0, 999);
	unsat("bytes=-0", 1000);
	unsat("bytes=-000", 1000);
}

static void test_unsatisfiable(void **state)
{
	unsat("bytes=1000-1000", 1000);
	unsat("bytes=1000-2000", 1000);
	unsat("bytes=18446744073709551615-", 1000);
	unsat("bytes=99999999999999999999999-", 1000);
	unsat("bytes=99999999999999999999999-99999999999999999999999", 10);
}

static void test_empty_file(void **state)
{
	unsat("bytes=0-0", 0);
	unsat("bytes=0-", 0);
	unsat("bytes=0-100", 0);
	unsat("bytes=-0", 0);
	/* Satisfiable per RFC 9110 but there is no part to name. */
	full("bytes=-1", 0);
	full("bytes=-100", 0);
}

static void test_last_before_first(void **state)
{
	full("bytes=5-4", 1000);
	full("bytes=999-0", 1000);
	/* Invalid even when it lies past the end. */
	full("bytes=2000-1500", 1000);
}

static void test_spaces(void **state)
{
	part("  bytes=0-9  ", 100, 0, 9);
	part("bytes= 0-9", 100, 0, 9);
	part("bytes=0-9 ", 100, 0, 9);
	part("bytes=\t0-9\t", 100, 0, 9);
	part("\tbytes=-5", 100, 95, 99);
	/* No white space inside a range-spec or before the '='. */
	full("bytes=0 -9", 100);
	full("bytes=0- 9", 100);
	full("bytes= - 5", 100);
	full("bytes =0-9", 100);
}

static void test_malformed(void **state)
{
	full("", 100);
	full("bytes", 100);
	full("bytes=", 100);
	full("bytes=   ", 100);
	full("bytes=,", 100);
	full("bytes=-", 100);
	full("bytes=--5", 100);
	full("bytes=a-b", 100);
	full("bytes=1-2-3", 100);
	full("bytes=+1-2", 100);
	full("bytes=0x10-20", 100);
	full("bytes=1--2", 100);
	full("bytes:0-9", 100);
	full("=0-9", 100);
	full("bytes=0-9;", 100);
	full("bytes=0-9x", 100);
}

static void test_other_units(void **state)
{
	full("items=0-9", 100);
	full("byte=0-9", 100);
	full("bytesx=0-9", 100);
	full("none", 100);
	/* The unit is case-insensitive. */
	part("BYTES=0-9", 100, 0, 9);
	part("Bytes=10-", 100, 10, 99);
}

static void test_multiple(void **state)
{
	full("bytes=0-9,20-29", 100);
	full("bytes=0-9, 20-29", 100);
	full("bytes=-5,0-1", 100);
	/* One malformed range makes the whole header invalid. */
	full("bytes=0-9,x", 100);
	/* Several ranges, none satisfiable: still ignored. */
	full("bytes=200-300,400-", 100);
}

static void test_empty_elements(void **state)
{
	part("bytes=0-9,", 100, 0, 9);
	part("bytes=,0-9", 100, 0, 9);
	part("bytes= , 0-9 , ,", 100, 0, 9);
}

static void test_not_nul_terminated(void **state)
{
	const char buf[] = "bytes=10-19999";
	struct http_range r;

	/* Only the first 11 bytes: "bytes=10-19". */
	assert_int_equal(http_range_parse(buf, 11, 100, &r),
	    HTTP_RANGE_PARTIAL);
	assert_int_equal(r.first, 10);
	assert_int_equal(r.last, 19);
	assert_int_equal(http_range_parse(buf, 0, 100, &r), HTTP_RANGE_FULL);
}

static void test_huge_size(void **state)
{
	part("bytes=18446744073709551613-", UINT64_MAX,
	    18446744073709551613ull, UINT64_MAX - 1);
	part("bytes=-2", UINT64_MAX, UINT64_MAX - 2, UINT64_MAX - 1);
	part("bytes=0-", UINT64_MAX, 0, UINT64_MAX - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_header),
		cmocka_unit_test(test_first_last),
		cmocka_unit_test(test_last_clipped),
		cmocka_unit_test(test_open_ended),
		cmocka_unit_test(test_suffix),
		cmocka_unit_test(test_unsatisfiable),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_last_before_first),
		cmocka_unit_test(test_spaces),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_other_units),
		cmocka_unit_test(test_multiple),
		cmocka_unit_test(test_empty_elements),
		cmocka_unit_test(test_not_nul_terminated),
		cmocka_unit_test(test_huge_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
