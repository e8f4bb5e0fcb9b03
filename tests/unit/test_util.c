/* common/util: text cleaning, hex, writes, shell quoting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "err.h"
#include "util.h"

static void check_clean(const char *in, unsigned keep, const char *want)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%s", in);
	fw_text_clean(buf, keep);
	assert_string_equal(buf, want);
}

static void test_text_clean(void **state)
{
	/* Invalid UTF-8 always goes; valid text always stays. */
	check_clean("ok \xc3\xa9 \xff\xfe", 0, "ok \xc3\xa9 ??");
	check_clean("a\xe2\x82", FW_TEXT_KEEP_C0 | FW_TEXT_KEEP_C1, "a??");
	/* Controls, unless kept. */
	check_clean("a\tb\nc\x1b" "d\x7f", 0, "a?b?c?d?");
	check_clean("a\tb\nc", FW_TEXT_KEEP_TAB, "a\tb?c");
	check_clean("a\tb\r\nc", FW_TEXT_KEEP_TAB | FW_TEXT_KEEP_BREAKS,
	    "a\tb\r\nc");
	check_clean("a\x1b[1m", FW_TEXT_KEEP_C0, "a\x1b[1m");
	/* C1 controls (U+0080..U+009F) become "??" unless kept. */
	check_clean("x\xc2\x9by", 0, "x??y");
	check_clean("x\xc2\x9by", FW_TEXT_KEEP_C1, "x\xc2\x9by");
	check_clean("x\xc2\xa0y", 0, "x\xc2\xa0y");
}

static void test_hex(void **state)
{
	const unsigned char b[] = { 0x00, 0x7f, 0xa5, 0xff };
	char hex[9];
	char sha[65];

	fw_hex_encode(b, sizeof(b), hex);
	assert_string_equal(hex, "007fa5ff");
	fw_sha256_hex("abc", 3, sha);
	assert_string_equal(sha, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
}

static void test_write_all(void **state)
{
	static char big[1 << 20];
	char *back;
	size_t i, len;
	int p[2];
	char path[] = "/tmp/fwfleet-test-util-XXXXXX";
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	assert_int_equal(fw_write_all(fd, big, sizeof(big)), 0);
	close(fd);
	assert_int_equal(fw_read_file(path, 2 * sizeof(big), &back, &len), 0);
	assert_int_equal(len, sizeof(big));
	assert_memory_equal(back, big, sizeof(big));
	free(back);
	/* At most max bytes: exactly max is read, one more is refused, also
	 * below the first read's size. */
	assert_int_equal(fw_read_file(path, sizeof(big), &back, &len), 0);
	assert_int_equal(len, sizeof(big));
	free(back);
	assert_int_equal(fw_read_file(path, sizeof(big) - 1, &back, &len),
	    FW_ERR_FRAME_TOO_BIG);
	assert_null(back);
	assert_int_equal(fw_read_file(path, 100, &back, &len),
	    FW_ERR_FRAME_TOO_BIG);
	unlink(path);
	/* A closed reader: the write fails instead of looping. */
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	assert_int_equal(fw_write_all(p[1], "x", 1), FW_ERR_SYSTEM);
	close(p[1]);
}

static void test_sh_quote(void **state)
{
	char *q = fw_sh_quote("it's /tmp/a b");

	assert_string_equal(q, "'it'\\''s /tmp/a b'");
	free(q);
	q = fw_sh_quote("");
	assert_string_equal(q, "''");
	free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_clean),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_write_all),
		cmocka_unit_test(test_sh_quote),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
