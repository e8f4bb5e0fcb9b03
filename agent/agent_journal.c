#include "agent_journal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "util.h"

#define JOURNAL_MAX	(4u << 20)	/* read at most this much */
#define FIELD_MAX	256

struct record {
	long long t;
	char job[FIELD_MAX];
	char op[32];
	char component[FIELD_MAX];
	char version[FIELD_MAX];
	char state[32];
};

struct agent_journal {
	char *path;
	int fd;
	struct record cur;		/* the operation that runs */
	char **report;			/* what to report ... */
	char **report_comp;		/* ... and of which component */
	size_t n_report;
};

static void copy(char *dst, size_t len, json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	fw_snprintf(dst, len, "%s", v != NULL ? v : "");
}

static void parse(const char *line, struct record *r)
{
	json_t *o = json_loads(line, 0, NULL);

	memset(r, 0, sizeof(*r));
	r->t = json_integer_value(json_object_get(o, "t"));
	copy(r->job, sizeof(r->job), o, "job");
	copy(r->op, sizeof(r->op), o, "op");
	copy(r->component, sizeof(r->component), o, "component");
	copy(r->version, sizeof(r->version), o, "version");
	copy(r->state, sizeof(r->state), o, "state");
	json_decref(o);
}

/* r as one journal line (malloc'd). */
static char *line_of(const struct record *r)
{
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s}", "t",
	    (json_int_t)r->t, "job", r->job, "op", r->op, "component",
	    r->component, "version", r->version, "state", r->state);
	char *text = o != NULL ? json_dumps(o, JSON_COMPACT |
	    JSON_PRESERVE_ORDER) : NULL;
	char *line = xasprintf("%s\n", text != NULL ? text : "{}");

	free(text);
	json_decref(o);
	return line;
}

static void put(struct agent_journal *j, const struct record *r)
{
	char *line = line_of(r);

	if (j->fd >= 0 && (fw_write_all(j->fd, line, strlen(line)) != 0 ||
	    fdatasync(j->fd) != 0))
		log_error("cannot write %s: %s", j->path, strerror(errno));
	free(line);
}

static void report(struct agent_journal *j, const struct record *r)
{
	char when[32];
	time_t t = (time_t)r->t;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	j->report = xrealloc(j->report, j->n_report + 1, sizeof(char *));
	j->report_comp = xrealloc(j->report_comp, j->n_report + 1,
	    sizeof(char *));
	j->report_comp[j->n_report] = xstrdup(r->component);
	j->report[j->n_report++] = xasprintf("job %s: %s %s %s was "
	    "interrupted by a restart of the agent (started %s)", r->job,
	    r->op, r->component, r->version, when);
}

/* The last record of each component, in the journal's order. */
static size_t last_per_component(char *text, struct record **out)
{
	struct record *v = NULL, r;
	size_t n = 0, i;
	char *line, *save = NULL;

	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		parse(line, &r);
		if (r.component[0] == '\0')
			continue;
		for (i = 0; i < n && strcmp(v[i].component, r.component); i++)
			;
		if (i < n)
			memmove(&v[i], &v[i + 1], (n - i - 1) * sizeof(*v));
		else
			v = xrealloc(v, ++n, sizeof(*v));
		v[n - 1] = r;
	}
	*out = v;
	return n;
}

/*
 * Marks what a restart cut short, collects what to report, and keeps the
 * file small: it is rewritten (atomically) with each component's last
 * record only, then appended to.
 */
static void recover(struct agent_journal *j, char *text)
{
	struct record *last;
	size_t n = last_per_component(text, &last), i;
	char *all = xstrdup(""), *line, *prev;

	for (i = 0; i < n; i++) {
		if (strcmp(last[i].state, "begin") == 0) {
			fw_snprintf(last[i].state, sizeof(last[i].state),
			    "interrupted");
			log_warn("job %s: %s %s was interrupted by a restart",
			    last[i].job, last[i].op, last[i].component);
		}
		if (strcmp(last[i].state, "interrupted") == 0)
			report(j, &last[i]);
		line = line_of(&last[i]);
		prev = all;
		all = xasprintf("%s%s", prev, line);
		free(prev);
		free(line);
	}
	if (fw_write_file(j->path, all, strlen(all), 0600) == 0)
		j->fd = open(j->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	free(all);
	free(last);
}

struct agent_journal *agent_journal_open(const char *state_dir)
{
	struct agent_journal *j = xcalloc(1, sizeof(*j));
	char *text = NULL;
	size_t len = 0;

	j->path = xasprintf("%s/journal.jsonl", state_dir);
	j->fd = -1;
	if (fw_read_file(j->path, JOURNAL_MAX, &text, &len) != 0 &&
	    errno != ENOENT) {
		log_error("cannot read %s: %s", j->path, strerror(errno));
		text = NULL;
	}
	recover(j, text != NULL ? text : xstrdup(""));
	free(text);
	if (j->fd < 0) {
		log_error("cannot write %s: %s; running without a journal",
		    j->path, strerror(errno));
		agent_journal_close(j);
		return NULL;
	}
	return j;
}

void agent_journal_begin(struct agent_journal *j, const char *job,
    const char *op, const char *component, const char *version)
{
	if (j == NULL)
		return;
	memset(&j->cur, 0, sizeof(j->cur));
	j->cur.t = (long long)time(NULL);
	fw_snprintf(j->cur.job, sizeof(j->cur.job), "%s", job);
	fw_snprintf(j->cur.op, sizeof(j->cur.op), "%s", op);
	fw_snprintf(j->cur.component, sizeof(j->cur.component), "%s",
	    component);
	fw_snprintf(j->cur.version, sizeof(j->cur.version), "%s", version);
	fw_snprintf(j->cur.state, sizeof(j->cur.state), "begin");
	put(j, &j->cur);
}

/* A component that ran again is no longer reported. */
static void forget(struct agent_journal *j, const char *component)
{
	size_t i = 0;

	while (i < j->n_report) {
		if (strcmp(j->report_comp[i], component) != 0) {
			i++;
			continue;
		}
		free(j->report[i]);
		free(j->report_comp[i]);
		j->n_report--;
		memmove(&j->report[i], &j->report[i + 1],
		    (j->n_report - i) * sizeof(char *));
		memmove(&j->report_comp[i], &j->report_comp[i + 1],
		    (j->n_report - i) * sizeof(char *));
	}
}

void agent_journal_end(struct agent_journal *j, const char *state)
{
	if (j == NULL || j->cur.component[0] == '\0')
		return;
	forget(j, j->cur.component);
	j->cur.t = (long long)time(NULL);
	fw_snprintf(j->cur.state, sizeof(j->cur.state), "%s", state);
	put(j, &j->cur);
	j->cur.component[0] = '\0';
}

char **agent_journal_interrupted(const struct agent_journal *j, size_t *n)
{
	*n = j != NULL ? j->n_report : 0;
	return j != NULL ? j->report : NULL;
}

void agent_journal_close(struct agent_journal *j)
{
	size_t i;

	if (j == NULL)
		return;
	if (j->fd >= 0)
		close(j->fd);
	for (i = 0; i < j->n_report; i++) {
		free(j->report[i]);
		free(j->report_comp[i]);
	}
	free(j->report);
	free(j->report_comp);
	free(j->path);
	free(j);
}
