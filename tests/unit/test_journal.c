/*
 * Unit tests for controller/journal.c: the job folder, its files and their
 * modes, the line format, what is synced and what is rate-limited, and
 * replay (report_load) of journals cut by a crash, with a corrupt line in
 * the middle, or with a line past the length limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "err.h"
#include "journal.h"
#include "log.h"
#include "platform.h"
#include "report.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/*
 * The journal's syncs, counted: these definitions take the place of libc's
 * for the whole test binary.
 */
static unsigned int n_syncs;

int fdatasync(int fd)
{
	n_syncs++;
	return (int)syscall(SYS_fdatasync, fd);
}

int fsync(int fd)
{
	n_syncs++;
	return (int)syscall(SYS_fsync, fd);
}

struct fixture {
	char state[64];
	struct journal *j;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	snprintf(fx->state, sizeof(fx->state), "/tmp/fwfleet-journal-XXXXXX");
	if (mkdtemp(fx->state) == NULL)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;

	journal_free(fx->j);
	platform_remove_workdir(fx->state);
	free(fx);
	return 0;
}

static const char *const three_nodes[] = { "web1", "db/2", "web3" };
static const char *const three_args[] = { "--kind", "firmware" };

static void start(struct fixture *fx, const char *const *nodes, size_t n)
{
	struct journal_start_info in = {
		.command = "deploy",
		.args = three_args,
		.n_args = ARRAY_SIZE(three_args),
		.repository = "/srv/repo",
		.nodes = nodes,
		.n_nodes = n,
	};

	assert_int_equal(journal_start(fx->state, &in, &fx->j), 0);
	assert_non_null(fx->j);
}

/* A file of the job as a string; caller frees. */
static char *job_file(const struct fixture *fx, const char *rel, size_t *len)
{
	char path[4096];
	size_t n = 0, cap = 0;
	char *buf = NULL;
	FILE *f;
	int c;

	snprintf(path, sizeof(path), "%s/%s", journal_dir(fx->j), rel);
	f = fopen(path, "r");
	assert_non_null(f);
	while ((c = fgetc(f)) != EOF) {
		if (n + 2 > cap) {
			cap = cap ? 2 * cap : 4096;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		buf[n++] = (char)c;
	}
	fclose(f);
	if (buf == NULL)
		buf = calloc(1, 1);
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
	return buf;
}

static void write_job_file(const struct fixture *fx, const char *rel,
    const char *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", journal_dir(fx->j), rel);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static size_t count_lines(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		n += *s == '\n';
	return n;
}

/* Line i (from 0) of s, parsed. */
static json_t *line_json(const char *s, size_t i)
{
	const char *end;
	json_t *j;

	while (i-- > 0) {
		s = strchr(s, '\n');
		assert_non_null(s);
		s++;
	}
	end = strchr(s, '\n');
	assert_non_null(end);
	j = json_loadb(s, (size_t)(end - s), 0, NULL);
	assert_non_null(j);
	return j;
}

static int file_mode(const struct fixture *fx, const char *rel)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", journal_dir(fx->j), rel);
	assert_int_equal(stat(path, &st), 0);
	return (int)(st.st_mode & 07777);
}

/* The report of fx's job as a JSON document. */
static json_t *replay(const struct fixture *fx, struct report **out)
{
	struct report *rep = NULL;
	char *buf = NULL;
	size_t len = 0;
	json_t *doc;
	FILE *f;

	assert_int_equal(report_load(journal_dir(fx->j), &rep), 0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(report_write(rep, REPORT_JSON, f), 0);
	fclose(f);
	doc = json_loads(buf, 0, NULL);
	assert_non_null(doc);
	free(buf);
	if (out != NULL)
		*out = rep;
	else
		report_free(rep);
	return doc;
}

static json_t *node_of(json_t *doc, const char *name)
{
	json_t *n;
	size_t i;

	json_array_foreach(json_object_get(doc, "nodes"), i, n) {
		if (strcmp(json_string_value(json_object_get(n, "name")),
		    name) == 0)
			return n;
	}
	fail_msg("no node %s", name);
	return NULL;
}

static const char *node_str(json_t *doc, const char *node, const char *key)
{
	return json_string_value(json_object_get(node_of(doc, node), key));
}

/* --- the folder and its files -------------------------------------------- */

static void test_start_files(void **state)
{
	static const char *const nodes[] = {
		"web1", "db/2", "DB_2", "\xc3\xbcn\xc3\xaf", "web1", "",
	};
	struct fixture *fx = *state;
	char jobs[128], *s;
	const char *id;
	json_t *ev, *n;

	n_syncs = 0;
	start(fx, nodes, ARRAY_SIZE(nodes));
	id = journal_id(fx->j);
	assert_true(journal_id_valid(id));
	snprintf(jobs, sizeof(jobs), "%s/jobs/%s", fx->state, id);
	assert_string_equal(journal_dir(fx->j), jobs);
	assert_int_equal(file_mode(fx, "."), 0700);
	assert_int_equal(file_mode(fx, "nodes"), 0700);
	assert_int_equal(file_mode(fx, JOURNAL_FILE), 0600);
	/* the line, the folder and the jobs folder */
	assert_true(n_syncs >= 3);

	s = job_file(fx, JOURNAL_FILE, NULL);
	assert_int_equal(count_lines(s), 1);
	ev = line_json(s, 0);
	assert_string_equal(json_string_value(json_object_get(ev, "event")),
	    "job-start");
	assert_true(json_integer_value(json_object_get(ev, "t")) >
	    1600000000000LL);
	assert_string_equal(json_string_value(json_object_get(ev, "job")), id);
	assert_string_equal(json_string_value(json_object_get(ev, "command")),
	    "deploy");
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(ev, "args"), 1)), "firmware");
	assert_string_equal(json_string_value(json_object_get(ev,
	    "repository")), "/srv/repo");
	/* a repeated name counts once; file names are safe and unique */
	n = json_object_get(ev, "nodes");
	assert_int_equal(json_array_size(n), 5);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(n, 0), "log")), "nodes/web1.log");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(n, 1), "name")), "db/2");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(n, 1), "log")), "nodes/db_2.log");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(n, 2), "log")), "nodes/DB_2-2.log");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(n, 3), "log")), "nodes/__n__.log");
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(n, 4), "log")), "nodes/_.log");
	json_decref(ev);
	free(s);
}

static void test_events_and_node_log(void **state)
{
	struct fixture *fx = *state;
	struct journal_plan_entry plan[] = {
		{ "nic-fw", "NIC firmware", "firmware", "1.0", "1.2",
		    JOURNAL_ACTION_INSTALL, NULL },
		{ "bios", "BIOS", "firmware", "2.80", "2.80",
		    JOURNAL_ACTION_SKIP, "already current" },
	};
	unsigned int before;
	char *s, *log;
	json_t *ev;

	start(fx, three_nodes, ARRAY_SIZE(three_nodes));
	before = n_syncs;
	assert_int_equal(journal_node_state(fx->j, "db/2", "connecting"), 0);
	assert_int_equal(journal_node_plan(fx->j, "db/2", plan,
	    ARRAY_SIZE(plan)), 0);
	assert_int_equal(journal_component_result(fx->j, "db/2", "nic-fw",
	    JOURNAL_OUTCOME_FAILED, 2, "flash\x1b[2J failed"), 0);
	assert_int_equal(journal_node_log(fx->j, "db/2", "installer said %s",
	    "hello\nworld\r\n"), 0);
	assert_int_equal(journal_node_done(fx->j, "db/2", JOURNAL_NODE_OK,
	    NULL, true), 0);
	assert_int_equal(journal_job_end(fx->j, 253, false), 0);
	/* each state change synced */
	assert_true(n_syncs - before >= 5);

	/* misuse is refused, never written */
	assert_int_equal(journal_node_state(fx->j, "nobody", "x"),
	    FW_ERR_NOT_FOUND);
	assert_int_equal(journal_node_state(fx->j, "web1", NULL),
	    FW_ERR_INVALID);
	assert_int_equal(journal_component_result(fx->j, "web1", "c",
	    (enum journal_outcome)42, 0, NULL), FW_ERR_INVALID);
	assert_int_equal(journal_node_log(fx->j, "nobody", "x"),
	    FW_ERR_NOT_FOUND);

	s = job_file(fx, JOURNAL_FILE, NULL);
	assert_int_equal(count_lines(s), 6);
	ev = line_json(s, 2);
	assert_string_equal(json_string_value(json_object_get(ev, "event")),
	    "node-plan");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
	    json_object_get(ev, "components"), 1), "action")), "skip");
	json_decref(ev);
	ev = line_json(s, 3);
	assert_string_equal(json_string_value(json_object_get(ev, "outcome")),
	    "failed");
	assert_int_equal(json_integer_value(json_object_get(ev, "exit_code")),
	    2);
	/* the journal keeps the detail as it came */
	assert_string_equal(json_string_value(json_object_get(ev, "detail")),
	    "flash\x1b[2J failed");
	json_decref(ev);
	ev = line_json(s, 5);
	assert_string_equal(json_string_value(json_object_get(ev, "event")),
	    "job-end");
	assert_int_equal(json_integer_value(json_object_get(ev, "exit_code")),
	    253);
	assert_true(json_is_false(json_object_get(ev, "interrupted")));
	json_decref(ev);
	free(s);

	assert_int_equal(file_mode(fx, "nodes/db_2.log"), 0600);
	log = job_file(fx, "nodes/db_2.log", NULL);
	assert_non_null(strstr(log, "Z state: connecting\n"));
	assert_non_null(strstr(log, "Z plan: skip bios 2.80 -> 2.80: "
	    "already current\n"));
	/* the node log is for terminals: no escape sequences */
	assert_non_null(strstr(log, "component nic-fw: failed (exit 2): "
	    "flash?[2J failed\n"));
	assert_non_null(strstr(log, "Z installer said hello\n"));
	assert_non_null(strstr(log, "Z world\n"));
	assert_non_null(strstr(log, "Z done: ok (reboot needed)\n"));
	assert_null(strchr(log, '\r'));
	assert_int_equal(strncmp(log + 4, "-", 1), 0);
	free(log);
}

static size_t count_events(const char *s, const char *name)
{
	char pat[64];
	size_t n = 0;

	snprintf(pat, sizeof(pat), "\"event\":\"%s\"", name);
	while ((s = strstr(s, pat)) != NULL) {
		n++;
		s++;
	}
	return n;
}

static void test_progress_rate_limit(void **state)
{
	struct fixture *fx = *state;
	unsigned int before, i;
	char *s;

	start(fx, three_nodes, ARRAY_SIZE(three_nodes));
	before = n_syncs;
	for (i = 0; i < 50; i++)
		assert_int_equal(journal_component_phase(fx->j, "web1", "c1",
		    JOURNAL_PHASE_DOWNLOADING, i, i * 1000), 0);
	/* another component has its own budget */
	assert_int_equal(journal_component_phase(fx->j, "web1", "c2",
	    JOURNAL_PHASE_DOWNLOADING, 1, 1), 0);
	/* 100 % is always written, once */
	assert_int_equal(journal_component_phase(fx->j, "web1", "c1",
	    JOURNAL_PHASE_DOWNLOADING, 100, 50000), 0);
	assert_int_equal(journal_component_phase(fx->j, "web1", "c1",
	    JOURNAL_PHASE_DOWNLOADING, 100, 50000), 0);
	/* a phase change is always written */
	assert_int_equal(journal_component_phase(fx->j, "web1", "c1",
	    JOURNAL_PHASE_VERIFYING, 0, 0), 0);
	assert_int_equal(journal_component_phase(fx->j, "web1", "c1",
	    JOURNAL_PHASE_VERIFYING, 10, 0), 0);
	/* progress never syncs */
	assert_int_equal(n_syncs, before);
	s = job_file(fx, JOURNAL_FILE, NULL);
	assert_int_equal(count_events(s, "component-phase"), 4);
	assert_non_null(strstr(s, "\"percent\":100"));
	assert_non_null(strstr(s, "\"phase\":\"verifying\",\"percent\":0,"));
	free(s);

	usleep((JOURNAL_PROGRESS_MS + 50) * 1000);
	assert_int_equal(journal_component_phase(fx->j, "web1", "c1",
	    JOURNAL_PHASE_VERIFYING, 60, 0), 0);
	assert_int_equal(journal_component_phase(fx->j, "web1", "c1",
	    JOURNAL_PHASE_VERIFYING, 61, 0), 0);
	assert_int_equal(n_syncs, before);
	s = job_file(fx, JOURNAL_FILE, NULL);
	assert_int_equal(count_events(s, "component-phase"), 5);
	assert_non_null(strstr(s, "\"percent\":60"));
	assert_null(strstr(s, "\"percent\":61"));
	free(s);
}

/* Writes a small job: web1 ok with one success, db/2 still running. */
static void small_job(struct fixture *fx)
{
	start(fx, three_nodes, ARRAY_SIZE(three_nodes));
	assert_int_equal(journal_node_state(fx->j, "web1", "installing"), 0);
	assert_int_equal(journal_component_result(fx->j, "web1", "c1",
	    JOURNAL_OUTCOME_SUCCESS, 0, "ok"), 0);
	assert_int_equal(journal_node_done(fx->j, "web1", JOURNAL_NODE_OK,
	    NULL, false), 0);
	assert_int_equal(journal_node_state(fx->j, "db/2", "installing"), 0);
	assert_int_equal(journal_component_result(fx->j, "db/2", "c1",
	    JOURNAL_OUTCOME_SUCCESS, 0, "ok"), 0);
}

static void test_replay_truncated_last_line(void **state)
{
	struct fixture *fx = *state;
	struct report *rep;
	size_t len;
	json_t *doc, *c;
	char *s;

	small_job(fx);
	/* the crash: the last line (db/2's result) half written */
	s = job_file(fx, JOURNAL_FILE, &len);
	write_job_file(fx, JOURNAL_FILE, s, len - 12);
	free(s);

	doc = replay(fx, &rep);
	assert_int_equal(report_warning_count(rep), 1);
	assert_non_null(strstr(report_warning(rep, 0), "line 6: truncated"));
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    doc, "job"), "status")), "incomplete");
	assert_string_equal(node_str(doc, "web1", "status"), "ok");
	assert_string_equal(node_str(doc, "db/2", "status"), "incomplete");
	assert_string_equal(node_str(doc, "db/2", "state"), "installing");
	/* only the broken line is lost */
	assert_int_equal(json_array_size(json_object_get(node_of(doc, "db/2"),
	    "components")), 0);
	c = json_array_get(json_object_get(node_of(doc, "web1"), "components"),
	    0);
	assert_string_equal(json_string_value(json_object_get(c, "outcome")),
	    "success");
	/* a node that never finished is a failure */
	assert_int_equal(report_exit_code(rep), 255);
	report_free(rep);
	json_decref(doc);
}

static void test_replay_corrupt_middle_line(void **state)
{
	struct fixture *fx = *state;
	struct report *rep;
	char *s, *out, *second;
	size_t len, head;
	json_t *doc;

	small_job(fx);
	assert_int_equal(journal_job_end(fx->j, 255, false), 0);
	s = job_file(fx, JOURNAL_FILE, &len);
	/* garbage (and a NUL) after line 2, and a line that is an array */
	second = strchr(strchr(s, '\n') + 1, '\n') + 1;
	head = (size_t)(second - s);
	out = malloc(len + 64);
	assert_non_null(out);
	memcpy(out, s, head);
	memcpy(out + head, "{\"t\":1,\"ev\0ent\":\"x\n[1,2]\n", 25);
	memcpy(out + head + 25, second, len - head);
	write_job_file(fx, JOURNAL_FILE, out, len + 25);
	free(out);
	free(s);

	doc = replay(fx, &rep);
	assert_int_equal(report_warning_count(rep), 2);
	assert_non_null(strstr(report_warning(rep, 0), "line 3: not a JSON"));
	assert_non_null(strstr(report_warning(rep, 1), "line 4: not a JSON"));
	/* everything after it is there */
	assert_string_equal(node_str(doc, "web1", "status"), "ok");
	assert_int_equal(json_array_size(json_object_get(node_of(doc, "db/2"),
	    "components")), 1);
	assert_string_equal(json_string_value(json_object_get(json_object_get(
	    doc, "job"), "status")), "complete");
	assert_int_equal(json_array_size(json_object_get(doc, "warnings")), 2);
	report_free(rep);
	json_decref(doc);
}

static void test_replay_huge_line(void **state)
{
	struct fixture *fx = *state;
	size_t huge = 2 * JOURNAL_LINE_MAX + 10, len, got;
	struct report *rep;
	char *s, *out, path[4096], *buf;
	bool complete;
	json_t *doc;
	FILE *f;

	small_job(fx);
	assert_int_equal(journal_job_end(fx->j, 255, false), 0);
	s = job_file(fx, JOURNAL_FILE, &len);
	out = malloc(len + huge + 1);
	assert_non_null(out);
	memcpy(out, s, len);
	memset(out + len, 'x', huge);
	out[len + huge] = '\n';
	write_job_file(fx, JOURNAL_FILE, out, len + huge + 1);
	free(out);
	free(s);
	/* and a good line after it */
	assert_int_equal(journal_node_done(fx->j, "db/2", JOURNAL_NODE_OK,
	    NULL, false), 0);

	doc = replay(fx, &rep);
	assert_int_equal(report_warning_count(rep), 1);
	assert_non_null(strstr(report_warning(rep, 0), "line 8: longer than"));
	assert_string_equal(node_str(doc, "db/2", "status"), "ok");
	report_free(rep);
	json_decref(doc);

	/* the reader itself: bounded, and it goes on after the long line */
	snprintf(path, sizeof(path), "%s/%s", journal_dir(fx->j),
	    JOURNAL_FILE);
	f = fopen(path, "r");
	assert_non_null(f);
	buf = malloc(JOURNAL_LINE_MAX);
	assert_non_null(buf);
	for (got = 0; got < 7; got++)
		assert_int_equal(journal_read_line(f, buf, &len, &complete), 1);
	assert_int_equal(journal_read_line(f, buf, &len, &complete),
	    FW_ERR_FRAME_TOO_BIG);
	assert_int_equal(len, JOURNAL_LINE_MAX - 1);
	assert_int_equal(journal_read_line(f, buf, &len, &complete), 1);
	assert_true(complete);
	assert_non_null(strstr(buf, "node-done"));
	assert_int_equal(journal_read_line(f, buf, &len, &complete), 0);
	free(buf);
	fclose(f);
}

/* A plan too long for one line goes out as several; replay merges them. */
static void test_plan_split(void **state)
{
	enum { N = 40 };
	struct fixture *fx = *state;
	struct journal_plan_entry plan[N];
	char ids[N][16], junk[JOURNAL_SHORT_MAX + 1];
	struct report *rep;
	json_t *doc, *comps;
	size_t i;
	char *s;

	/* control characters: each is 6 bytes once escaped */
	memset(junk, 0x01, sizeof(junk) - 1);
	junk[sizeof(junk) - 1] = '\0';
	for (i = 0; i < N; i++) {
		snprintf(ids[i], sizeof(ids[i]), "c%zu", i);
		plan[i] = (struct journal_plan_entry){ ids[i], junk, junk, junk,
		    junk, JOURNAL_ACTION_INSTALL, junk };
	}
	start(fx, three_nodes, ARRAY_SIZE(three_nodes));
	assert_int_equal(journal_node_plan(fx->j, "web3", plan, N), 0);
	s = job_file(fx, JOURNAL_FILE, NULL);
	assert_true(count_events(s, "node-plan") > 1);
	free(s);

	doc = replay(fx, &rep);
	assert_int_equal(report_warning_count(rep), 0);
	comps = json_object_get(node_of(doc, "web3"), "components");
	assert_int_equal(json_array_size(comps), N);
	assert_string_equal(json_string_value(json_object_get(
	    json_array_get(comps, N - 1), "id")), "c39");
	assert_int_equal(strlen(json_string_value(json_object_get(
	    json_array_get(comps, 0), "name"))), JOURNAL_SHORT_MAX);
	report_free(rep);
	json_decref(doc);
}

static void test_long_and_bad_strings(void **state)
{
	struct fixture *fx = *state;
	char *detail, *s;
	json_t *ev;
	size_t n = JOURNAL_TEXT_MAX + 100, i;

	detail = malloc(n + 1);
	assert_non_null(detail);
	/* "é" repeated: the cut must not split one */
	for (i = 0; i + 1 < n; i += 2)
		memcpy(detail + i, "\xc3\xa9", 2);
	detail[i] = '\0';
	detail[1] = 'x';	/* \xc3 'x': not UTF-8 */
	start(fx, three_nodes, ARRAY_SIZE(three_nodes));
	assert_int_equal(journal_component_result(fx->j, "web1", "c",
	    JOURNAL_OUTCOME_FAILED, JOURNAL_NO_EXIT, detail), 0);
	s = job_file(fx, JOURNAL_FILE, NULL);
	ev = line_json(s, 1);
	assert_true(json_is_null(json_object_get(ev, "exit_code")));
	assert_true(strlen(json_string_value(json_object_get(ev, "detail"))) <=
	    JOURNAL_TEXT_MAX);
	assert_int_equal(strncmp(json_string_value(json_object_get(ev,
	    "detail")), "?x\xc3\xa9", 4), 0);
	json_decref(ev);
	free(s);
	free(detail);
}

static void test_list_states(void **state)
{
	struct fixture *fx = *state;
	struct journal_job *v;
	size_t n;

	small_job(fx);
	assert_int_equal(journal_list(fx->state, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].state, JOURNAL_JOB_RUNNING);
	assert_string_equal(v[0].command, "deploy");
	assert_int_equal(v[0].n_nodes, 3);
	journal_list_free(v, n);

	assert_int_equal(journal_job_end(fx->j, 3, true), 0);
	assert_int_equal(journal_list(fx->state, &v, &n), 0);
	assert_int_equal(v[0].state, JOURNAL_JOB_COMPLETE);
	assert_int_equal(v[0].exit_code, 3);
	assert_true(v[0].interrupted);
	journal_list_free(v, n);
}

static void test_list_incomplete(void **state)
{
	struct fixture *fx = *state;
	struct journal_job *v;
	size_t n;

	small_job(fx);
	journal_free(fx->j);	/* the controller died: nobody holds it */
	fx->j = NULL;
	assert_int_equal(journal_list(fx->state, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(v[0].state, JOURNAL_JOB_INCOMPLETE);
	journal_list_free(v, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_start_files, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_events_and_node_log, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_progress_rate_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_replay_truncated_last_line,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_corrupt_middle_line,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_huge_line, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_plan_split, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_and_bad_strings, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_list_states, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_list_incomplete, setup,
		    teardown),
	};

	log_init("test_journal", LOG_LVL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
