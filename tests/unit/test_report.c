/*
 * Unit tests for controller/report.c: a job journal covering each outcome
 * (success, reboot, a failed component, a skip with its reason, a
 * cancelled node, a failed node) replayed into the JSON model, the CSV rows
 * and their quoting, the HTML page and its escaping; report_exit_code()
 * for each step of its precedence; and the order of `fwfleet jobs`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "err.h"
#include "journal.h"
#include "log.h"
#include "platform.h"
#include "report.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

#define EVIL_DETAIL	"flash failed, \"code 2\"\nsee <script>alert(1)</script>"

struct fixture {
	char state[64];
	struct journal *j;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (fx == NULL)
		return -1;
	snprintf(fx->state, sizeof(fx->state), "/tmp/fwfleet-report-XXXXXX");
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

static void start(struct fixture *fx, const char *const *nodes, size_t n)
{
	static const char *const args[] = { "-n", "fleet.ini", "--reboot",
	    "if-needed" };
	struct journal_start_info in = {
		.command = "deploy",
		.args = args,
		.n_args = ARRAY_SIZE(args),
		.repository = "/srv/repo & co",
		.nodes = nodes,
		.n_nodes = n,
	};

	journal_free(fx->j);
	fx->j = NULL;
	assert_int_equal(journal_start(fx->state, &in, &fx->j), 0);
}

static void plan1(struct fixture *fx, const char *node, const char *id,
    enum journal_action action, const char *reason)
{
	struct journal_plan_entry e = { id, "Component <b>", "firmware", "1.0",
	    "1.2", action, reason };

	assert_int_equal(journal_node_plan(fx->j, node, &e, 1), 0);
}

static void result(struct fixture *fx, const char *node, const char *id,
    enum journal_outcome o, int code, const char *detail)
{
	assert_int_equal(journal_component_result(fx->j, node, id, o, code,
	    detail), 0);
}

static void node_done(struct fixture *fx, const char *node,
    enum journal_node_status s, const char *error, bool reboot)
{
	assert_int_equal(journal_node_done(fx->j, node, s, error, reboot), 0);
}

/*
 * alpha: nic-fw installed. bravo: nvme-fw installed, reboot needed.
 * charlie: drv failed (an evil detail), tool installed. delta: cancelled
 * (Ctrl-C) with x cancelled, y never run. echo: failed to connect, no
 * components. fox: its only component skipped, with a reason.
 */
static void big_job(struct fixture *fx)
{
	static const char *const nodes[] = {
		"alpha", "bravo", "charlie", "delta", "echo", "fox",
	};
	struct journal_plan_entry two[] = {
		{ "drv", "Driver", "driver", "5.1", "5.3",
		    JOURNAL_ACTION_INSTALL, NULL },
		{ "tool", "Tool", "software", NULL, "2.0",
		    JOURNAL_ACTION_INSTALL, "" },
	};

	start(fx, nodes, ARRAY_SIZE(nodes));
	plan1(fx, "alpha", "nic-fw", JOURNAL_ACTION_INSTALL, NULL);
	assert_int_equal(journal_component_phase(fx->j, "alpha", "nic-fw",
	    JOURNAL_PHASE_INSTALLING, 100, 4096), 0);
	result(fx, "alpha", "nic-fw", JOURNAL_OUTCOME_SUCCESS, 0, "flashed");
	node_done(fx, "alpha", JOURNAL_NODE_OK, NULL, false);

	plan1(fx, "bravo", "nvme-fw", JOURNAL_ACTION_INSTALL, NULL);
	result(fx, "bravo", "nvme-fw", JOURNAL_OUTCOME_SUCCESS_REBOOT, 1,
	    "=cmd|' /C calc'!A0");
	node_done(fx, "bravo", JOURNAL_NODE_OK, NULL, true);

	assert_int_equal(journal_node_plan(fx->j, "charlie", two, 2), 0);
	result(fx, "charlie", "drv", JOURNAL_OUTCOME_FAILED, 2, EVIL_DETAIL);
	result(fx, "charlie", "tool", JOURNAL_OUTCOME_SUCCESS, 0, NULL);
	node_done(fx, "charlie", JOURNAL_NODE_OK, NULL, false);

	plan1(fx, "delta", "x", JOURNAL_ACTION_INSTALL, NULL);
	plan1(fx, "delta", "y", JOURNAL_ACTION_INSTALL, NULL);
	result(fx, "delta", "x", JOURNAL_OUTCOME_CANCELLED, JOURNAL_NO_EXIT,
	    "interrupted");
	node_done(fx, "delta", JOURNAL_NODE_CANCELLED, "interrupted by the "
	    "operator", false);

	assert_int_equal(journal_node_state(fx->j, "echo", "connecting"), 0);
	node_done(fx, "echo", JOURNAL_NODE_FAILED, "ssh: connection refused",
	    false);

	plan1(fx, "fox", "bios", JOURNAL_ACTION_SKIP,
	    "not applicable: no such device");
	node_done(fx, "fox", JOURNAL_NODE_OK, NULL, false);
	assert_int_equal(journal_job_end(fx->j, 255, true), 0);
}

/* The report of fx's job in fmt, as a string; caller frees. */
static char *render(struct fixture *fx, enum report_format fmt)
{
	struct report *rep = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	assert_int_equal(report_load(journal_dir(fx->j), &rep), 0);
	f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(report_write(rep, fmt, f), 0);
	fclose(f);
	report_free(rep);
	return buf;
}

static json_t *render_json(struct fixture *fx)
{
	char *s = render(fx, REPORT_JSON);
	json_t *doc = json_loads(s, 0, NULL);

	assert_non_null(doc);
	free(s);
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

static json_t *comp_of(json_t *doc, const char *node, const char *id)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(node_of(doc, node), "components"),
	    i, c) {
		if (strcmp(json_string_value(json_object_get(c, "id")), id) == 0)
			return c;
	}
	fail_msg("no component %s on %s", id, node);
	return NULL;
}

static const char *str_at(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	assert_non_null(s);
	return s;
}

static json_int_t int_at(json_t *o, const char *a, const char *b)
{
	return json_integer_value(json_object_get(json_object_get(o, a), b));
}

/* --- the JSON model ------------------------------------------------------ */

static void test_json_model(void **state)
{
	struct fixture *fx = *state;
	json_t *doc, *job, *sum, *c;

	big_job(fx);
	doc = render_json(fx);
	assert_string_equal(str_at(doc, "format"), "fwfleet-report");
	job = json_object_get(doc, "job");
	assert_string_equal(str_at(job, "id"), journal_id(fx->j));
	assert_string_equal(str_at(job, "command"), "deploy");
	assert_string_equal(str_at(job, "repository"), "/srv/repo & co");
	assert_string_equal(str_at(job, "status"), "interrupted");
	assert_int_equal(int_at(doc, "job", "exit_code"), 255);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    job, "args"), 3)), "if-needed");
	assert_int_equal(int_at(doc, "result", "exit_code"), 255);
	assert_string_equal(str_at(json_object_get(doc, "result"), "meaning"),
	    "failure");

	sum = json_object_get(doc, "summary");
	assert_int_equal(int_at(sum, "nodes", "total"), 6);
	assert_int_equal(int_at(sum, "nodes", "ok"), 4);
	assert_int_equal(int_at(sum, "nodes", "failed"), 1);
	assert_int_equal(int_at(sum, "nodes", "cancelled"), 1);
	assert_int_equal(int_at(sum, "components", "success"), 2);
	assert_int_equal(int_at(sum, "components", "success-reboot-required"),
	    1);
	assert_int_equal(int_at(sum, "components", "failed"), 1);
	assert_int_equal(int_at(sum, "components", "cancelled"), 1);
	assert_int_equal(int_at(sum, "components", "skipped"), 1);
	assert_int_equal(int_at(sum, "components", "not-run"), 1);
	assert_int_equal(json_array_size(json_object_get(sum,
	    "reboot_needed")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(
	    sum, "reboot_needed"), 0)), "bravo");

	c = comp_of(doc, "alpha", "nic-fw");
	assert_string_equal(str_at(c, "outcome"), "success");
	assert_string_equal(str_at(c, "installed"), "1.0");
	assert_string_equal(str_at(c, "target"), "1.2");
	assert_string_equal(str_at(c, "action"), "install");
	assert_string_equal(str_at(c, "phase"), "installing");
	assert_int_equal(json_integer_value(json_object_get(c, "percent")), 100);
	assert_string_equal(str_at(c, "detail"), "flashed");
	assert_string_equal(str_at(node_of(doc, "alpha"), "log"),
	    "nodes/alpha.log");

	c = comp_of(doc, "bravo", "nvme-fw");
	assert_string_equal(str_at(c, "outcome"), "success-reboot-required");
	assert_true(json_is_true(json_object_get(node_of(doc, "bravo"),
	    "reboot_needed")));

	c = comp_of(doc, "charlie", "drv");
	assert_string_equal(str_at(c, "outcome"), "failed");
	assert_int_equal(json_integer_value(json_object_get(c, "exit_code")), 2);
	assert_string_equal(str_at(c, "detail"), EVIL_DETAIL);
	assert_string_equal(str_at(c, "kind"), "driver");
	assert_string_equal(str_at(comp_of(doc, "charlie", "tool"), "outcome"),
	    "success");

	assert_string_equal(str_at(node_of(doc, "delta"), "status"),
	    "cancelled");
	assert_string_equal(str_at(node_of(doc, "delta"), "error"),
	    "interrupted by the operator");
	c = comp_of(doc, "delta", "x");
	assert_string_equal(str_at(c, "outcome"), "cancelled");
	assert_true(json_is_null(json_object_get(c, "exit_code")));
	assert_string_equal(str_at(comp_of(doc, "delta", "y"), "outcome"),
	    "not-run");

	assert_string_equal(str_at(node_of(doc, "echo"), "status"), "failed");
	assert_string_equal(str_at(node_of(doc, "echo"), "error"),
	    "ssh: connection refused");
	assert_string_equal(str_at(node_of(doc, "echo"), "state"),
	    "connecting");
	assert_int_equal(json_array_size(json_object_get(node_of(doc, "echo"),
	    "components")), 0);

	c = comp_of(doc, "fox", "bios");
	assert_string_equal(str_at(c, "outcome"), "skipped");
	assert_string_equal(str_at(c, "action"), "skip");
	assert_string_equal(str_at(c, "reason"),
	    "not applicable: no such device");
	assert_int_equal(json_array_size(json_object_get(doc, "warnings")), 0);
	json_decref(doc);
}

/* --- CSV ----------------------------------------------------------------- */

/* The index-th CSV record of s (RFC 4180 rows end in CRLF). */
static char *csv_record(const char *s, size_t index)
{
	const char *p = s, *start;
	bool quoted = false;
	size_t n = 0;
	char *rec;

	for (start = p; *p != '\0'; p++) {
		if (*p == '"')
			quoted = !quoted;
		if (quoted || p[0] != '\r' || p[1] != '\n')
			continue;
		if (n++ == index) {
			rec = strndup(start, (size_t)(p - start));
			assert_non_null(rec);
			return rec;
		}
		start = p + 2;
		p++;
	}
	return NULL;
}

static size_t csv_records(const char *s)
{
	char *r;
	size_t n = 0;

	while ((r = csv_record(s, n)) != NULL) {
		free(r);
		n++;
	}
	return n;
}

static void test_csv(void **state)
{
	struct fixture *fx = *state;
	char *s, *rec, want[512];
	const char *id;

	big_job(fx);
	id = journal_id(fx->j);
	s = render(fx, REPORT_CSV);
	/* header + alpha 1 + bravo 1 + charlie 2 + delta 2 + echo 1 + fox 1 */
	assert_int_equal(csv_records(s), 9);
	assert_int_equal(s[strlen(s) - 2], '\r');

	rec = csv_record(s, 0);
	assert_string_equal(rec, "job,node,node_status,reboot_needed,component,"
	    "name,kind,from,to,action,outcome,exit_code,detail");
	free(rec);

	rec = csv_record(s, 1);
	snprintf(want, sizeof(want), "%s,alpha,ok,no,nic-fw,Component <b>,"
	    "firmware,1.0,1.2,install,success,0,flashed", id);
	assert_string_equal(rec, want);
	free(rec);

	/* a formula from a node is defused */
	rec = csv_record(s, 2);
	snprintf(want, sizeof(want), "%s,bravo,ok,yes,nvme-fw,Component <b>,"
	    "firmware,1.0,1.2,install,success-reboot-required,1,"
	    "\"'=cmd|' /C calc'!A0\"", id);
	assert_string_equal(rec, want);
	free(rec);

	/* comma, quote and newline: quoted, quotes doubled */
	rec = csv_record(s, 3);
	snprintf(want, sizeof(want), "%s,charlie,ok,no,drv,Driver,driver,5.1,"
	    "5.3,install,failed,2,\"flash failed, \"\"code 2\"\"\nsee "
	    "<script>alert(1)</script>\"", id);
	assert_string_equal(rec, want);
	free(rec);

	rec = csv_record(s, 4);
	snprintf(want, sizeof(want), "%s,charlie,ok,no,tool,Tool,software,,"
	    "2.0,install,success,0,", id);
	assert_string_equal(rec, want);
	free(rec);

	rec = csv_record(s, 6);
	snprintf(want, sizeof(want), "%s,delta,cancelled,no,y,Component <b>,"
	    "firmware,1.0,1.2,install,not-run,,", id);
	assert_string_equal(rec, want);
	free(rec);

	/* a node without components: one row */
	rec = csv_record(s, 7);
	snprintf(want, sizeof(want), "%s,echo,failed,no,,,,,,,,,"
	    "ssh: connection refused", id);
	assert_string_equal(rec, want);
	free(rec);

	/* a skip carries its reason */
	rec = csv_record(s, 8);
	snprintf(want, sizeof(want), "%s,fox,ok,no,bios,Component <b>,"
	    "firmware,1.0,1.2,skip,skipped,,not applicable: no such device",
	    id);
	assert_string_equal(rec, want);
	free(rec);
	free(s);
}

/* --- HTML ---------------------------------------------------------------- */

static void test_html(void **state)
{
	struct fixture *fx = *state;
	const char *p;
	char *s;

	big_job(fx);
	s = render(fx, REPORT_HTML);
	assert_int_equal(strncmp(s, "<!DOCTYPE html>", 15), 0);
	assert_non_null(strstr(s, "<meta charset=\"utf-8\">"));
	assert_non_null(strstr(s, "<style>"));
	assert_non_null(strstr(s, "</html>\n"));
	/* self-contained: no scripts, no external anything */
	assert_null(strcasestr(s, "<script"));
	assert_null(strcasestr(s, "http:"));
	assert_null(strcasestr(s, "https:"));
	assert_null(strcasestr(s, "src="));
	assert_null(strcasestr(s, "@import"));
	assert_null(strcasestr(s, "url("));
	/* every string escaped */
	assert_non_null(strstr(s, "flash failed, &quot;code 2&quot;\nsee "
	    "&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(s, "Component &lt;b&gt;"));
	assert_null(strstr(s, "<b>"));
	assert_non_null(strstr(s, "/srv/repo &amp; co"));
	/* the summary first: result, counts, reboots */
	p = strstr(s, "Result: 255, failure");
	assert_non_null(p);
	assert_true(p < strstr(s, "<h2>Nodes</h2>"));
	assert_non_null(strstr(s, "<th>Nodes</th><td>6 total &nbsp; 4 <span "
	    "class=\"badge s-ok\">ok</span>"));
	assert_non_null(strstr(s, "<th>Reboot needed</th><td>bravo</td>"));
	/* a table per node, with status colours */
	assert_non_null(strstr(s, "<span class=\"badge s-failed\">failed"
	    "</span> echo</h3>"));
	assert_non_null(strstr(s, "Error: ssh: connection refused"));
	assert_non_null(strstr(s, ".s-failed,"));
	assert_non_null(strstr(s, "<a href=\"nodes/alpha.log\">"));
	free(s);
}

/* --- exit codes ---------------------------------------------------------- */

static int exit_code_of(struct fixture *fx)
{
	struct report *rep = NULL;
	int code;

	assert_int_equal(report_load(journal_dir(fx->j), &rep), 0);
	code = report_exit_code(rep);
	report_free(rep);
	return code;
}

static const char *const two_nodes[] = { "n1", "n2" };

static void test_exit_codes(void **state)
{
	struct fixture *fx = *state;

	/* 3: nothing done */
	start(fx, two_nodes, 2);
	result(fx, "n1", "a", JOURNAL_OUTCOME_ALREADY_CURRENT, 0, NULL);
	result(fx, "n1", "b", JOURNAL_OUTCOME_NOT_APPLICABLE, 3, NULL);
	plan1(fx, "n2", "c", JOURNAL_ACTION_SKIP, "older than installed");
	node_done(fx, "n1", JOURNAL_NODE_OK, NULL, false);
	node_done(fx, "n2", JOURNAL_NODE_OK, NULL, false);
	assert_int_equal(exit_code_of(fx), 3);
	/* 0 > 3: something installed */
	result(fx, "n2", "d", JOURNAL_OUTCOME_SUCCESS, 0, NULL);
	assert_int_equal(exit_code_of(fx), 0);
	/* 1 > 0: a reboot (from the node, or from a component) */
	node_done(fx, "n2", JOURNAL_NODE_OK, NULL, true);
	assert_int_equal(exit_code_of(fx), 1);
	node_done(fx, "n2", JOURNAL_NODE_OK, NULL, false);
	assert_int_equal(exit_code_of(fx), 0);
	result(fx, "n1", "e", JOURNAL_OUTCOME_SUCCESS_REBOOT, 1, NULL);
	assert_int_equal(exit_code_of(fx), 1);
	/* 253 > 1: a component failed */
	result(fx, "n2", "f", JOURNAL_OUTCOME_FAILED, 7, NULL);
	assert_int_equal(exit_code_of(fx), 253);
	/* 255 > 253: a node failed, was cancelled, or never finished */
	node_done(fx, "n1", JOURNAL_NODE_FAILED, "engine lost", false);
	assert_int_equal(exit_code_of(fx), 255);
	node_done(fx, "n1", JOURNAL_NODE_CANCELLED, NULL, false);
	assert_int_equal(exit_code_of(fx), 255);

	start(fx, two_nodes, 2);
	node_done(fx, "n1", JOURNAL_NODE_OK, NULL, false);
	assert_int_equal(exit_code_of(fx), 255);
	node_done(fx, "n2", JOURNAL_NODE_OK, NULL, false);
	assert_int_equal(exit_code_of(fx), 3);

	/* no nodes at all: nothing to do */
	start(fx, NULL, 0);
	assert_int_equal(exit_code_of(fx), 3);

	assert_string_equal(report_exit_meaning(0), "success");
	assert_string_equal(report_exit_meaning(1), "success, reboot needed");
	assert_string_equal(report_exit_meaning(3), "nothing to do");
	assert_string_equal(report_exit_meaning(253), "a component failed");
	assert_string_equal(report_exit_meaning(254), "bad parameters");
	assert_string_equal(report_exit_meaning(255), "failure");
}

/* --- report files and the job list --------------------------------------- */

static void test_generate(void **state)
{
	static const char *const names[] = {
		REPORT_JSON_FILE, REPORT_HTML_FILE, REPORT_CSV_FILE,
	};
	struct fixture *fx = *state;
	char path[4096];
	struct stat st;
	size_t i;

	big_job(fx);
	assert_int_equal(report_generate(journal_dir(fx->j)), 0);
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(path, sizeof(path), "%s/%s", journal_dir(fx->j),
		    names[i]);
		assert_int_equal(stat(path, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0600);
		assert_true(st.st_size > 100);
	}
	assert_int_equal(report_generate("/nonexistent/job"),
	    FW_ERR_NOT_FOUND);
}

/* Writes a job folder by hand: id, and journal text (NULL: none). */
static void fake_job(struct fixture *fx, const char *id, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/jobs", fx->state);
	(void)mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/jobs/%s", fx->state, id);
	assert_int_equal(mkdir(path, 0700), 0);
	if (text == NULL)
		return;
	snprintf(path, sizeof(path), "%s/jobs/%s/%s", fx->state, id,
	    JOURNAL_FILE);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_jobs_order(void **state)
{
	struct fixture *fx = *state;
	char newest[JOURNAL_ID_LEN + 1], middle[JOURNAL_ID_LEN + 1];
	char dir[4096], want[4096], err[256];
	struct journal_job *v;
	size_t n;

	start(fx, two_nodes, 2);
	assert_int_equal(journal_job_end(fx->j, 0, false), 0);
	snprintf(middle, sizeof(middle), "%s", journal_id(fx->j));
	usleep(20000);
	start(fx, two_nodes, 1);
	snprintf(newest, sizeof(newest), "%s", journal_id(fx->j));
	journal_free(fx->j);	/* dies without job-end */
	fx->j = NULL;
	/* older jobs: one ended 253, one with no journal at all */
	fake_job(fx, "20200102-030405-0a0b0c",
	    "{\"t\":1577934245000,\"event\":\"job-start\",\"command\":"
	    "\"deploy\",\"nodes\":[{\"name\":\"a\"},{\"name\":\"b\"},"
	    "{\"name\":\"c\"}]}\n"
	    "{\"t\":1577934245500,\"event\":\"job-end\",\"exit_code\":253,"
	    "\"interrupted\":false}\n");
	fake_job(fx, "20190101-000000-ffffff", NULL);
	fake_job(fx, "not-a-job", NULL);

	assert_int_equal(journal_list(fx->state, &v, &n), 0);
	assert_int_equal(n, 4);
	assert_string_equal(v[0].id, newest);
	assert_int_equal(v[0].state, JOURNAL_JOB_INCOMPLETE);
	assert_int_equal(v[0].n_nodes, 1);
	assert_string_equal(v[1].id, middle);
	assert_int_equal(v[1].state, JOURNAL_JOB_COMPLETE);
	assert_int_equal(v[1].exit_code, 0);
	assert_int_equal(v[1].n_nodes, 2);
	assert_string_equal(v[2].id, "20200102-030405-0a0b0c");
	assert_int_equal(v[2].state, JOURNAL_JOB_COMPLETE);
	assert_int_equal(v[2].exit_code, 253);
	assert_int_equal(v[2].n_nodes, 3);
	assert_string_equal(v[2].nodes[2], "c");
	assert_int_equal(v[2].start_ms, 1577934245000LL);
	assert_string_equal(v[3].id, "20190101-000000-ffffff");
	assert_int_equal(v[3].state, JOURNAL_JOB_UNREADABLE);
	assert_int_equal(v[3].start_ms, 1546300800000LL);
	journal_list_free(v, n);

	/* JOB: "last", a unique prefix, an ambiguous one, nonsense */
	assert_int_equal(journal_resolve(fx->state, "last", dir, sizeof(dir),
	    err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/jobs/%s", fx->state, newest);
	assert_string_equal(dir, want);
	assert_int_equal(journal_resolve(fx->state, "2020", dir, sizeof(dir),
	    err, sizeof(err)), 0);
	assert_non_null(strstr(dir, "/jobs/20200102-030405-0a0b0c"));
	assert_int_equal(journal_resolve(fx->state, "20", dir, sizeof(dir),
	    err, sizeof(err)), FW_ERR_INVALID);
	assert_non_null(strstr(err, "matches 4 jobs"));
	assert_int_equal(journal_resolve(fx->state, "1999", dir, sizeof(dir),
	    err, sizeof(err)), FW_ERR_NOT_FOUND);
	assert_int_equal(journal_resolve(fx->state, "../x", dir, sizeof(dir),
	    err, sizeof(err)), FW_ERR_INVALID);
	assert_int_equal(journal_resolve(fx->state, "", dir, sizeof(dir),
	    err, sizeof(err)), FW_ERR_INVALID);
}

static void test_jobs_empty(void **state)
{
	struct fixture *fx = *state;
	struct journal_job *v;
	char dir[256], err[256];
	size_t n;

	assert_int_equal(journal_list(fx->state, &v, &n), 0);
	assert_int_equal(n, 0);
	journal_list_free(v, n);
	assert_int_equal(journal_resolve(fx->state, "last", dir, sizeof(dir),
	    err, sizeof(err)), FW_ERR_NOT_FOUND);
	assert_non_null(strstr(err, "no jobs"));
}

/* A journal with only junk still gives a report, with warnings. */
static void test_no_job_start(void **state)
{
	struct fixture *fx = *state;
	struct report *rep = NULL;
	char dir[4096];

	fake_job(fx, "20210101-000000-000000", "");
	snprintf(dir, sizeof(dir), "%s/jobs/20210101-000000-000000/",
	    fx->state);
	assert_int_equal(report_load(dir, &rep), 0);
	assert_string_equal(report_job_id(rep), "20210101-000000-000000");
	assert_int_equal(report_warning_count(rep), 1);
	assert_non_null(strstr(report_warning(rep, 0), "no job-start"));
	assert_int_equal(report_exit_code(rep), 3);
	report_free(rep);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_json_model, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_csv, setup, teardown),
		cmocka_unit_test_setup_teardown(test_html, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_codes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_generate, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_jobs_order, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_jobs_empty, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_job_start, setup,
		    teardown),
	};

	log_init("test_report", LOG_LVL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
