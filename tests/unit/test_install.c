/*
 * The installer runner with real child processes: shell scripts written
 * into a temporary staging directory, run through install_start() on a
 * real event loop. Checks exit-code mapping through a custom map, the
 * environment and working directory, output capture and its bound, the
 * timeout and cancel paths (the whole process group must be gone
 * afterwards), and start-up errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "err.h"
#include "install.h"
#include "platform.h"
#include "util.h"

#define MAX_LINES	4096

struct tcase {
	char dir[256];
	struct event_base *base;
	Fwfleet__InstallRequest req;
	Fwfleet__ReturnCodeMap map;
	Fwfleet__ReturnCodeMap__CodesEntry codes[3];
	Fwfleet__ReturnCodeMap__CodesEntry *codep[3];
	Fwfleet__InstallRequest__EnvEntry env[2];
	Fwfleet__InstallRequest__EnvEntry *envp[2];
	char *argv[4];
	struct install_spec spec;
	const char *payloads[2];
	struct install *in;
	/* the result */
	int done;
	struct install_result res;
	char *output;
	char **lines;		/* result lines */
	size_t n_lines;
	char *streamed[MAX_LINES];	/* line callback */
	size_t n_streamed;
};

static void script(struct tcase *t, const char *name, const char *body)
{
	char path[512], *text = xasprintf("#!/bin/sh\n%s\n", body);

	snprintf(path, sizeof(path), "%s/%s", t->dir, name);
	assert_int_equal(fw_write_file(path, text, strlen(text), 0755), 0);
	free(text);
}

static int setup(void **state)
{
	struct tcase *t = calloc(1, sizeof(*t));
	static const Fwfleet__InstallOutcome outcome[3] = {
		FWFLEET__INSTALL_OUTCOME__OUTCOME_SUCCESS,
		FWFLEET__INSTALL_OUTCOME__OUTCOME_SUCCESS_REBOOT,
		FWFLEET__INSTALL_OUTCOME__OUTCOME_NOT_APPLICABLE,
	};
	static const int code[3] = { 0, 3, 7 };
	int i;

	signal(SIGPIPE, SIG_IGN);
	snprintf(t->dir, sizeof(t->dir), "/tmp/fwfleet-test-install-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	assert_non_null(t->base = event_base_new());
	/* A custom map: 0, 3, 7 listed, everything else failed. */
	fwfleet__return_code_map__init(&t->map);
	t->map.convention = (char *)"";
	for (i = 0; i < 3; i++) {
		fwfleet__return_code_map__codes_entry__init(&t->codes[i]);
		t->codes[i].key = code[i];
		t->codes[i].value = outcome[i];
		t->codep[i] = &t->codes[i];
	}
	t->map.n_codes = 3;
	t->map.codes = t->codep;
	t->map.default_outcome = FWFLEET__INSTALL_OUTCOME__OUTCOME_FAILED;
	fwfleet__install_request__init(&t->req);
	t->req.component_id = (char *)"nic-fw";
	t->req.version = (char *)"2.10";
	t->req.return_codes = &t->map;
	t->argv[0] = (char *)"install.sh";
	t->req.argv = t->argv;
	t->req.n_argv = 1;
	t->spec.req = &t->req;
	t->spec.staging_dir = t->dir;
	t->spec.grace_ms = 500;
	*state = t;
	return 0;
}

/* Forgets the last run's result. */
static void result_clear(struct tcase *t)
{
	size_t i;

	for (i = 0; i < t->n_lines; i++)
		free(t->lines[i]);
	free(t->lines);
	t->lines = NULL;
	t->n_lines = 0;
	for (i = 0; i < t->n_streamed; i++)
		free(t->streamed[i]);
	t->n_streamed = 0;
	free(t->output);
	t->output = NULL;
}

static int teardown(void **state)
{
	struct tcase *t = *state;

	platform_remove_workdir(t->dir);
	event_base_free(t->base);
	result_clear(t);
	free(t);
	return 0;
}

static void on_line(void *arg, const char *line)
{
	struct tcase *t = arg;

	if (t->n_streamed < MAX_LINES)
		t->streamed[t->n_streamed++] = xstrdup(line);
}

static void on_done(void *arg, const struct install_result *res)
{
	struct tcase *t = arg;
	size_t i;

	t->done = 1;
	t->res = *res;
	t->res.error = NULL;
	t->output = malloc(res->output_len + 1);
	memcpy(t->output, res->output, res->output_len + 1);
	t->lines = calloc(res->n_lines + 1, sizeof(*t->lines));
	for (i = 0; i < res->n_lines; i++)
		t->lines[i] = xstrdup(res->lines[i]);
	t->n_lines = res->n_lines;
	t->in = NULL;
	event_base_loopbreak(t->base);
}

static int start(struct tcase *t)
{
	char err[256];
	int r;

	r = install_start(t->base, &t->spec, on_line, on_done, t, &t->in, err,
	    sizeof(err));
	if (r != 0)
		fail_msg("install_start: %s", err);
	return r;
}

static void run(struct tcase *t)
{
	start(t);
	while (!t->done)
		event_base_dispatch(t->base);
}

static int group_gone(long pgid)
{
	return kill(-(pid_t)pgid, 0) == -1 && errno == ESRCH;
}

/* Whether the result's lines hold s. */
static int has_line(struct tcase *t, const char *s)
{
	size_t i;

	for (i = 0; i < t->n_lines; i++)
		if (strcmp(t->lines[i], s) == 0)
			return 1;
	return 0;
}

/* --- tests ------------------------------------------------------------ */

static void check_exit(struct tcase *t, const char *code,
    Fwfleet__InstallOutcome want)
{
	t->argv[1] = (char *)code;
	t->req.n_argv = 2;
	t->done = 0;
	result_clear(t);
	run(t);
	assert_int_equal(t->res.exit_code, strtol(code, NULL, 10));
	assert_int_equal(t->res.outcome, want);
	assert_false(t->res.timed_out);
	assert_false(t->res.cancelled);
	assert_int_equal(t->res.signo, 0);
}

static void test_exit_codes(void **state)
{
	struct tcase *t = *state;

	script(t, "install.sh", "exit \"$1\"");
	check_exit(t, "0", FWFLEET__INSTALL_OUTCOME__OUTCOME_SUCCESS);
	check_exit(t, "3", FWFLEET__INSTALL_OUTCOME__OUTCOME_SUCCESS_REBOOT);
	check_exit(t, "7", FWFLEET__INSTALL_OUTCOME__OUTCOME_NOT_APPLICABLE);
	check_exit(t, "9", FWFLEET__INSTALL_OUTCOME__OUTCOME_FAILED);
	check_exit(t, "1", FWFLEET__INSTALL_OUTCOME__OUTCOME_FAILED);
}

static void test_killed_by_signal(void **state)
{
	struct tcase *t = *state;

	script(t, "install.sh", "kill -9 $$");
	run(t);
	assert_int_equal(t->res.exit_code, -1);
	assert_int_equal(t->res.signo, SIGKILL);
	assert_int_equal(t->res.outcome,
	    FWFLEET__INSTALL_OUTCOME__OUTCOME_FAILED);
}

static void test_env_and_cwd(void **state)
{
	struct tcase *t = *state;
	char want[600];

	t->payloads[0] = "fw.bin";
	t->payloads[1] = "notes.txt";
	t->spec.payloads = t->payloads;
	t->spec.n_payloads = 2;
	fwfleet__install_request__env_entry__init(&t->env[0]);
	t->env[0].key = (char *)"FOO";
	t->env[0].value = (char *)"bar baz";
	fwfleet__install_request__env_entry__init(&t->env[1]);
	t->env[1].key = (char *)"FWFLEET_COMPONENT_ID";
	t->env[1].value = (char *)"not-ours";
	t->envp[0] = &t->env[0];
	t->envp[1] = &t->env[1];
	t->req.env = t->envp;
	t->req.n_env = 2;
	t->argv[1] = (char *)"arg one";
	t->req.n_argv = 2;
	script(t, "install.sh",
	    "echo \"cwd=$(pwd)\"\n"
	    "echo \"0=$0\"\n"
	    "echo \"1=$1\"\n"
	    "echo \"dir=$FWFLEET_STAGING_DIR\"\n"
	    "echo \"id=$FWFLEET_COMPONENT_ID\"\n"
	    "echo \"version=$FWFLEET_COMPONENT_VERSION\"\n"
	    "echo \"count=$FWFLEET_PAYLOAD_COUNT\"\n"
	    "echo \"p1=$FWFLEET_PAYLOAD_1\"\n"
	    "echo \"p2=$FWFLEET_PAYLOAD_2\"\n"
	    "echo \"foo=$FOO\"\n"
	    "echo \"path=${PATH:+set}\"\n"
	    "echo \"stdin=$(readlink /proc/self/fd/0)\"\n"
	    "echo \"pgid=$(ps -o pgid= -p $$ | tr -d ' ')\"\n"
	    "echo oops >&2");
	run(t);
	assert_int_equal(t->res.exit_code, 0);
	snprintf(want, sizeof(want), "cwd=%s", t->dir);
	assert_true(has_line(t, want));
	snprintf(want, sizeof(want), "0=%s/install.sh", t->dir);
	assert_true(has_line(t, want));
	assert_true(has_line(t, "1=arg one"));
	snprintf(want, sizeof(want), "dir=%s", t->dir);
	assert_true(has_line(t, want));
	assert_true(has_line(t, "id=nic-fw"));
	assert_true(has_line(t, "version=2.10"));
	assert_true(has_line(t, "count=2"));
	snprintf(want, sizeof(want), "p1=%s/fw.bin", t->dir);
	assert_true(has_line(t, want));
	snprintf(want, sizeof(want), "p2=%s/notes.txt", t->dir);
	assert_true(has_line(t, want));
	assert_true(has_line(t, "foo=bar baz"));
	assert_true(has_line(t, "path=set"));
	assert_true(has_line(t, "stdin=/dev/null"));
	snprintf(want, sizeof(want), "pgid=%ld", t->res.pgid);
	assert_true(has_line(t, want));
	assert_true(has_line(t, "oops"));	/* stderr too */
	assert_int_equal(t->n_streamed, t->n_lines);
}

#define XS	"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"	/* 50 */

static void test_output_bounded(void **state)
{
	struct tcase *t = *state;
	char line[128], *body;

	/* 2000 lines of 61 bytes, a 3000-byte line, and a line of bytes
	 * that are not text. */
	body = xasprintf("i=0\n"
	    "while [ $i -lt 2000 ]; do\n"
	    "  printf 'line %%04d %s\\n' $i\n"
	    "  i=$((i+1))\n"
	    "done\n"
	    "head -c 3000 /dev/zero | tr '\\0' a\n"
	    "echo\n"
	    "printf '\\001\\377\\n'", XS);
	script(t, "install.sh", body);
	free(body);
	run(t);
	assert_int_equal(t->res.exit_code, 0);
	assert_int_equal(t->res.output_total, 2000 * 61 + 3001 + 3);
	assert_true(t->res.output_truncated);
	assert_int_equal(t->res.output_len, INSTALL_OUTPUT_MAX);
	assert_int_equal(strlen(t->output), INSTALL_OUTPUT_MAX);
	/* Every line streamed; the long one in pieces of 1024. */
	assert_int_equal(t->n_streamed, 2000 + 3 + 1);
	snprintf(line, sizeof(line), "line 1999 %s", XS);
	assert_string_equal(t->streamed[1999], line);
	assert_int_equal(strlen(t->streamed[2000]), INSTALL_LINE_MAX);
	assert_int_equal(strlen(t->streamed[2002]),
	    3000 - 2 * INSTALL_LINE_MAX);
	assert_string_equal(t->streamed[2003], "??");
	/* The result keeps the tail, starting at a whole line. */
	assert_true(strncmp(t->lines[0], "line ", 5) == 0);
	assert_int_equal(strlen(t->lines[0]), 60);
	assert_string_equal(t->lines[t->n_lines - 1], "??");
	assert_int_equal(strlen(t->lines[t->n_lines - 2]), 3000);
}

static void test_timeout_kills_group(void **state)
{
	struct tcase *t = *state;
	uint64_t start = fw_now_ms();

	/* A background child that would outlive a naive kill. */
	script(t, "install.sh", "sleep 1000 &\necho started\nsleep 1000");
	t->spec.timeout_ms = 300;
	run(t);
	assert_true(t->res.timed_out);
	assert_false(t->res.cancelled);
	assert_int_equal(t->res.exit_code, -1);
	assert_int_equal(t->res.signo, SIGTERM);
	assert_int_equal(t->res.outcome,
	    FWFLEET__INSTALL_OUTCOME__OUTCOME_FAILED);
	assert_true(t->res.pgid > 1);
	assert_true(group_gone(t->res.pgid));
	assert_true(has_line(t, "started"));
	assert_true(fw_now_ms() - start < 5000);
}

static void test_timeout_ignores_term(void **state)
{
	struct tcase *t = *state;
	uint64_t start = fw_now_ms();

	/* Ignoring SIGTERM (children inherit that) only buys the grace. */
	script(t, "install.sh", "trap '' TERM\nsleep 1000 &\nsleep 1000");
	t->spec.timeout_ms = 200;
	t->spec.grace_ms = 300;
	run(t);
	assert_true(t->res.timed_out);
	assert_int_equal(t->res.signo, SIGKILL);
	assert_true(group_gone(t->res.pgid));
	assert_true(fw_now_ms() - start >= 500);
	assert_true(fw_now_ms() - start < 5000);
}

static void on_cancel(evutil_socket_t fd, short what, void *arg)
{
	struct tcase *t = arg;

	install_cancel(t->in, t->argv[3] != NULL);
}

static void run_cancel(struct tcase *t, int kill_running)
{
	struct timeval tv = { 0, 200000 };

	t->argv[3] = kill_running ? (char *)"kill" : NULL;
	start(t);
	event_base_once(t->base, -1, EV_TIMEOUT, on_cancel, t, &tv);
	while (!t->done)
		event_base_dispatch(t->base);
}

static void test_cancel_lets_finish(void **state)
{
	struct tcase *t = *state;
	uint64_t start = fw_now_ms();

	script(t, "install.sh", "sleep 0.6\necho finished\nexit 3");
	run_cancel(t, 0);
	assert_false(t->res.cancelled);
	assert_int_equal(t->res.exit_code, 3);
	assert_int_equal(t->res.outcome,
	    FWFLEET__INSTALL_OUTCOME__OUTCOME_SUCCESS_REBOOT);
	assert_true(has_line(t, "finished"));
	assert_true(fw_now_ms() - start >= 600);
}

static void test_cancel_kills(void **state)
{
	struct tcase *t = *state;
	uint64_t start = fw_now_ms();

	script(t, "install.sh", "sleep 1000 &\nsleep 1000");
	run_cancel(t, 1);
	assert_true(t->res.cancelled);
	assert_false(t->res.timed_out);
	assert_int_equal(t->res.exit_code, -1);
	assert_int_equal(t->res.outcome,
	    FWFLEET__INSTALL_OUTCOME__OUTCOME_FAILED);
	assert_true(group_gone(t->res.pgid));
	assert_true(fw_now_ms() - start < 3000);
}

static void test_free_while_running(void **state)
{
	struct tcase *t = *state;
	struct timeval tv = { 0, 100000 };
	long pgid;

	script(t, "install.sh", "sleep 1000 &\nsleep 1000");
	start(t);
	event_base_loopexit(t->base, &tv);
	event_base_dispatch(t->base);
	assert_false(t->done);
	pgid = install_pgid(t->in);
	assert_false(group_gone(pgid));
	install_free(t->in);
	assert_true(group_gone(pgid));
	assert_false(t->done);
}

static void test_start_errors(void **state)
{
	struct tcase *t = *state;
	char err[256];

	assert_int_equal(install_start(t->base, &t->spec, NULL, on_done, t,
	    &t->in, err, sizeof(err)), FW_ERR_NOT_FOUND);
	assert_non_null(strstr(err, "install.sh"));
	assert_null(t->in);
	script(t, "install.sh", "exit 0");
	chmod(t->dir, 0700);
	{
		char path[512];

		snprintf(path, sizeof(path), "%s/install.sh", t->dir);
		assert_int_equal(chmod(path, 0644), 0);
	}
	if (geteuid() != 0)	/* root may execute anything with an x bit */
		assert_int_equal(install_start(t->base, &t->spec, NULL,
		    on_done, t, &t->in, err, sizeof(err)), FW_ERR_SYSTEM);
	t->argv[0] = (char *)"../install.sh";
	assert_int_equal(install_start(t->base, &t->spec, NULL, on_done, t,
	    &t->in, err, sizeof(err)), FW_ERR_INVALID);
	assert_non_null(strstr(err, "leaves the staging directory"));
	t->argv[0] = (char *)"/bin/true";
	t->map.convention = (char *)"no-such-convention";
	assert_int_equal(install_start(t->base, &t->spec, NULL, on_done, t,
	    &t->in, err, sizeof(err)), FW_ERR_INVALID);
	t->map.convention = (char *)"";
	t->req.n_argv = 0;
	assert_int_equal(install_start(t->base, &t->spec, NULL, on_done, t,
	    &t->in, err, sizeof(err)), FW_ERR_INVALID);
	assert_null(t->in);
}

static void test_absolute_and_convention(void **state)
{
	struct tcase *t = *state;

	/* An absolute argv[0], and a named convention (rpm: 1 is failed). */
	t->argv[0] = (char *)"/bin/sh";
	t->argv[1] = (char *)"-c";
	t->argv[2] = (char *)"exit 1";
	t->req.n_argv = 3;
	t->map.convention = (char *)"rpm";
	run(t);
	assert_int_equal(t->res.exit_code, 1);
	assert_int_equal(t->res.outcome,
	    FWFLEET__INSTALL_OUTCOME__OUTCOME_FAILED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exit_codes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_killed_by_signal, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_env_and_cwd, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_output_bounded, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_timeout_kills_group, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_timeout_ignores_term,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_lets_finish, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_cancel_kills, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_free_while_running, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_start_errors, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_absolute_and_convention,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
