/*
 * The systemd unit `fwfleet agent install` writes (agent/fwfleet-agent.service,
 * built into the controller): what is built in is the file, systemd's own
 * checker finds nothing to say about it, and its hardening keeps the
 * exposure `systemd-analyze security` measures at or below the level it
 * has (6.9 of 10 when written). No systemd needs to run: both checks
 * work offline. The test nodes cannot run the unit (they share the
 * host's systemd, and this machine has none), so this is what is checked
 * of the systemd path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_unit.h"
#include "util.h"

#define EXPOSURE_MAX	6.9
#define UNIT_EXEC	"/usr/local/libexec/fwfleet/fwfleet-engine"

static char dir[] = "/tmp/fwf-agent-unit.XXXXXX";

/* Runs cmd (a shell line), its output and exit status into *out, *rc. */
static char *run(const char *cmd, int *rc)
{
	char buf[4096], *out = xstrdup(""), *more;
	FILE *p = popen(cmd, "r");
	int st;

	assert_non_null(p);
	while (fgets(buf, sizeof(buf), p) != NULL) {
		more = xasprintf("%s%s", out, buf);
		free(out);
		out = more;
	}
	st = pclose(p);
	*rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return out;
}

/* The unit with its ExecStart pointing at the engine we built (verify
 * wants the command to exist), written to dir/fwfleet-agent.service. */
static const char *write_unit(void)
{
	static char path[128];
	const char *engine = getenv("FWFLEET_ENGINE");
	const char *at = strstr(AGENT_UNIT, UNIT_EXEC);
	char *text;

	assert_non_null(engine);
	assert_non_null(at);
	text = xasprintf("%.*s%s%s", (int)(at - AGENT_UNIT), AGENT_UNIT, engine,
	    at + strlen(UNIT_EXEC));
	snprintf(path, sizeof(path), "%s/fwfleet-agent.service", dir);
	assert_int_equal(fw_write_file(path, text, strlen(text), 0644), 0);
	free(text);
	return path;
}

static void test_built_in_is_the_file(void **state)
{
	const char *fixtures = getenv("FWFLEET_FIXTURES");
	char *path, *text = NULL;
	size_t len;

	(void)state;
	assert_non_null(fixtures);
	path = xasprintf("%s/../../agent/fwfleet-agent.service", fixtures);
	assert_int_equal(fw_read_file(path, 65536, &text, &len), 0);
	assert_string_equal(text, AGENT_UNIT);
	free(text);
	free(path);
}

static void test_systemd_verify_is_silent(void **state)
{
	char *cmd, *out;
	int rc;

	(void)state;
	cmd = xasprintf("systemd-analyze verify %s 2>&1", write_unit());
	out = run(cmd, &rc);
	if (rc != 0 || out[0] != '\0')
		fail_msg("systemd-analyze verify (rc %d; systemd-analyze comes "
		    "with Debian's systemd package, scripts/setup.sh installs "
		    "it): %s", rc, out);
	free(out);
	free(cmd);
}

static void test_security_exposure(void **state)
{
	static const char *const want[] = {
		"NoNewPrivileges=", "ProtectHome=",
		"PrivateTmp=", "RestrictSUIDSGID=", "RestrictNamespaces=",
		"LockPersonality=",
	};
	char *cmd, *out, *level, *line;
	double exposure;
	size_t i;
	int rc;

	(void)state;
	cmd = xasprintf("systemd-analyze security --offline=yes %s 2>&1",
	    write_unit());
	out = run(cmd, &rc);
	level = strstr(out, "Overall exposure level for fwfleet-agent.service: ");
	if (level == NULL)
		fail_msg("no exposure level from systemd-analyze security "
		    "(rc %d): %s", rc, out);
	exposure = strtod(level + strlen("Overall exposure level for "
	    "fwfleet-agent.service: "), NULL);
	printf("systemd-analyze security: exposure %.1f of 10 (at most %.1f)\n",
	    exposure, EXPOSURE_MAX);
	assert_true(exposure > 0 && exposure <= EXPOSURE_MAX + 0.01);
	/* Each setting the unit claims is one systemd counts as passed
	 * (ProtectSystem=full is not: only "strict" is, which would keep
	 * every installer from writing anywhere but a few paths). */
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		line = strstr(out, want[i]);
		if (line == NULL || line < out + 4 || strncmp(line - 4, "✓ ",
		    4) != 0)
			fail_msg("systemd does not count %s as set", want[i]);
	}
	free(out);
	free(cmd);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	char *path = xasprintf("%s/fwfleet-agent.service", dir);

	(void)state;
	unlink(path);
	free(path);
	return rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_built_in_is_the_file),
		cmocka_unit_test(test_systemd_verify_is_silent),
		cmocka_unit_test(test_security_exposure),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
