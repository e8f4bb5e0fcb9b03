#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "err.h"
#include "log.h"
#include "state.h"
#include "util.h"

#ifndef FWFLEET_VERSION
#define FWFLEET_VERSION "unknown"
#endif

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define JOURNAL_FORMAT		1	/* "v" of job-start */
#define LOG_NAME_MAX		128	/* bytes of a node's log file stem */
#define LOG_LINE_MAX		4096	/* bytes of text per node log line */
#define ID_TRIES		16	/* job ids tried before giving up */
#define TAIL_BYTES		65536	/* what a listing reads of a journal */

/* --- names --------------------------------------------------------------- */

static const char *const phase_names[] = {
	[JOURNAL_PHASE_DOWNLOADING] = "downloading",
	[JOURNAL_PHASE_VERIFYING] = "verifying",
	[JOURNAL_PHASE_INSTALLING] = "installing",
};

static const char *const outcome_names[] = {
	[JOURNAL_OUTCOME_SUCCESS] = "success",
	[JOURNAL_OUTCOME_SUCCESS_REBOOT] = "success-reboot-required",
	[JOURNAL_OUTCOME_ALREADY_CURRENT] = "already-current",
	[JOURNAL_OUTCOME_NOT_APPLICABLE] = "not-applicable",
	[JOURNAL_OUTCOME_FAILED] = "failed",
	[JOURNAL_OUTCOME_SKIPPED] = "skipped",
	[JOURNAL_OUTCOME_CANCELLED] = "cancelled",
};

static const char *const action_names[] = {
	[JOURNAL_ACTION_INSTALL] = "install",
	[JOURNAL_ACTION_SKIP] = "skip",
};

static const char *const node_status_names[] = {
	[JOURNAL_NODE_OK] = "ok",
	[JOURNAL_NODE_FAILED] = "failed",
	[JOURNAL_NODE_CANCELLED] = "cancelled",
};

static const char *name_of(const char *const *names, size_t n, unsigned int v)
{
	return v < n ? names[v] : NULL;
}

static int parse_name(const char *const *names, size_t n, const char *s,
    int *out)
{
	size_t i;

	for (i = 0; s != NULL && i < n; i++) {
		if (strcmp(names[i], s) == 0) {
			*out = (int)i;
			return 0;
		}
	}
	return FW_ERR_INVALID;
}

const char *journal_phase_name(enum journal_phase v)
{
	return name_of(phase_names, ARRAY_SIZE(phase_names), v);
}

const char *journal_outcome_name(enum journal_outcome v)
{
	return name_of(outcome_names, ARRAY_SIZE(outcome_names), v);
}

const char *journal_action_name(enum journal_action v)
{
	return name_of(action_names, ARRAY_SIZE(action_names), v);
}

const char *journal_node_status_name(enum journal_node_status v)
{
	return name_of(node_status_names, ARRAY_SIZE(node_status_names), v);
}

int journal_phase_parse(const char *s, enum journal_phase *out)
{
	int v, r;

	if ((r = parse_name(phase_names, ARRAY_SIZE(phase_names), s, &v)) == 0)
		*out = (enum journal_phase)v;
	return r;
}

int journal_outcome_parse(const char *s, enum journal_outcome *out)
{
	int v, r;

	if ((r = parse_name(outcome_names, ARRAY_SIZE(outcome_names), s,
	    &v)) == 0)
		*out = (enum journal_outcome)v;
	return r;
}

int journal_action_parse(const char *s, enum journal_action *out)
{
	int v, r;

	if ((r = parse_name(action_names, ARRAY_SIZE(action_names), s,
	    &v)) == 0)
		*out = (enum journal_action)v;
	return r;
}

int journal_node_status_parse(const char *s, enum journal_node_status *out)
{
	int v, r;

	if ((r = parse_name(node_status_names, ARRAY_SIZE(node_status_names),
	    s, &v)) == 0)
		*out = (enum journal_node_status)v;
	return r;
}

/* --- text ---------------------------------------------------------------- */


void journal_clean_text(char *str, bool keep_breaks)
{
	fw_text_clean(str, FW_TEXT_KEEP_TAB |
	    (keep_breaks ? FW_TEXT_KEEP_BREAKS : 0));
}

/*
 * A copy of s cut to at most max bytes at a character boundary, bytes
 * that do not start a valid UTF-8 sequence replaced by '?'. Caller frees.
 */
static char *utf8_copy(const char *s, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, n;
	char *out;

	while (u[i] != '\0') {
		n = fw_utf8_seq_len(u + i);
		if (n == 0)
			n = 1;
		if (i + n > max)
			break;
		i += n;
	}
	out = xmalloc(i + 1);
	memcpy(out, s, i);
	out[i] = '\0';
	for (n = 0; n < i; n += fw_utf8_seq_len((unsigned char *)out + n)) {
		if (fw_utf8_seq_len((unsigned char *)out + n) == 0)
			out[n] = '?';
	}
	return out;
}

/* A JSON string of s cut to max bytes; NULL reads as "". */
static json_t *str_json(const char *s, size_t max)
{
	char *c = utf8_copy(s != NULL ? s : "", max);
	json_t *v = json_string(c);

	free(c);
	return v;
}

/* Like str_json(), but NULL gives null. */
static json_t *opt_json(const char *s, size_t max)
{
	return s != NULL ? str_json(s, max) : json_null();
}

/* --- the journal --------------------------------------------------------- */

/* The last progress line written for one component of a node. */
struct jprogress {
	char *component;
	enum journal_phase phase;
	unsigned int percent;
	uint64_t mono_ms;
};

struct jnode {
	char *key;			/* the caller's name, for lookups */
	char *name;			/* as written: valid UTF-8, bounded */
	char *log_rel;			/* "nodes/web1.log" */
	int log_fd;			/* -1 until the first line */
	struct jprogress *prog;
	size_t n_prog;
};

struct journal {
	char id[JOURNAL_ID_LEN + 1];
	char *dir;			/* STATE/jobs/<id> */
	int fd;				/* journal.jsonl, O_APPEND, flock'ed */
	bool broken_line;		/* a write stopped mid-line */
	bool error_logged;
	struct jnode *nodes;
	size_t n_nodes;
};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Logs the journal's first failure; later ones would only repeat it. */
static void journal_failed(struct journal *j, int r)
{
	int saved = errno;

	if (!j->error_logged)
		log_error("job %s: journal: %s%s%s", j->id, fw_strerror(r),
		    r == FW_ERR_SYSTEM ? ": " : "",
		    r == FW_ERR_SYSTEM ? strerror(saved) : "");
	j->error_logged = true;
	errno = saved;
}

/*
 * Appends one line (with its '\n'). After a write that stopped mid-line
 * (disk full), the next line starts with a '\n', so only the broken line
 * is lost on replay.
 */
static int journal_write_line(struct journal *j, const char *line, size_t len)
{
	if (j->broken_line && fw_write_all(j->fd, "\n", 1) != 0)
		return FW_ERR_SYSTEM;
	j->broken_line = false;
	if (fw_write_all(j->fd, line, len) != 0) {
		j->broken_line = true;
		return FW_ERR_SYSTEM;
	}
	return 0;
}

/* Writes ev (taken) as one line; syncs it if sync is set. */
static int journal_emit(struct journal *j, json_t *ev, bool sync)
{
	char *line = NULL;
	size_t len = 0;
	int r = FW_ERR_NOMEM;

	if (ev == NULL || (line = json_dumps(ev, JSON_COMPACT |
	    JSON_PRESERVE_ORDER)) == NULL)
		goto out;
	len = strlen(line);
	r = FW_ERR_FRAME_TOO_BIG;
	if (len + 1 > JOURNAL_LINE_MAX)
		goto out;
	line = xrealloc(line, len + 2, 1);
	line[len] = '\n';
	if ((r = journal_write_line(j, line, len + 1)) != 0)
		goto out;
	if (sync && fdatasync(j->fd) != 0) {
		r = FW_ERR_SYSTEM;
		goto out;
	}
	r = 0;
out:
	if (r != 0 && r != FW_ERR_FRAME_TOO_BIG)
		journal_failed(j, r);
	free(line);
	json_decref(ev);
	return r;
}

/* Sets key to v (taken) in o; any failure sets *bad. */
static void put(json_t *o, const char *key, json_t *v, bool *bad)
{
	if (json_object_set_new(o, key, v) != 0)
		*bad = true;
}

/* A new event object with "t" and "event", or NULL. */
static json_t *event_new(const char *name)
{
	json_t *ev = json_object();
	bool bad = false;

	put(ev, "t", json_integer(wall_ms()), &bad);
	put(ev, "event", json_string(name), &bad);
	if (bad) {
		json_decref(ev);
		ev = NULL;
	}
	return ev;
}

/* ev, or NULL (ev released) if building it failed somewhere. */
static json_t *event_done(json_t *ev, bool bad)
{
	if (bad) {
		json_decref(ev);
		return NULL;
	}
	return ev;
}

static struct jnode *node_find(struct journal *j, const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < j->n_nodes; i++) {
		if (strcmp(j->nodes[i].key, name) == 0)
			return &j->nodes[i];
	}
	return NULL;
}

static bool log_name_taken(const struct journal *j, const char *rel)
{
	size_t i;

	for (i = 0; i < j->n_nodes; i++) {
		if (strcasecmp(j->nodes[i].log_rel, rel) == 0)
			return true;
	}
	return false;
}

static bool file_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/* "nodes/<stem>.log", the stem made safe and unique among j's nodes. */
static char *log_name_make(const struct journal *j, const char *name)
{
	char stem[LOG_NAME_MAX + 1];
	char *rel = NULL;
	size_t i, n = 0;
	unsigned int k;

	for (i = 0; name[i] != '\0' && n < LOG_NAME_MAX; i++)
		stem[n++] = file_char_ok(name[i]) ? name[i] : '_';
	if (n == 0)
		stem[n++] = '_';
	stem[n] = '\0';
	for (k = 1; rel == NULL || log_name_taken(j, rel); k++) {
		free(rel);
		rel = k == 1 ? xasprintf("%s/%s.log", JOURNAL_NODES_DIR, stem) :
		    xasprintf("%s/%s-%u.log", JOURNAL_NODES_DIR, stem, k);
	}
	return rel;
}

static void nodes_add(struct journal *j, const struct journal_start_info *in)
{
	struct jnode *n;
	size_t i;

	j->nodes = xcalloc(in->n_nodes ? in->n_nodes : 1, sizeof(*j->nodes));
	for (i = 0; i < in->n_nodes; i++) {
		if (in->nodes[i] == NULL || node_find(j, in->nodes[i]) != NULL)
			continue;
		n = &j->nodes[j->n_nodes];
		n->key = xstrdup(in->nodes[i]);
		n->name = utf8_copy(in->nodes[i], JOURNAL_SHORT_MAX);
		n->log_rel = log_name_make(j, n->name);
		n->log_fd = -1;
		j->n_nodes++;
	}
}

/* Writes "YYYYMMDD-HHMMSS-xxxxxx" (UTC, 6 random hex digits) into id. */
static int make_id(char id[JOURNAL_ID_LEN + 1])
{
	unsigned char rnd[3];
	time_t now = time(NULL);
	struct tm tm;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return FW_ERR_SYSTEM;
	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(id, JOURNAL_ID_LEN + 1, "%Y%m%d-%H%M%S-", &tm) != 16)
		return FW_ERR_INTERNAL;
	return fw_snprintf(id + 16, JOURNAL_ID_LEN + 1 - 16, "%02x%02x%02x",
	    rnd[0], rnd[1], rnd[2]);
}

/* Creates jobs/<new id>/ and its nodes/ folder. */
static int job_mkdir(struct journal *j, const char *jobs)
{
	char sub[4096];
	int r = FW_ERR_SYSTEM, tries;

	for (tries = 0; tries < ID_TRIES; tries++) {
		if ((r = make_id(j->id)) != 0)
			return r;
		free(j->dir);
		j->dir = xasprintf("%s/%s", jobs, j->id);
		if (mkdir(j->dir, 0700) == 0)
			break;
		if (errno != EEXIST)
			return FW_ERR_SYSTEM;
	}
	if (tries == ID_TRIES)
		return FW_ERR_EXISTS;
	if ((r = fw_snprintf(sub, sizeof(sub), "%s/%s", j->dir,
	    JOURNAL_NODES_DIR)) != 0)
		return r;
	return mkdir(sub, 0700) == 0 ? 0 : FW_ERR_SYSTEM;
}

static int journal_open_file(struct journal *j)
{
	char path[4096];
	int r;

	if ((r = fw_snprintf(path, sizeof(path), "%s/%s", j->dir,
	    JOURNAL_FILE)) != 0)
		return r;
	j->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC,
	    0600);
	if (j->fd < 0)
		return FW_ERR_SYSTEM;
	/* Best effort: only tells `fwfleet jobs` the job is running. */
	(void)flock(j->fd, LOCK_EX | LOCK_NB);
	return 0;
}

static int sync_dir(const char *path)
{
	int fd, r = 0;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return FW_ERR_SYSTEM;
	if (fsync(fd) != 0)
		r = FW_ERR_SYSTEM;
	close(fd);
	return r;
}

static json_t *strings_json(const char *const *v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		if (json_array_append_new(a, str_json(v[i],
		    JOURNAL_SHORT_MAX)) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

static json_t *start_nodes_json(const struct journal *j)
{
	json_t *a = json_array(), *o;
	bool bad = a == NULL;
	size_t i;

	for (i = 0; !bad && i < j->n_nodes; i++) {
		o = json_object();
		put(o, "name", json_string(j->nodes[i].name), &bad);
		put(o, "log", json_string(j->nodes[i].log_rel), &bad);
		if (json_array_append_new(a, o) != 0)
			bad = true;
	}
	return event_done(a, bad);
}

/* The operator's user name, or uid when it has none. Caller frees. */
static char *user_name(void)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 &&
	    res != NULL && res->pw_name != NULL)
		return xstrdup(res->pw_name);
	return xasprintf("%lu", (unsigned long)getuid());
}

static json_t *start_event(const struct journal *j,
    const struct journal_start_info *in)
{
	json_t *ev = event_new("job-start");
	char host[256] = "";
	char *user = user_name();
	bool bad = false;

	if (gethostname(host, sizeof(host) - 1) != 0)
		host[0] = '\0';
	put(ev, "v", json_integer(JOURNAL_FORMAT), &bad);
	put(ev, "job", json_string(j->id), &bad);
	put(ev, "command", str_json(in->command, JOURNAL_SHORT_MAX), &bad);
	put(ev, "args", strings_json(in->args, in->n_args), &bad);
	put(ev, "repository", opt_json(in->repository, JOURNAL_TEXT_MAX),
	    &bad);
	put(ev, "fwfleet", json_string(FWFLEET_VERSION), &bad);
	put(ev, "host", str_json(host, JOURNAL_SHORT_MAX), &bad);
	put(ev, "user", str_json(user, JOURNAL_SHORT_MAX), &bad);
	put(ev, "nodes", start_nodes_json(j), &bad);
	free(user);
	return event_done(ev, bad);
}

/* Removes what a failed journal_start() made (best effort). */
static void job_remove(struct journal *j)
{
	char path[4096];

	if (j->dir == NULL)
		return;
	if (fw_snprintf(path, sizeof(path), "%s/%s", j->dir,
	    JOURNAL_FILE) == 0)
		(void)unlink(path);
	if (fw_snprintf(path, sizeof(path), "%s/%s", j->dir,
	    JOURNAL_NODES_DIR) == 0)
		(void)rmdir(path);
	(void)rmdir(j->dir);
}

static bool start_info_ok(const struct journal_start_info *in)
{
	size_t i;

	if (in == NULL || in->command == NULL || in->command[0] == '\0' ||
	    (in->n_args > 0 && in->args == NULL) ||
	    (in->n_nodes > 0 && in->nodes == NULL))
		return false;
	for (i = 0; i < in->n_args; i++) {
		if (in->args[i] == NULL)
			return false;
	}
	return true;
}

int journal_start(const char *state_dir, const struct journal_start_info *info,
    struct journal **out)
{
	struct journal *j = NULL;
	char jobs[4096];
	int r = FW_ERR_INVALID, saved;

	*out = NULL;
	if (state_dir == NULL || !start_info_ok(info))
		goto out;
	j = xcalloc(1, sizeof(*j));
	j->fd = -1;
	if ((r = state_path(state_dir, "jobs", jobs, sizeof(jobs))) != 0 ||
	    (r = fw_mkdirs(jobs, 0700)) != 0 ||
	    (r = job_mkdir(j, jobs)) != 0 ||
	    (r = journal_open_file(j)) != 0)
		goto out;
	nodes_add(j, info);
	if ((r = journal_emit(j, start_event(j, info), true)) != 0 ||
	    (r = sync_dir(j->dir)) != 0 || (r = sync_dir(jobs)) != 0)
		goto out;
	*out = j;
	j = NULL;
	r = 0;
out:
	saved = errno;
	if (j != NULL)
		job_remove(j);
	journal_free(j);
	errno = saved;
	return r;
}

const char *journal_id(const struct journal *j)
{
	return j->id;
}

const char *journal_dir(const struct journal *j)
{
	return j->dir;
}

/* --- node logs ----------------------------------------------------------- */

static int node_log_open(struct journal *j, struct jnode *n)
{
	char path[4096];
	int r;

	if (n->log_fd >= 0)
		return 0;
	if ((r = fw_snprintf(path, sizeof(path), "%s/%s", j->dir,
	    n->log_rel)) != 0)
		return r;
	n->log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0600);
	return n->log_fd < 0 ? FW_ERR_SYSTEM : 0;
}

/* "2024-05-01T12:00:00.123Z" into buf (at least 32 bytes). */
static void utc_stamp(char *buf, size_t len)
{
	int64_t ms = wall_ms();
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	char base[24];

	if (gmtime_r(&s, &tm) == NULL ||
	    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		base[0] = '\0';
	if (fw_snprintf(buf, len, "%s.%03dZ", base, (int)(ms % 1000)) != 0)
		buf[0] = '\0';
}

/* Length of s[0..len) cut to at most max bytes at a character boundary. */
static size_t utf8_cut(const char *s, size_t len, size_t max)
{
	size_t i;

	if (len <= max)
		return len;
	for (i = max; i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80; i--)
		;
	return i;
}

/* One log line of text[0..len) (no line break inside). */
static int node_log_line(struct journal *j, struct jnode *n, const char *text,
    size_t len)
{
	char line[32 + LOG_LINE_MAX + 2];
	size_t off, cut;
	int r;

	if ((r = node_log_open(j, n)) != 0)
		return r;
	utc_stamp(line, 32);
	off = strlen(line);
	line[off++] = ' ';
	cut = utf8_cut(text, len, LOG_LINE_MAX);
	memcpy(line + off, text, cut);
	line[off + cut] = '\0';
	journal_clean_text(line + off, false);
	off += strlen(line + off);
	line[off++] = '\n';
	return fw_write_all(n->log_fd, line, off);
}

static int node_log_text(struct journal *j, struct jnode *n, const char *text)
{
	const char *nl;
	size_t len;
	int r = 0;

	while (r == 0 && *text != '\0') {
		nl = strchr(text, '\n');
		len = nl != NULL ? (size_t)(nl - text) : strlen(text);
		if (len > 0 && text[len - 1] == '\r')
			len--;
		r = node_log_line(j, n, text, len);
		text = nl != NULL ? nl + 1 : text + strlen(text);
	}
	if (r != 0)
		journal_failed(j, r);
	return r;
}

/* node_log_text() of a formatted line. */
__attribute__((format(printf, 3, 0)))
static int node_vlogf(struct journal *j, struct jnode *n, const char *fmt,
    va_list ap)
{
	char *s = xvasprintf(fmt, ap);
	int r = node_log_text(j, n, s);

	free(s);
	return r;
}

__attribute__((format(printf, 3, 4)))
static int node_logf(struct journal *j, struct jnode *n, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = node_vlogf(j, n, fmt, ap);
	va_end(ap);
	return r;
}

int journal_node_log(struct journal *j, const char *node, const char *fmt, ...)
{
	struct jnode *n;
	va_list ap;
	int r;

	if (j == NULL || (n = node_find(j, node)) == NULL)
		return j == NULL ? FW_ERR_INVALID : FW_ERR_NOT_FOUND;
	va_start(ap, fmt);
	r = node_vlogf(j, n, fmt, ap);
	va_end(ap);
	return r;
}

static void node_log_close(struct journal *j, struct jnode *n)
{
	if (n->log_fd < 0)
		return;
	if (fdatasync(n->log_fd) != 0 || close(n->log_fd) != 0)
		journal_failed(j, FW_ERR_SYSTEM);
	n->log_fd = -1;
}

/* --- events -------------------------------------------------------------- */

/* The node named node, with *r set to why not when there is none. */
static struct jnode *event_node(struct journal *j, const char *node, int *r)
{
	struct jnode *n = NULL;

	*r = FW_ERR_INVALID;
	if (j == NULL || node == NULL)
		return NULL;
	if ((n = node_find(j, node)) == NULL)
		*r = FW_ERR_NOT_FOUND;
	return n;
}

int journal_node_state(struct journal *j, const char *node, const char *state)
{
	struct jnode *n;
	json_t *ev;
	bool bad = false;
	int r;

	if ((n = event_node(j, node, &r)) == NULL || state == NULL)
		return r;
	ev = event_new("node-state");
	put(ev, "node", json_string(n->name), &bad);
	put(ev, "state", str_json(state, JOURNAL_SHORT_MAX), &bad);
	if ((r = journal_emit(j, event_done(ev, bad), true)) == 0)
		(void)node_logf(j, n, "state: %s", state);
	return r;
}

static json_t *plan_entry_json(const struct journal_plan_entry *e)
{
	const char *action = journal_action_name(e->action);
	json_t *o = json_object();
	bool bad = action == NULL;

	put(o, "id", str_json(e->id, JOURNAL_SHORT_MAX), &bad);
	put(o, "name", str_json(e->name, JOURNAL_SHORT_MAX), &bad);
	put(o, "kind", str_json(e->kind, JOURNAL_SHORT_MAX), &bad);
	put(o, "installed", str_json(e->installed, JOURNAL_SHORT_MAX), &bad);
	put(o, "target", str_json(e->target, JOURNAL_SHORT_MAX), &bad);
	put(o, "action", action != NULL ? json_string(action) : NULL, &bad);
	put(o, "reason", str_json(e->reason, JOURNAL_SHORT_MAX), &bad);
	return event_done(o, bad);
}

static json_t *plan_event(const struct jnode *n,
    const struct journal_plan_entry *e, size_t count)
{
	json_t *ev = event_new("node-plan"), *a = json_array();
	bool bad = false;
	size_t i;

	put(ev, "node", json_string(n->name), &bad);
	for (i = 0; !bad && i < count; i++) {
		if (json_array_append_new(a, plan_entry_json(&e[i])) != 0)
			bad = true;
	}
	if (bad)
		json_decref(a);
	else
		put(ev, "components", a, &bad);
	return event_done(ev, bad);
}

/* Writes entries e[0..count), halving the list while a line is too long. */
static int plan_emit(struct journal *j, const struct jnode *n,
    const struct journal_plan_entry *e, size_t count)
{
	int r;

	r = journal_emit(j, plan_event(n, e, count), true);
	if (r != FW_ERR_FRAME_TOO_BIG || count < 2)
		return r;
	if ((r = plan_emit(j, n, e, count / 2)) != 0)
		return r;
	return plan_emit(j, n, e + count / 2, count - count / 2);
}

int journal_node_plan(struct journal *j, const char *node,
    const struct journal_plan_entry *e, size_t n)
{
	struct jnode *jn;
	size_t i;
	int r;

	if ((jn = event_node(j, node, &r)) == NULL || (n > 0 && e == NULL))
		return r;
	for (i = 0; i < n; i++) {
		if (e[i].id == NULL || journal_action_name(e[i].action) == NULL)
			return FW_ERR_INVALID;
	}
	if ((r = plan_emit(j, jn, e, n)) != 0)
		return r;
	for (i = 0; i < n; i++)
		(void)node_logf(j, jn, "plan: %s %s %s -> %s%s%s",
		    journal_action_name(e[i].action), e[i].id,
		    e[i].installed ? e[i].installed : "-",
		    e[i].target ? e[i].target : "-",
		    e[i].reason && e[i].reason[0] ? ": " : "",
		    e[i].reason ? e[i].reason : "");
	return 0;
}

static struct jprogress *progress_get(struct jnode *n, const char *component)
{
	struct jprogress *p;
	size_t i;

	for (i = 0; i < n->n_prog; i++) {
		if (strcmp(n->prog[i].component, component) == 0)
			return &n->prog[i];
	}
	n->prog = xrealloc(n->prog, n->n_prog + 1, sizeof(*n->prog));
	p = &n->prog[n->n_prog++];
	memset(p, 0, sizeof(*p));
	p->component = xstrdup(component);
	return p;
}

/* Whether a progress line for p would say something new enough. */
static bool progress_due(const struct jprogress *p, enum journal_phase phase,
    unsigned int percent, uint64_t now)
{
	if (p->mono_ms == 0 || p->phase != phase)
		return true;
	if (percent == 100 && p->percent != 100)
		return true;
	return now - p->mono_ms >= JOURNAL_PROGRESS_MS;
}

int journal_component_phase(struct journal *j, const char *node,
    const char *component, enum journal_phase phase, unsigned int percent,
    uint64_t bytes)
{
	uint64_t now = fw_now_ms();
	struct jprogress *p;
	struct jnode *n;
	json_t *ev;
	bool bad = false;
	int r;

	if ((n = event_node(j, node, &r)) == NULL || component == NULL ||
	    journal_phase_name(phase) == NULL)
		return r == FW_ERR_NOT_FOUND ? r : FW_ERR_INVALID;
	percent = percent > 100 ? 100 : percent;
	p = progress_get(n, component);
	if (!progress_due(p, phase, percent, now))
		return 0;
	ev = event_new("component-phase");
	put(ev, "node", json_string(n->name), &bad);
	put(ev, "component", str_json(component, JOURNAL_SHORT_MAX), &bad);
	put(ev, "phase", json_string(journal_phase_name(phase)), &bad);
	put(ev, "percent", json_integer(percent), &bad);
	put(ev, "bytes", json_integer(bytes > INT64_MAX ? INT64_MAX :
	    (json_int_t)bytes), &bad);
	if ((r = journal_emit(j, event_done(ev, bad), false)) != 0)
		return r;
	p->phase = phase;
	p->percent = percent;
	p->mono_ms = now != 0 ? now : 1;
	return 0;
}

int journal_component_result(struct journal *j, const char *node,
    const char *component, enum journal_outcome outcome, int exit_code,
    const char *detail)
{
	const char *name = journal_outcome_name(outcome);
	struct jnode *n;
	json_t *ev;
	bool bad = false;
	int r;

	if ((n = event_node(j, node, &r)) == NULL || component == NULL ||
	    name == NULL)
		return r == FW_ERR_NOT_FOUND ? r : FW_ERR_INVALID;
	ev = event_new("component-result");
	put(ev, "node", json_string(n->name), &bad);
	put(ev, "component", str_json(component, JOURNAL_SHORT_MAX), &bad);
	put(ev, "outcome", json_string(name), &bad);
	put(ev, "exit_code", exit_code == JOURNAL_NO_EXIT ? json_null() :
	    json_integer(exit_code), &bad);
	put(ev, "detail", str_json(detail, JOURNAL_TEXT_MAX), &bad);
	if ((r = journal_emit(j, event_done(ev, bad), true)) != 0)
		return r;
	if (exit_code == JOURNAL_NO_EXIT)
		(void)node_logf(j, n, "component %s: %s%s%s", component, name,
		    detail && detail[0] ? ": " : "", detail ? detail : "");
	else
		(void)node_logf(j, n, "component %s: %s (exit %d)%s%s",
		    component, name, exit_code, detail && detail[0] ? ": " : "",
		    detail ? detail : "");
	return 0;
}

int journal_node_done(struct journal *j, const char *node,
    enum journal_node_status status, const char *error, bool reboot_needed)
{
	const char *name = journal_node_status_name(status);
	struct jnode *n;
	json_t *ev;
	bool bad = false;
	size_t i;
	int r;

	if ((n = event_node(j, node, &r)) == NULL || name == NULL)
		return r == FW_ERR_NOT_FOUND ? r : FW_ERR_INVALID;
	ev = event_new("node-done");
	put(ev, "node", json_string(n->name), &bad);
	put(ev, "status", json_string(name), &bad);
	put(ev, "error", opt_json(error, JOURNAL_TEXT_MAX), &bad);
	put(ev, "reboot_needed", json_boolean(reboot_needed), &bad);
	if ((r = journal_emit(j, event_done(ev, bad), true)) != 0)
		return r;
	(void)node_logf(j, n, "done: %s%s%s%s", name,
	    error && error[0] ? ": " : "", error ? error : "",
	    reboot_needed ? " (reboot needed)" : "");
	node_log_close(j, n);
	for (i = 0; i < n->n_prog; i++)
		free(n->prog[i].component);
	free(n->prog);
	n->prog = NULL;
	n->n_prog = 0;
	return 0;
}

int journal_job_end(struct journal *j, int exit_code, bool interrupted)
{
	json_t *ev;
	bool bad = false;

	if (j == NULL)
		return FW_ERR_INVALID;
	ev = event_new("job-end");
	put(ev, "exit_code", json_integer(exit_code), &bad);
	put(ev, "interrupted", json_boolean(interrupted), &bad);
	return journal_emit(j, event_done(ev, bad), true);
}

void journal_free(struct journal *j)
{
	size_t i, k;

	if (j == NULL)
		return;
	for (i = 0; i < j->n_nodes; i++) {
		if (j->nodes[i].log_fd >= 0)
			close(j->nodes[i].log_fd);
		for (k = 0; k < j->nodes[i].n_prog; k++)
			free(j->nodes[i].prog[k].component);
		free(j->nodes[i].prog);
		free(j->nodes[i].key);
		free(j->nodes[i].name);
		free(j->nodes[i].log_rel);
	}
	free(j->nodes);
	if (j->fd >= 0)
		close(j->fd);
	free(j->dir);
	free(j);
}

/* --- reading and finding jobs -------------------------------------------- */

int journal_read_line(FILE *f, char *buf, size_t *len, bool *complete)
{
	bool too_long = false;
	size_t n = 0;
	int c;

	*len = 0;
	*complete = false;
	while ((c = getc_unlocked(f)) != EOF && c != '\n') {
		if (n < JOURNAL_LINE_MAX - 1)
			buf[n++] = (char)c;
		else
			too_long = true;
	}
	if (c == EOF && ferror(f))
		return FW_ERR_SYSTEM;
	if (c == EOF && n == 0)
		return 0;
	buf[n] = '\0';
	*len = n;
	*complete = c == '\n';
	return too_long ? FW_ERR_FRAME_TOO_BIG : 1;
}

static bool all_digits(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	return true;
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool journal_id_valid(const char *s)
{
	size_t i;

	if (s == NULL || strlen(s) != JOURNAL_ID_LEN || s[8] != '-' ||
	    s[15] != '-' || !all_digits(s, 8) || !all_digits(s + 9, 6))
		return false;
	for (i = 16; i < JOURNAL_ID_LEN; i++) {
		if (!is_lower_hex(s[i]))
			return false;
	}
	return true;
}

static int digits_value(const char *s, size_t n)
{
	int v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

/* The UTC time a (valid) job id names, in unix ms; 0 if nonsense. */
static int64_t id_time_ms(const char *id)
{
	struct tm tm;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = digits_value(id, 4) - 1900;
	tm.tm_mon = digits_value(id + 4, 2) - 1;
	tm.tm_mday = digits_value(id + 6, 2);
	tm.tm_hour = digits_value(id + 9, 2);
	tm.tm_min = digits_value(id + 11, 2);
	tm.tm_sec = digits_value(id + 13, 2);
	t = timegm(&tm);
	return t == (time_t)-1 ? 0 : (int64_t)t * 1000;
}

static const char *event_name(const json_t *ev)
{
	return json_string_value(json_object_get(ev, "event"));
}

/* Fills jj from a job-start event. */
static void job_from_start(struct journal_job *jj, const json_t *ev)
{
	const json_t *nodes = json_object_get(ev, "nodes"), *o;
	const char *name = json_string_value(json_object_get(ev, "command"));
	size_t i;

	jj->command = xstrdup(name != NULL ? name : "?");
	if (json_is_integer(json_object_get(ev, "t")))
		jj->start_ms = json_integer_value(json_object_get(ev, "t"));
	jj->nodes = xcalloc(json_array_size(nodes) + 1, sizeof(*jj->nodes));
	json_array_foreach(nodes, i, o) {
		name = json_is_string(o) ? json_string_value(o) :
		    json_string_value(json_object_get(o, "name"));
		if (name != NULL)
			jj->nodes[jj->n_nodes++] = xstrdup(name);
	}
}

/* 1 if line is a job-end event (jj filled), 0 another event, -1 junk. */
static int job_end_line(struct journal_job *jj, const char *line, size_t len)
{
	json_t *ev = json_loadb(line, len, 0, NULL);
	const char *name = event_name(ev);
	int r = -1;

	if (name == NULL)
		goto out;
	r = 0;
	if (strcmp(name, "job-end") != 0)
		goto out;
	jj->state = JOURNAL_JOB_COMPLETE;
	jj->exit_code = (int)json_integer_value(json_object_get(ev,
	    "exit_code"));
	jj->interrupted = json_is_true(json_object_get(ev, "interrupted"));
	jj->end_ms = json_integer_value(json_object_get(ev, "t"));
	r = 1;
out:
	json_decref(ev);
	return r;
}

/*
 * Looks at the last lines of the journal open at fd, from the end: the
 * last event that parses tells whether the job ended.
 */
static void job_read_tail(int fd, struct journal_job *jj, char *buf)
{
	size_t n, end, start;
	struct stat st;
	off_t off;
	ssize_t got;

	if (fstat(fd, &st) != 0)
		return;
	off = st.st_size > TAIL_BYTES ? st.st_size - TAIL_BYTES : 0;
	if ((got = pread(fd, buf, TAIL_BYTES, off)) <= 0)
		return;
	n = (size_t)got;
	for (end = n; end > 0; end = start > 0 ? start - 1 : 0) {
		start = end;
		while (start > 0 && buf[start - 1] != '\n')
			start--;
		if (start == 0 && off > 0)
			return;		/* the first line may be cut */
		if (end > start && job_end_line(jj, buf + start,
		    end - start) >= 0)
			return;
	}
}

/* Whether another process holds the journal open at fd for writing. */
static bool job_running(int fd)
{
	return flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
}

/* Reads what a listing shows of job id; buf is JOURNAL_LINE_MAX bytes. */
static void job_read(const char *jobs, const char *id, struct journal_job *jj,
    char *buf)
{
	char path[4096];
	json_t *ev = NULL;
	FILE *f = NULL;
	const char *name;
	bool complete;
	size_t len;

	memset(jj, 0, sizeof(*jj));
	memcpy(jj->id, id, JOURNAL_ID_LEN + 1);
	jj->state = JOURNAL_JOB_UNREADABLE;
	jj->start_ms = id_time_ms(id);
	if (fw_snprintf(path, sizeof(path), "%s/%s/%s", jobs, id,
	    JOURNAL_FILE) != 0 || (f = fopen(path, "re")) == NULL)
		goto out;
	if (journal_read_line(f, buf, &len, &complete) != 1 ||
	    (ev = json_loadb(buf, len, 0, NULL)) == NULL ||
	    (name = event_name(ev)) == NULL || strcmp(name, "job-start") != 0)
		goto out;
	job_from_start(jj, ev);
	jj->state = JOURNAL_JOB_INCOMPLETE;
	job_read_tail(fileno(f), jj, buf);
	if (jj->state != JOURNAL_JOB_COMPLETE && job_running(fileno(f)))
		jj->state = JOURNAL_JOB_RUNNING;
out:
	json_decref(ev);
	if (f != NULL)
		fclose(f);
}

static int job_cmp(const void *a, const void *b)
{
	const struct journal_job *x = a, *y = b;

	if (x->start_ms != y->start_ms)
		return x->start_ms > y->start_ms ? -1 : 1;
	return -strcmp(x->id, y->id);
}

int journal_list(const char *state_dir, struct journal_job **out, size_t *n)
{
	struct journal_job *v = NULL;
	struct dirent *de;
	char jobs[4096], *buf = NULL;
	size_t cnt = 0, cap = 0;
	DIR *d = NULL;
	int r;

	*out = NULL;
	*n = 0;
	if ((r = state_path(state_dir, "jobs", jobs, sizeof(jobs))) != 0)
		goto out;
	if ((d = opendir(jobs)) == NULL) {
		r = errno == ENOENT ? 0 : FW_ERR_SYSTEM;
		goto out;
	}
	buf = xmalloc(JOURNAL_LINE_MAX);
	while ((de = readdir(d)) != NULL) {
		if (!journal_id_valid(de->d_name))
			continue;
		if (cnt == cap) {
			cap = cap ? 2 * cap : 16;
			v = xrealloc(v, cap, sizeof(*v));
		}
		job_read(jobs, de->d_name, &v[cnt++], buf);
	}
	if (cnt > 0)
		qsort(v, cnt, sizeof(*v), job_cmp);
	*out = v;
	*n = cnt;
	v = NULL;
	cnt = 0;
	r = 0;
out:
	if (d != NULL)
		closedir(d);
	free(buf);
	journal_list_free(v, cnt);
	return r;
}

void journal_list_free(struct journal_job *v, size_t n)
{
	size_t i, k;

	for (i = 0; v != NULL && i < n; i++) {
		for (k = 0; k < v[i].n_nodes; k++)
			free(v[i].nodes[k]);
		free(v[i].nodes);
		free(v[i].command);
	}
	free(v);
}

static bool id_prefix_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > JOURNAL_ID_LEN)
		return false;
	for (i = 0; i < n; i++) {
		if (!is_lower_hex(s[i]) && s[i] != '-')
			return false;
	}
	return true;
}

/* Copies the one job id starting with prefix into id. */
static int resolve_prefix(const char *jobs, const char *prefix,
    char id[JOURNAL_ID_LEN + 1], char *err, size_t errlen)
{
	size_t matches = 0, plen = strlen(prefix);
	struct dirent *de;
	DIR *d;

	if ((d = opendir(jobs)) == NULL && errno != ENOENT) {
		(void)fw_snprintf(err, errlen, "%s: %s", jobs, strerror(errno));
		return FW_ERR_SYSTEM;
	}
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (!journal_id_valid(de->d_name) ||
		    strncmp(de->d_name, prefix, plen) != 0)
			continue;
		if (matches++ == 0)
			memcpy(id, de->d_name, JOURNAL_ID_LEN + 1);
	}
	if (d != NULL)
		closedir(d);
	if (matches == 1)
		return 0;
	if (matches == 0) {
		(void)fw_snprintf(err, errlen, "no job '%s' in %s", prefix,
		    jobs);
		return FW_ERR_NOT_FOUND;
	}
	(void)fw_snprintf(err, errlen, "'%s' matches %zu jobs; give more of "
	    "the id (see 'fwfleet jobs')", prefix, matches);
	return FW_ERR_INVALID;
}

int journal_resolve(const char *state_dir, const char *spec, char *dir,
    size_t dirlen, char *err, size_t errlen)
{
	char jobs[4096], id[JOURNAL_ID_LEN + 1];
	struct journal_job *v = NULL;
	size_t n = 0;
	int r;

	if (errlen > 0)
		err[0] = '\0';
	if ((r = state_path(state_dir, "jobs", jobs, sizeof(jobs))) != 0) {
		(void)fw_snprintf(err, errlen, "state directory path too long");
		goto out;
	}
	if (spec != NULL && strcmp(spec, "last") == 0) {
		if ((r = journal_list(state_dir, &v, &n)) != 0) {
			(void)fw_snprintf(err, errlen, "%s: %s", jobs,
			    strerror(errno));
			goto out;
		}
		r = FW_ERR_NOT_FOUND;
		if (n == 0) {
			(void)fw_snprintf(err, errlen, "no jobs in %s", jobs);
			goto out;
		}
		memcpy(id, v[0].id, sizeof(id));
	} else if (spec == NULL || !id_prefix_ok(spec)) {
		(void)fw_snprintf(err, errlen, "bad job '%s': give a job id, a "
		    "unique prefix of one, or 'last'", spec ? spec : "");
		r = FW_ERR_INVALID;
		goto out;
	} else if ((r = resolve_prefix(jobs, spec, id, err, errlen)) != 0) {
		goto out;
	}
	if ((r = fw_snprintf(dir, dirlen, "%s/%s", jobs, id)) != 0)
		(void)fw_snprintf(err, errlen, "job path too long");
out:
	journal_list_free(v, n);
	return r;
}
