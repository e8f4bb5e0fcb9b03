#include "report.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "command.h"
#include "err.h"
#include "journal.h"
#include "util.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define WARNINGS_MAX	1000	/* kept; more are counted only */

/* --- the model ----------------------------------------------------------- */

/* A component on a node: its plan entry, progress and result merged. */
struct rcomp {
	char *id, *name, *kind, *installed, *target, *reason;
	bool planned;
	enum journal_action action;
	bool has_phase;
	enum journal_phase phase;
	int64_t percent, bytes;
	bool has_result;
	enum journal_outcome outcome;
	bool has_exit;
	int64_t exit_code;
	char *detail;
	int64_t t_result;
};

struct rnode {
	char *name;
	char *log;			/* "nodes/web1.log", or NULL */
	char *state;			/* last node-state, or NULL */
	bool done;
	enum journal_node_status status;
	char *error;
	bool reboot_needed;
	int64_t t_first, t_done;
	struct rcomp *comps;
	size_t n_comps;
};

struct report {
	char *id, *command, *repository, *version, *host, *user;
	char **args;
	size_t n_args;
	bool has_start, has_end, interrupted;
	int64_t t_start, t_end, exit_code;
	struct rnode *nodes;
	size_t n_nodes;
	char **warnings;
	size_t n_warnings, warnings_dropped;
};

/* What replay keeps track of while it reads. */
struct replay {
	struct report *r;
	size_t line;
	int64_t t;
};

static void set_str(char **field, const char *v)
{
	free(*field);
	*field = v != NULL ? xstrdup(v) : NULL;
}

__attribute__((format(printf, 2, 3)))
static void warn(struct replay *rp, const char *fmt, ...)
{
	struct report *r = rp->r;
	va_list ap;
	char *msg;

	if (r->n_warnings >= WARNINGS_MAX) {
		r->warnings_dropped++;
		return;
	}
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	r->warnings = xrealloc(r->warnings, r->n_warnings + 1,
	    sizeof(*r->warnings));
	r->warnings[r->n_warnings++] = xasprintf("line %zu: %s", rp->line,
	    msg);
	free(msg);
}

static const char *jstr(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* A node's log path if it has the form journal.c gives it, else NULL. */
static const char *log_path_ok(const char *p)
{
	size_t n, pre = strlen(JOURNAL_NODES_DIR "/"), i;

	if (p == NULL || strncmp(p, JOURNAL_NODES_DIR "/", pre) != 0)
		return NULL;
	n = strlen(p);
	if (n <= pre + 4 || strcmp(p + n - 4, ".log") != 0)
		return NULL;
	for (i = pre; i < n; i++) {
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789._-", p[i]))
			return NULL;
	}
	return p;
}

static struct rnode *node_get(struct report *r, const char *name)
{
	struct rnode *n;
	size_t i;

	for (i = 0; i < r->n_nodes; i++) {
		if (strcmp(r->nodes[i].name, name) == 0)
			return &r->nodes[i];
	}
	r->nodes = xrealloc(r->nodes, r->n_nodes + 1, sizeof(*r->nodes));
	n = &r->nodes[r->n_nodes++];
	memset(n, 0, sizeof(*n));
	n->name = xstrdup(name);
	return n;
}

static struct rcomp *comp_get(struct rnode *n, const char *id)
{
	struct rcomp *c;
	size_t i;

	for (i = 0; i < n->n_comps; i++) {
		if (strcmp(n->comps[i].id, id) == 0)
			return &n->comps[i];
	}
	n->comps = xrealloc(n->comps, n->n_comps + 1, sizeof(*n->comps));
	c = &n->comps[n->n_comps++];
	memset(c, 0, sizeof(*c));
	c->id = xstrdup(id);
	return c;
}

/* The node an event names (created if new), or NULL with a warning. */
static struct rnode *event_node(struct replay *rp, const json_t *ev,
    const char *event)
{
	const char *name = jstr(ev, "node");
	struct rnode *n;

	if (name == NULL) {
		warn(rp, "%s without a node, skipped", event);
		return NULL;
	}
	n = node_get(rp->r, name);
	if (n->t_first == 0)
		n->t_first = rp->t;
	return n;
}

/* The component an event names, or NULL with a warning. */
static struct rcomp *event_comp(struct replay *rp, const json_t *ev,
    const char *event)
{
	const char *id = jstr(ev, "component");
	struct rnode *n;

	if (id == NULL) {
		warn(rp, "%s without a component, skipped", event);
		return NULL;
	}
	if ((n = event_node(rp, ev, event)) == NULL)
		return NULL;
	return comp_get(n, id);
}

static void start_nodes(struct replay *rp, const json_t *nodes)
{
	const json_t *o;
	const char *name, *log;
	struct rnode *n;
	size_t i;

	json_array_foreach(nodes, i, o) {
		name = json_is_string(o) ? json_string_value(o) : jstr(o,
		    "name");
		if (name == NULL) {
			warn(rp, "job-start: node %zu has no name", i);
			continue;
		}
		n = node_get(rp->r, name);
		log = jstr(o, "log");
		if (log != NULL && log_path_ok(log) == NULL)
			warn(rp, "job-start: node %s: odd log path ignored",
			    name);
		set_str(&n->log, log_path_ok(log));
	}
}

static void ev_job_start(struct replay *rp, const json_t *ev)
{
	struct report *r = rp->r;
	const json_t *args = json_object_get(ev, "args"), *a;
	size_t i;

	if (r->has_start) {
		warn(rp, "a second job-start, skipped");
		return;
	}
	r->has_start = true;
	r->t_start = rp->t;
	if (jstr(ev, "job") != NULL)
		set_str(&r->id, jstr(ev, "job"));
	set_str(&r->command, jstr(ev, "command"));
	set_str(&r->repository, jstr(ev, "repository"));
	set_str(&r->version, jstr(ev, "fwfleet"));
	set_str(&r->host, jstr(ev, "host"));
	set_str(&r->user, jstr(ev, "user"));
	r->args = xcalloc(json_array_size(args) + 1, sizeof(*r->args));
	json_array_foreach(args, i, a) {
		if (json_is_string(a))
			r->args[r->n_args++] = xstrdup(json_string_value(a));
	}
	start_nodes(rp, json_object_get(ev, "nodes"));
}

static void ev_node_state(struct replay *rp, const json_t *ev)
{
	struct rnode *n;

	if ((n = event_node(rp, ev, "node-state")) != NULL)
		set_str(&n->state, jstr(ev, "state"));
}

static void plan_entry(struct replay *rp, struct rnode *n, const json_t *e)
{
	enum journal_action action;
	struct rcomp *c;

	if (jstr(e, "id") == NULL ||
	    journal_action_parse(jstr(e, "action"), &action) != 0) {
		warn(rp, "node-plan: an entry without id or action, skipped");
		return;
	}
	c = comp_get(n, jstr(e, "id"));
	c->planned = true;
	c->action = action;
	set_str(&c->name, jstr(e, "name"));
	set_str(&c->kind, jstr(e, "kind"));
	set_str(&c->installed, jstr(e, "installed"));
	set_str(&c->target, jstr(e, "target"));
	set_str(&c->reason, jstr(e, "reason"));
}

static void ev_node_plan(struct replay *rp, const json_t *ev)
{
	const json_t *comps = json_object_get(ev, "components"), *e;
	struct rnode *n;
	size_t i;

	if ((n = event_node(rp, ev, "node-plan")) == NULL)
		return;
	if (!json_is_array(comps)) {
		warn(rp, "node-plan without components, skipped");
		return;
	}
	json_array_foreach(comps, i, e)
		plan_entry(rp, n, e);
}

static void ev_component_phase(struct replay *rp, const json_t *ev)
{
	enum journal_phase phase;
	struct rcomp *c;

	if (journal_phase_parse(jstr(ev, "phase"), &phase) != 0) {
		warn(rp, "component-phase with an unknown phase, skipped");
		return;
	}
	if ((c = event_comp(rp, ev, "component-phase")) == NULL)
		return;
	c->has_phase = true;
	c->phase = phase;
	c->percent = json_integer_value(json_object_get(ev, "percent"));
	c->bytes = json_integer_value(json_object_get(ev, "bytes"));
}

static void ev_component_result(struct replay *rp, const json_t *ev)
{
	const json_t *code = json_object_get(ev, "exit_code");
	enum journal_outcome outcome;
	struct rcomp *c;

	if (journal_outcome_parse(jstr(ev, "outcome"), &outcome) != 0) {
		warn(rp, "component-result with an unknown outcome, skipped");
		return;
	}
	if ((c = event_comp(rp, ev, "component-result")) == NULL)
		return;
	c->has_result = true;
	c->outcome = outcome;
	c->has_exit = json_is_integer(code);
	c->exit_code = json_integer_value(code);
	set_str(&c->detail, jstr(ev, "detail"));
	c->t_result = rp->t;
}

static void ev_node_done(struct replay *rp, const json_t *ev)
{
	enum journal_node_status status;
	struct rnode *n;

	if (journal_node_status_parse(jstr(ev, "status"), &status) != 0) {
		warn(rp, "node-done with an unknown status, skipped");
		return;
	}
	if ((n = event_node(rp, ev, "node-done")) == NULL)
		return;
	n->done = true;
	n->status = status;
	set_str(&n->error, jstr(ev, "error"));
	n->reboot_needed = json_is_true(json_object_get(ev, "reboot_needed"));
	n->t_done = rp->t;
}

static void ev_job_end(struct replay *rp, const json_t *ev)
{
	struct report *r = rp->r;

	if (!json_is_integer(json_object_get(ev, "exit_code"))) {
		warn(rp, "job-end without an exit code, skipped");
		return;
	}
	r->has_end = true;
	r->t_end = rp->t;
	r->exit_code = json_integer_value(json_object_get(ev, "exit_code"));
	r->interrupted = json_is_true(json_object_get(ev, "interrupted"));
}

static const struct {
	const char *name;
	void (*apply)(struct replay *, const json_t *);
} event_table[] = {
	{ "job-start", ev_job_start },
	{ "node-state", ev_node_state },
	{ "node-plan", ev_node_plan },
	{ "component-phase", ev_component_phase },
	{ "component-result", ev_component_result },
	{ "node-done", ev_node_done },
	{ "job-end", ev_job_end },
};

static void replay_line(struct replay *rp, const char *buf, size_t len,
    bool complete)
{
	json_t *ev = json_loadb(buf, len, 0, NULL);
	const char *name = jstr(ev, "event");
	size_t i;

	if (!json_is_object(ev)) {
		warn(rp, complete ? "not a JSON object, skipped" :
		    "truncated (the controller stopped mid-write), skipped");
		goto out;
	}
	if (name == NULL) {
		warn(rp, "no event name, skipped");
		goto out;
	}
	rp->t = json_integer_value(json_object_get(ev, "t"));
	for (i = 0; i < ARRAY_SIZE(event_table); i++) {
		if (strcmp(event_table[i].name, name) == 0) {
			event_table[i].apply(rp, ev);
			goto out;
		}
	}
	warn(rp, "unknown event, skipped");
out:
	json_decref(ev);
}

static int replay_file(struct replay *rp, FILE *f)
{
	char *buf = xmalloc(JOURNAL_LINE_MAX);
	bool complete;
	size_t len;
	int r;

	while ((r = journal_read_line(f, buf, &len, &complete)) != 0) {
		rp->line++;
		if (r == FW_ERR_SYSTEM)
			break;
		if (r == FW_ERR_FRAME_TOO_BIG)
			warn(rp, "longer than %d bytes, skipped",
			    JOURNAL_LINE_MAX);
		else if (len > 0)
			replay_line(rp, buf, len, complete);
	}
	free(buf);
	return r;
}

/* The last component of a path, trailing slashes aside. Caller frees. */
static char *base_name(const char *path)
{
	size_t end = strlen(path), start;
	char *out;

	while (end > 1 && path[end - 1] == '/')
		end--;
	for (start = end; start > 0 && path[start - 1] != '/'; start--)
		;
	out = xmalloc(end - start + 1);
	memcpy(out, path + start, end - start);
	out[end - start] = '\0';
	return out;
}

int report_load(const char *job_dir, struct report **out)
{
	struct replay rp = { 0 };
	char path[4096];
	FILE *f = NULL;
	int r;

	*out = NULL;
	rp.r = xcalloc(1, sizeof(*rp.r));
	rp.r->id = base_name(job_dir);
	if ((r = fw_snprintf(path, sizeof(path), "%s/%s", job_dir,
	    JOURNAL_FILE)) != 0)
		goto out;
	if ((f = fopen(path, "re")) == NULL) {
		r = errno == ENOENT ? FW_ERR_NOT_FOUND : FW_ERR_SYSTEM;
		goto out;
	}
	if ((r = replay_file(&rp, f)) != 0)
		goto out;
	if (!rp.r->has_start) {
		rp.line = 0;
		warn(&rp, "no job-start event in the journal");
	}
	*out = rp.r;
	rp.r = NULL;
out:
	if (f != NULL)
		fclose(f);
	report_free(rp.r);
	return r;
}

static void comp_free(struct rcomp *c)
{
	free(c->id);
	free(c->name);
	free(c->kind);
	free(c->installed);
	free(c->target);
	free(c->reason);
	free(c->detail);
}

void report_free(struct report *r)
{
	size_t i, k;

	if (r == NULL)
		return;
	for (i = 0; i < r->n_nodes; i++) {
		for (k = 0; k < r->nodes[i].n_comps; k++)
			comp_free(&r->nodes[i].comps[k]);
		free(r->nodes[i].comps);
		free(r->nodes[i].name);
		free(r->nodes[i].log);
		free(r->nodes[i].state);
		free(r->nodes[i].error);
	}
	free(r->nodes);
	for (i = 0; i < r->n_args; i++)
		free(r->args[i]);
	free(r->args);
	for (i = 0; i < r->n_warnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	free(r->id);
	free(r->command);
	free(r->repository);
	free(r->version);
	free(r->host);
	free(r->user);
	free(r);
}

size_t report_warning_count(const struct report *r)
{
	return r->n_warnings;
}

const char *report_warning(const struct report *r, size_t i)
{
	return i < r->n_warnings ? r->warnings[i] : NULL;
}

const char *report_job_id(const struct report *r)
{
	return r->id;
}

/* --- derived values ------------------------------------------------------ */

int report_exit_code(const struct report *r)
{
	bool node_fail = false, comp_fail = false, reboot = false, did = false;
	const struct rcomp *c;
	size_t i, k;

	for (i = 0; i < r->n_nodes; i++) {
		if (!r->nodes[i].done || r->nodes[i].status != JOURNAL_NODE_OK)
			node_fail = true;
		reboot |= r->nodes[i].reboot_needed;
		for (k = 0; k < r->nodes[i].n_comps; k++) {
			c = &r->nodes[i].comps[k];
			if (!c->has_result)
				continue;
			comp_fail |= c->outcome == JOURNAL_OUTCOME_FAILED;
			reboot |= c->outcome == JOURNAL_OUTCOME_SUCCESS_REBOOT;
			did |= c->outcome == JOURNAL_OUTCOME_SUCCESS ||
			    c->outcome == JOURNAL_OUTCOME_SUCCESS_REBOOT;
		}
	}
	if (node_fail)
		return EXIT_FW_FAILURE;
	if (comp_fail)
		return EXIT_FW_COMPONENT;
	if (reboot)
		return EXIT_FW_REBOOT;
	return did ? EXIT_FW_OK : EXIT_FW_NOTHING;
}

const char *report_exit_meaning(int code)
{
	switch (code) {
	case EXIT_FW_OK: return "success";
	case EXIT_FW_REBOOT: return "success, reboot needed";
	case EXIT_FW_NOTHING: return "nothing to do";
	case EXIT_FW_COMPONENT: return "a component failed";
	case EXIT_FW_BAD_PARAM: return "bad parameters";
	case EXIT_FW_FAILURE: return "failure";
	}
	return "unknown exit code";
}

/*
 * A component's outcome: its result, else "skipped" when the plan skipped
 * it, "pending" while its node may still run it, "not-run" otherwise.
 */
static const char *comp_outcome(const struct report *r,
    const struct rnode *n, const struct rcomp *c)
{
	if (c->has_result)
		return journal_outcome_name(c->outcome);
	if (c->planned && c->action == JOURNAL_ACTION_SKIP)
		return "skipped";
	if (!n->done && !r->has_end)
		return "pending";
	return "not-run";
}

/* Every value comp_outcome() can give, in report order. */
static const char *const all_outcomes[] = {
	"success", "success-reboot-required", "already-current",
	"not-applicable", "failed", "skipped", "cancelled", "pending",
	"not-run",
};

/* "ok", "failed", "cancelled", or "incomplete" before node-done. */
static const char *node_status(const struct rnode *n)
{
	return n->done ? journal_node_status_name(n->status) : "incomplete";
}

static const char *const all_node_statuses[] = {
	"ok", "failed", "cancelled", "incomplete",
};

static const char *job_status(const struct report *r)
{
	if (!r->has_end)
		return "incomplete";
	return r->interrupted ? "interrupted" : "complete";
}

/* A component's detail column: its result's detail, else the plan's reason. */
static const char *comp_detail(const struct rcomp *c)
{
	if (c->detail != NULL && c->detail[0] != '\0')
		return c->detail;
	return c->reason != NULL ? c->reason : "";
}

/* Counts components (or nodes) with each status name in names[]. */
static void count_outcomes(const struct report *r, size_t counts[])
{
	const struct rnode *n;
	const char *o;
	size_t i, k, m;

	for (i = 0; i < r->n_nodes; i++) {
		n = &r->nodes[i];
		for (k = 0; k < n->n_comps; k++) {
			o = comp_outcome(r, n, &n->comps[k]);
			for (m = 0; m < ARRAY_SIZE(all_outcomes); m++)
				counts[m] += strcmp(o, all_outcomes[m]) == 0;
		}
	}
}

static void count_nodes(const struct report *r, size_t counts[])
{
	size_t i, m;

	for (i = 0; i < r->n_nodes; i++) {
		for (m = 0; m < ARRAY_SIZE(all_node_statuses); m++)
			counts[m] += strcmp(node_status(&r->nodes[i]),
			    all_node_statuses[m]) == 0;
	}
}

static bool node_reboot(const struct rnode *n)
{
	size_t k;

	if (n->reboot_needed)
		return true;
	for (k = 0; k < n->n_comps; k++) {
		if (n->comps[k].has_result && n->comps[k].outcome ==
		    JOURNAL_OUTCOME_SUCCESS_REBOOT)
			return true;
	}
	return false;
}

/* "2024-05-01T12:00:00.123Z", or "" for 0. */
static void utc_time(int64_t ms, char *buf, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char base[32];

	buf[0] = '\0';
	if (ms <= 0 || gmtime_r(&s, &tm) == NULL ||
	    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		return;
	if (fw_snprintf(buf, len, "%s.%03dZ", base, (int)(ms % 1000)) != 0)
		buf[0] = '\0';
}

/* "2024-05-01 14:00:00 +0200" in local time, or "-" for 0. */
static void local_time(int64_t ms, char *buf, size_t len)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;

	if (ms <= 0 || localtime_r(&s, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S %z", &tm) == 0)
		(void)fw_snprintf(buf, len, "-");
}

/* --- JSON ---------------------------------------------------------------- */

/* Sets key to v (taken) in o; any failure sets *bad. */
static void put(json_t *o, const char *key, json_t *v, bool *bad)
{
	if (json_object_set_new(o, key, v) != 0)
		*bad = true;
}

static json_t *done(json_t *o, bool bad)
{
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* A string, or null for NULL; strings from jansson are valid UTF-8. */
static json_t *str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *time_json(int64_t ms)
{
	char buf[40];

	utc_time(ms, buf, sizeof(buf));
	return buf[0] != '\0' ? json_string(buf) : json_null();
}

static json_t *int_or_null(bool has, int64_t v)
{
	return has ? json_integer(v) : json_null();
}

static json_t *comp_json(const struct report *r, const struct rnode *n,
    const struct rcomp *c)
{
	json_t *o = json_object();
	bool bad = false;

	put(o, "id", json_string(c->id), &bad);
	put(o, "name", str_or_null(c->name), &bad);
	put(o, "kind", str_or_null(c->kind), &bad);
	put(o, "installed", str_or_null(c->installed), &bad);
	put(o, "target", str_or_null(c->target), &bad);
	put(o, "action", c->planned ?
	    json_string(journal_action_name(c->action)) : json_null(), &bad);
	put(o, "reason", str_or_null(c->reason), &bad);
	put(o, "outcome", json_string(comp_outcome(r, n, c)), &bad);
	put(o, "exit_code", int_or_null(c->has_exit, c->exit_code), &bad);
	put(o, "detail", str_or_null(c->detail), &bad);
	put(o, "finished", time_json(c->has_result ? c->t_result : 0), &bad);
	put(o, "phase", c->has_phase ?
	    json_string(journal_phase_name(c->phase)) : json_null(), &bad);
	put(o, "percent", int_or_null(c->has_phase, c->percent), &bad);
	put(o, "bytes", int_or_null(c->has_phase, c->bytes), &bad);
	return done(o, bad);
}

static json_t *node_json(const struct report *r, const struct rnode *n)
{
	json_t *o = json_object(), *a = json_array();
	bool bad = false;
	size_t k;

	put(o, "name", json_string(n->name), &bad);
	put(o, "status", json_string(node_status(n)), &bad);
	put(o, "state", str_or_null(n->state), &bad);
	put(o, "error", str_or_null(n->error), &bad);
	put(o, "reboot_needed", json_boolean(node_reboot(n)), &bad);
	put(o, "log", str_or_null(n->log), &bad);
	put(o, "first_event", time_json(n->t_first), &bad);
	put(o, "finished", time_json(n->done ? n->t_done : 0), &bad);
	for (k = 0; !bad && k < n->n_comps; k++) {
		if (json_array_append_new(a, comp_json(r, n,
		    &n->comps[k])) != 0)
			bad = true;
	}
	put(o, "components", a, &bad);
	return done(o, bad);
}

static json_t *strings_json(char *const *v, size_t n)
{
	json_t *a = json_array();
	bool bad = false;
	size_t i;

	for (i = 0; i < n; i++) {
		if (json_array_append_new(a, json_string(v[i])) != 0)
			bad = true;
	}
	return done(a, bad);
}

static json_t *job_json(const struct report *r)
{
	json_t *o = json_object();
	bool bad = false;

	put(o, "id", json_string(r->id), &bad);
	put(o, "command", str_or_null(r->command), &bad);
	put(o, "args", strings_json(r->args, r->n_args), &bad);
	put(o, "repository", str_or_null(r->repository), &bad);
	put(o, "status", json_string(job_status(r)), &bad);
	put(o, "start", time_json(r->t_start), &bad);
	put(o, "end", time_json(r->has_end ? r->t_end : 0), &bad);
	put(o, "start_ms", int_or_null(r->has_start, r->t_start), &bad);
	put(o, "end_ms", int_or_null(r->has_end, r->t_end), &bad);
	put(o, "exit_code", int_or_null(r->has_end, r->exit_code), &bad);
	put(o, "interrupted", json_boolean(r->interrupted), &bad);
	put(o, "fwfleet", str_or_null(r->version), &bad);
	put(o, "host", str_or_null(r->host), &bad);
	put(o, "user", str_or_null(r->user), &bad);
	return done(o, bad);
}

static json_t *counts_json(const char *const *names, const size_t *counts,
    size_t n)
{
	json_t *o = json_object();
	bool bad = false;
	size_t i;

	for (i = 0; i < n; i++)
		put(o, names[i], json_integer((json_int_t)counts[i]), &bad);
	return done(o, bad);
}

static json_t *summary_json(const struct report *r)
{
	size_t oc[ARRAY_SIZE(all_outcomes)] = { 0 };
	size_t nc[ARRAY_SIZE(all_node_statuses)] = { 0 };
	json_t *o = json_object(), *nodes, *reboot = json_array();
	bool bad = false;
	size_t i;

	count_outcomes(r, oc);
	count_nodes(r, nc);
	nodes = counts_json(all_node_statuses, nc, ARRAY_SIZE(nc));
	put(nodes, "total", json_integer((json_int_t)r->n_nodes), &bad);
	for (i = 0; i < r->n_nodes; i++) {
		if (node_reboot(&r->nodes[i]) && json_array_append_new(reboot,
		    json_string(r->nodes[i].name)) != 0)
			bad = true;
	}
	put(o, "nodes", nodes, &bad);
	put(o, "components", counts_json(all_outcomes, oc, ARRAY_SIZE(oc)),
	    &bad);
	put(o, "reboot_needed", reboot, &bad);
	return done(o, bad);
}

static json_t *result_json(const struct report *r)
{
	int code = report_exit_code(r);

	return json_pack("{s:i, s:s}", "exit_code", code, "meaning",
	    report_exit_meaning(code));
}

static json_t *report_json(const struct report *r)
{
	json_t *o = json_object(), *nodes = json_array();
	bool bad = false;
	size_t i;

	put(o, "format", json_string("fwfleet-report"), &bad);
	put(o, "version", json_integer(1), &bad);
	put(o, "job", job_json(r), &bad);
	put(o, "result", result_json(r), &bad);
	put(o, "summary", summary_json(r), &bad);
	for (i = 0; !bad && i < r->n_nodes; i++) {
		if (json_array_append_new(nodes, node_json(r,
		    &r->nodes[i])) != 0)
			bad = true;
	}
	put(o, "nodes", nodes, &bad);
	put(o, "warnings", strings_json(r->warnings, r->n_warnings), &bad);
	put(o, "warnings_dropped", json_integer((json_int_t)
	    r->warnings_dropped), &bad);
	return done(o, bad);
}

static int write_json(const struct report *r, FILE *f)
{
	json_t *doc = report_json(r);
	int r2 = FW_ERR_NOMEM;

	if (doc == NULL)
		goto out;
	r2 = FW_ERR_SYSTEM;
	if (json_dumpf(doc, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
	    fputc('\n', f) == EOF)
		goto out;
	r2 = 0;
out:
	json_decref(doc);
	return r2;
}

/* --- CSV (RFC 4180) ------------------------------------------------------ */

static void csv_field(FILE *f, const char *s, bool last)
{
	const char *p;

	s = s != NULL ? s : "";
	/*
	 * A spreadsheet runs a cell starting with = + - @ as a formula; what
	 * a node reports must not, so such a cell starts with a quote.
	 */
	if (s[0] != '\0' && strchr("=+-@\t\r", s[0]) != NULL) {
		fputs("\"'", f);
	} else if (strpbrk(s, ",\"\r\n") != NULL) {
		fputc('"', f);
	} else {
		fputs(s, f);
		fputs(last ? "\r\n" : ",", f);
		return;
	}
	for (p = s; *p != '\0'; p++) {
		if (*p == '"')
			fputc('"', f);
		fputc(*p, f);
	}
	fputs(last ? "\"\r\n" : "\",", f);
}

static void csv_row(FILE *f, const char *const *cells, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		csv_field(f, cells[i], i + 1 == n);
}

static const char *const csv_head[] = {
	"job", "node", "node_status", "reboot_needed", "component", "name",
	"kind", "from", "to", "action", "outcome", "exit_code", "detail",
};

static void csv_node(FILE *f, const struct report *r, const struct rnode *n)
{
	const char *cells[ARRAY_SIZE(csv_head)];
	const struct rcomp *c;
	char code[32];
	size_t k;

	cells[0] = r->id;
	cells[1] = n->name;
	cells[2] = node_status(n);
	cells[3] = node_reboot(n) ? "yes" : "no";
	if (n->n_comps == 0) {
		memset(cells + 4, 0, sizeof(cells) - 4 * sizeof(cells[0]));
		cells[12] = n->error;
		csv_row(f, cells, ARRAY_SIZE(cells));
		return;
	}
	for (k = 0; k < n->n_comps; k++) {
		c = &n->comps[k];
		code[0] = '\0';
		if (c->has_exit)
			(void)fw_snprintf(code, sizeof(code), "%lld",
			    (long long)c->exit_code);
		cells[4] = c->id;
		cells[5] = c->name;
		cells[6] = c->kind;
		cells[7] = c->installed;
		cells[8] = c->target;
		cells[9] = c->planned ? journal_action_name(c->action) : NULL;
		cells[10] = comp_outcome(r, n, c);
		cells[11] = code;
		cells[12] = comp_detail(c);
		csv_row(f, cells, ARRAY_SIZE(cells));
	}
}

static int write_csv(const struct report *r, FILE *f)
{
	size_t i;

	csv_row(f, csv_head, ARRAY_SIZE(csv_head));
	for (i = 0; i < r->n_nodes; i++)
		csv_node(f, r, &r->nodes[i]);
	return ferror(f) ? FW_ERR_SYSTEM : 0;
}

/* --- HTML ---------------------------------------------------------------- */

/* Writes s HTML-escaped; control characters (but tab, line feed) as '?'. */
static void html_put(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");

	for (; *p != '\0'; p++) {
		switch (*p) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default:
			if ((*p < 0x20 && *p != '\t' && *p != '\n') ||
			    *p == 0x7f)
				fputc('?', f);
			else
				fputc(*p, f);
		}
	}
}

/* html_put() of s, or of "-" when s is empty. */
static void html_cell(FILE *f, const char *s)
{
	html_put(f, s != NULL && s[0] != '\0' ? s : "-");
}

static const char html_style[] =
	"body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,"
	"sans-serif;margin:1.5em;color:#1d2329;background:#fff}\n"
	"h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}\n"
	"h3{font-size:1.05em;margin:1.4em 0 .4em}\n"
	"table{border-collapse:collapse;margin:.3em 0}\n"
	"th,td{border:1px solid #d0d7de;padding:.25em .6em;text-align:left;"
	"vertical-align:top}\n"
	"th{background:#f3f5f7}\n"
	"table.meta th{width:9em}\n"
	"td.detail{white-space:pre-wrap;max-width:48em;"
	"font-family:ui-monospace,monospace;font-size:.9em}\n"
	".badge{display:inline-block;padding:.05em .5em;border-radius:.7em;"
	"font-size:.9em;font-weight:600}\n"
	".result{font-size:1.1em;padding:.5em .8em;border-radius:.3em;"
	"display:inline-block}\n"
	".s-ok,.s-success,.rc-0{background:#dafbe1;color:#116329}\n"
	".s-success-reboot-required,.rc-1,.s-reboot{background:#fff8c5;"
	"color:#7d4e00}\n"
	".s-failed,.rc-253,.rc-255,.rc-254{background:#ffebe9;color:#a40e26}\n"
	".s-cancelled,.s-incomplete,.s-not-run{background:#fbefff;"
	"color:#6e40c9}\n"
	".s-already-current,.s-not-applicable,.s-skipped,.rc-3{"
	"background:#eef1f4;color:#57606a}\n"
	".s-pending{background:#ddf4ff;color:#0a3069}\n"
	"p.muted{color:#57606a}\n"
	"@media print{.badge,.result{border:1px solid #888}}\n";

static void html_badge(FILE *f, const char *status)
{
	/* status is one of our own names: safe in a class attribute. */
	fprintf(f, "<span class=\"badge s-%s\">%s</span>", status, status);
}

static void html_meta_row(FILE *f, const char *label, const char *value)
{
	fprintf(f, "<tr><th>%s</th><td>", label);
	html_cell(f, value);
	fputs("</td></tr>\n", f);
}

static void html_job(FILE *f, const struct report *r)
{
	char start[64], end[64], code[64], *args;
	size_t i, len = 0, off = 0, n;

	for (i = 0; i < r->n_args; i++)
		len += strlen(r->args[i]) + 1;
	args = xmalloc(len + 1);
	for (i = 0; i < r->n_args; i++) {
		if (i > 0)
			args[off++] = ' ';
		n = strlen(r->args[i]);
		memcpy(args + off, r->args[i], n);
		off += n;
	}
	args[off] = '\0';
	local_time(r->t_start, start, sizeof(start));
	local_time(r->has_end ? r->t_end : 0, end, sizeof(end));
	code[0] = '\0';
	if (r->has_end)
		(void)fw_snprintf(code, sizeof(code), "%lld (%s)",
		    (long long)r->exit_code, report_exit_meaning(
		    (int)r->exit_code));
	fputs("<table class=\"meta\">\n", f);
	html_meta_row(f, "Job", r->id);
	html_meta_row(f, "Command", r->command);
	html_meta_row(f, "Options", args);
	html_meta_row(f, "Repository", r->repository);
	html_meta_row(f, "Started", start);
	html_meta_row(f, "Ended", end);
	html_meta_row(f, "Status", job_status(r));
	html_meta_row(f, "Exit code", code);
	html_meta_row(f, "Controller", r->host);
	html_meta_row(f, "User", r->user);
	html_meta_row(f, "fwfleet", r->version);
	fputs("</table>\n", f);
	free(args);
}

static void html_counts(FILE *f, const char *label, const char *const *names,
    const size_t *counts, size_t n, size_t total)
{
	size_t i;

	fprintf(f, "<tr><th>%s</th><td>%zu total", label, total);
	for (i = 0; i < n; i++) {
		if (counts[i] == 0)
			continue;
		fprintf(f, " &nbsp; %zu ", counts[i]);
		html_badge(f, names[i]);
	}
	fputs("</td></tr>\n", f);
}

static void html_summary(FILE *f, const struct report *r)
{
	size_t oc[ARRAY_SIZE(all_outcomes)] = { 0 };
	size_t nc[ARRAY_SIZE(all_node_statuses)] = { 0 };
	int code = report_exit_code(r);
	size_t i, comps = 0, reboots = 0;

	count_outcomes(r, oc);
	count_nodes(r, nc);
	for (i = 0; i < ARRAY_SIZE(oc); i++)
		comps += oc[i];
	fprintf(f, "<p><span class=\"result rc-%d\">Result: %d, %s</span></p>\n",
	    code, code, report_exit_meaning(code));
	fputs("<h2>Summary</h2>\n<table class=\"meta\">\n", f);
	html_counts(f, "Nodes", all_node_statuses, nc, ARRAY_SIZE(nc),
	    r->n_nodes);
	html_counts(f, "Components", all_outcomes, oc, ARRAY_SIZE(oc), comps);
	fputs("<tr><th>Reboot needed</th><td>", f);
	for (i = 0; i < r->n_nodes; i++) {
		if (!node_reboot(&r->nodes[i]))
			continue;
		fputs(reboots++ ? ", " : "", f);
		html_put(f, r->nodes[i].name);
	}
	fputs(reboots ? "" : "none", f);
	fputs("</td></tr>\n</table>\n", f);
}

static void html_comp_row(FILE *f, const struct report *r,
    const struct rnode *n, const struct rcomp *c)
{
	const char *outcome = comp_outcome(r, n, c);

	fputs("<tr><td>", f);
	html_cell(f, c->id);
	fputs("</td><td>", f);
	html_cell(f, c->name);
	fputs("</td><td>", f);
	html_cell(f, c->kind);
	fputs("</td><td>", f);
	html_cell(f, c->installed);
	fputs("</td><td>", f);
	html_cell(f, c->target);
	fputs("</td><td>", f);
	html_cell(f, c->planned ? journal_action_name(c->action) : NULL);
	fputs("</td><td>", f);
	html_badge(f, outcome);
	if (!c->has_result && c->has_phase)
		fprintf(f, " (last: %s %d%%)", journal_phase_name(c->phase),
		    (int)c->percent);
	fputs("</td><td>", f);
	if (c->has_exit)
		fprintf(f, "%lld", (long long)c->exit_code);
	else
		fputs("-", f);
	fputs("</td><td class=\"detail\">", f);
	html_put(f, comp_detail(c));
	fputs("</td></tr>\n", f);
}

static void html_node(FILE *f, const struct report *r, const struct rnode *n)
{
	size_t k;

	fputs("<h3>", f);
	html_badge(f, node_status(n));
	fputs(" ", f);
	html_put(f, n->name);
	if (node_reboot(n))
		fputs(" <span class=\"badge s-reboot\">reboot needed</span>",
		    f);
	fputs("</h3>\n", f);
	if (n->error != NULL && n->error[0] != '\0') {
		fputs("<p>Error: ", f);
		html_put(f, n->error);
		fputs("</p>\n", f);
	}
	if (!n->done && n->state != NULL) {
		fputs("<p class=\"muted\">Last state: ", f);
		html_put(f, n->state);
		fputs("</p>\n", f);
	}
	if (n->log != NULL) {
		/* log_path_ok() allowed only [A-Za-z0-9._-/] in it. */
		fprintf(f, "<p class=\"muted\">Log: <a href=\"%s\">%s</a></p>\n",
		    n->log, n->log);
	}
	if (n->n_comps == 0) {
		fputs("<p class=\"muted\">No components.</p>\n", f);
		return;
	}
	fputs("<table>\n<tr><th>Component</th><th>Name</th><th>Kind</th>"
	    "<th>Installed</th><th>Target</th><th>Action</th><th>Outcome</th>"
	    "<th>Exit code</th><th>Detail</th></tr>\n", f);
	for (k = 0; k < n->n_comps; k++)
		html_comp_row(f, r, n, &n->comps[k]);
	fputs("</table>\n", f);
}

static void html_warnings(FILE *f, const struct report *r)
{
	size_t i;

	if (r->n_warnings == 0)
		return;
	fputs("<h2>Journal warnings</h2>\n<ul>\n", f);
	for (i = 0; i < r->n_warnings; i++) {
		fputs("<li>", f);
		html_put(f, r->warnings[i]);
		fputs("</li>\n", f);
	}
	if (r->warnings_dropped > 0)
		fprintf(f, "<li>and %zu more</li>\n", r->warnings_dropped);
	fputs("</ul>\n", f);
}

static int write_html(const struct report *r, FILE *f)
{
	size_t i;

	fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n"
	    "<meta charset=\"utf-8\">\n<meta name=\"viewport\" "
	    "content=\"width=device-width, initial-scale=1\">\n"
	    "<title>fwfleet job ", f);
	html_put(f, r->id);
	fprintf(f, "</title>\n<style>\n%s</style>\n</head>\n<body>\n",
	    html_style);
	fputs("<h1>fwfleet ", f);
	html_put(f, r->command != NULL ? r->command : "job");
	fputs(": job ", f);
	html_put(f, r->id);
	fputs("</h1>\n", f);
	html_job(f, r);
	html_summary(f, r);
	fputs("<h2>Nodes</h2>\n", f);
	for (i = 0; i < r->n_nodes; i++)
		html_node(f, r, &r->nodes[i]);
	if (r->n_nodes == 0)
		fputs("<p class=\"muted\">No nodes.</p>\n", f);
	html_warnings(f, r);
	fputs("</body>\n</html>\n", f);
	return ferror(f) ? FW_ERR_SYSTEM : 0;
}

/* --- output -------------------------------------------------------------- */

int report_format_parse(const char *s, enum report_format *out)
{
	static const char *const names[] = {
		[REPORT_JSON] = "json",
		[REPORT_HTML] = "html",
		[REPORT_CSV] = "csv",
	};
	size_t i;

	for (i = 0; s != NULL && i < ARRAY_SIZE(names); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum report_format)i;
			return 0;
		}
	}
	return FW_ERR_INVALID;
}

int report_write(const struct report *r, enum report_format fmt, FILE *f)
{
	switch (fmt) {
	case REPORT_JSON: return write_json(r, f);
	case REPORT_HTML: return write_html(r, f);
	case REPORT_CSV: return write_csv(r, f);
	}
	return FW_ERR_INVALID;
}

/* Renders r in fmt to job_dir/name, atomically. */
int report_write_file(const struct report *r, enum report_format fmt,
    const char *path)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r2;

	if ((f = open_memstream(&buf, &len)) == NULL)
		return FW_ERR_NOMEM;
	r2 = report_write(r, fmt, f);
	if (fclose(f) != 0 && r2 == 0)
		r2 = FW_ERR_NOMEM;
	if (r2 == 0)
		r2 = fw_write_file(path, buf, len, 0600);
	free(buf);
	return r2;
}

static int write_one(const struct report *r, enum report_format fmt,
    const char *job_dir, const char *name)
{
	char path[4096];
	int r2;

	if ((r2 = fw_snprintf(path, sizeof(path), "%s/%s", job_dir,
	    name)) != 0)
		return r2;
	return report_write_file(r, fmt, path);
}

int report_save(const struct report *r, const char *job_dir)
{
	int r2;

	if ((r2 = write_one(r, REPORT_JSON, job_dir, REPORT_JSON_FILE)) != 0 ||
	    (r2 = write_one(r, REPORT_HTML, job_dir, REPORT_HTML_FILE)) != 0 ||
	    (r2 = write_one(r, REPORT_CSV, job_dir, REPORT_CSV_FILE)) != 0)
		return r2;
	return 0;
}

int report_generate(const char *job_dir)
{
	struct report *r = NULL;
	int r2;

	if ((r2 = report_load(job_dir, &r)) == 0)
		r2 = report_save(r, job_dir);
	report_free(r);
	return r2;
}
