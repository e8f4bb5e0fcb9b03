#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "command.h"
#include "err.h"
#include "journal.h"
#include "report.h"
#include "util.h"

static const char jobs_usage[] =
	"usage: fwfleet jobs [--json]\n"
	"\n"
	"Lists the jobs in the state directory, newest first: the job id,\n"
	"when it started (local time), the command, how many nodes, and its\n"
	"result: the exit code and what it means, or 'running' (a fwfleet\n"
	"process still holds the journal) or 'incomplete' (it stopped before\n"
	"the end, e.g. a crash). 'fwfleet report JOB' shows one job.\n"
	"\n"
	"  --json    print JSON: {\"jobs\":[{\"id\",\"start\",\"command\",\n"
	"            \"nodes\",\"state\",\"exit_code\",\"result\"}]}\n"
	"\n"
	"exit status: 0 listed, 254 bad parameters, 255 the state directory\n"
	"is unreadable\n";

/* "2024-05-01 14:00:00" in local time, or "-". */
static void start_local(int64_t ms, char *buf, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || localtime_r(&s, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		(void)fw_snprintf(buf, len, "-");
}

static const char *state_name(enum journal_job_state s)
{
	switch (s) {
	case JOURNAL_JOB_COMPLETE: return "complete";
	case JOURNAL_JOB_RUNNING: return "running";
	case JOURNAL_JOB_INCOMPLETE: return "incomplete";
	case JOURNAL_JOB_UNREADABLE: return "unreadable";
	}
	return "unknown";
}

/* "253 a component failed", "interrupted: 255 failure", "running". */
static char *result_text(const struct journal_job *j)
{
	if (j->state != JOURNAL_JOB_COMPLETE)
		return xstrdup(state_name(j->state));
	return xasprintf("%s%d %s", j->interrupted ? "interrupted: " : "",
	    j->exit_code, report_exit_meaning(j->exit_code));
}

static void print_text(const struct journal_job *v, size_t n)
{
	char when[64], *cmd, *res;
	size_t i;

	printf("%-22s  %-19s  %-10s %5s  %s\n", "JOB", "STARTED", "COMMAND",
	    "NODES", "RESULT");
	for (i = 0; i < n; i++) {
		start_local(v[i].start_ms, when, sizeof(when));
		cmd = xstrdup(v[i].command != NULL ? v[i].command : "?");
		journal_clean_text(cmd, false);
		res = result_text(&v[i]);
		printf("%-22s  %-19s  %-10s %5zu  %s\n", v[i].id, when, cmd,
		    v[i].n_nodes, res);
		free(cmd);
		free(res);
	}
}

static json_t *job_json(const struct journal_job *j)
{
	json_t *o, *nodes = json_array();
	char when[64], *res = result_text(j);
	size_t i;

	start_local(j->start_ms, when, sizeof(when));
	for (i = 0; nodes != NULL && i < j->n_nodes; i++)
		json_array_append_new(nodes, json_string(j->nodes[i]));
	o = json_pack("{s:s, s:s, s:I, s:o?, s:o, s:s, s:o, s:b, s:s}",
	    "id", j->id, "start", when, "start_ms", (json_int_t)j->start_ms,
	    "command", j->command ? json_string(j->command) : NULL,
	    "nodes", nodes, "state", state_name(j->state),
	    "exit_code", j->state == JOURNAL_JOB_COMPLETE ?
	    json_integer(j->exit_code) : json_null(),
	    "interrupted", (int)j->interrupted, "result", res);
	free(res);
	return o;
}

static int print_json(const struct journal_job *v, size_t n)
{
	json_t *doc = json_object(), *a = json_array();
	int r = FW_ERR_NOMEM;
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		if (json_array_append_new(a, job_json(&v[i])) != 0)
			goto out;
	}
	if (json_object_set_new(doc, "jobs", a) != 0) {
		a = NULL;
		goto out;
	}
	a = NULL;
	if (json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
		goto out;
	fputc('\n', stdout);
	r = 0;
out:
	json_decref(a);
	json_decref(doc);
	return r;
}

static int jobs_exec(const struct global_opts *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct journal_job *v = NULL;
	size_t n = 0;
	int ch, json = 0, r = EXIT_FW_BAD_PARAM;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (ch != 'j')
			goto out;
		json = 1;
	}
	if (optind != argc) {
		fprintf(stderr, "fwfleet jobs: unexpected argument '%s'; see "
		    "--help\n", argv[optind]);
		goto out;
	}
	r = EXIT_FW_FAILURE;
	if (journal_list(g->state_dir, &v, &n) != 0) {
		perror("fwfleet jobs: cannot read the jobs folder");
		goto out;
	}
	if (json) {
		if (print_json(v, n) != 0)
			goto out;
	} else if (n == 0) {
		fprintf(stderr, "fwfleet jobs: no jobs in %s/jobs\n",
		    g->state_dir);
	} else {
		print_text(v, n);
	}
	r = fflush(stdout) == 0 ? EXIT_FW_OK : EXIT_FW_FAILURE;
out:
	journal_list_free(v, n);
	return r;
}

const struct command cmd_jobs = {
	.name = "jobs",
	.summary = "list the jobs in the state directory",
	.usage = jobs_usage,
	.exec = jobs_exec,
};
