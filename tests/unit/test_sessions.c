/* controller/sessions: which runs died, and forgetting old ones. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "sessions.h"
#include "util.h"

static char dir[] = "/tmp/fwfleet-test-sessions.XXXXXX";

static void plant(const char *sid, const char *text, long age_s)
{
	char *path = xasprintf("%s/sessions/%s", dir, sid);
	struct timeval tv[2];

	assert_int_equal(fw_write_file(path, text, strlen(text), 0600), 0);
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= age_s;
	tv[1] = tv[0];
	assert_int_equal(utimes(path, tv), 0);
	free(path);
}

static void test_live_and_dead(void **state)
{
	char err[256], **dead;
	size_t n;

	assert_int_equal(sessions_register(dir, "00000000000000aa", err,
	    sizeof(err)), 0);
	/* A pid that runs, but not the process that wrote the record. */
	plant("00000000000000bb", "1 12345\n", 10);
	/* No such process. */
	plant("00000000000000cc", "2147483000 1\n", 5);
	plant("not-a-session", "2147483000 1\n", 5);
	n = sessions_dead(dir, &dead);
	assert_int_equal(n, 2);
	/* Newest first. */
	assert_string_equal(dead[0], "00000000000000cc");
	assert_string_equal(dead[1], "00000000000000bb");
	assert_true(sessions_contains(dead, n, "00000000000000bb"));
	assert_false(sessions_contains(dead, n, "00000000000000aa"));
	sessions_free(dead, n);
	sessions_unregister(dir, "00000000000000aa");
	sessions_unregister(dir, "00000000000000bb");
	sessions_unregister(dir, "00000000000000cc");
	n = sessions_dead(dir, &dead);
	assert_int_equal(n, 0);
	sessions_free(dead, n);
}

static void test_old_records_forgotten(void **state)
{
	char *path = xasprintf("%s/sessions/00000000000000dd", dir);
	char **dead;
	size_t n;

	plant("00000000000000dd", "2147483000 1\n", SESSIONS_KEEP_S + 60);
	n = sessions_dead(dir, &dead);
	assert_int_equal(n, 0);
	assert_int_not_equal(access(path, F_OK), 0);
	sessions_free(dead, n);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_and_dead),
		cmocka_unit_test(test_old_records_forgotten),
	};
	char *cmd;
	int r;

	if (mkdtemp(dir) == NULL)
		return 1;
	cmd = xasprintf("%s/sessions", dir);
	mkdir(cmd, 0700);
	free(cmd);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	cmd = xasprintf("rm -rf -- '%s'", dir);
	if (system(cmd) != 0)
		r = 1;
	free(cmd);
	return r;
}
