/*
 * The job journal: one folder per job, STATE/jobs/<job-id>/ (0700), holding
 *   journal.jsonl   append-only, one JSON event per line (the single source
 *                   of truth for what happened),
 *   nodes/<n>.log   each node's log lines, "<UTC time> <text>",
 *   report.{json,html,csv}  written at the end (report.h), and regenerated
 *                   from the journal at any time.
 * The format is described in docs/journal.md.
 *
 * Durability: every event but component progress is fdatasync'ed before the
 * call returns; a crash loses at most the progress lines and the line being
 * written, which replay skips.
 *
 * Thread safety: none. A struct journal belongs to the controller's event
 * loop thread; every journal_*() call on it is made from that thread only.
 * The listing functions at the end touch no struct journal and may be used
 * from anywhere.
 */
#ifndef FW_JOURNAL_H
#define FW_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JOURNAL_FILE		"journal.jsonl"
#define JOURNAL_NODES_DIR	"nodes"
#define JOURNAL_ID_LEN		22		/* "YYYYMMDD-HHMMSS-xxxxxx" */
#define JOURNAL_LINE_MAX	(1024 * 1024)	/* bytes, with the '\n' */
#define JOURNAL_SHORT_MAX	1024		/* ids, names, versions, states */
#define JOURNAL_TEXT_MAX	16384		/* detail, error */
#define JOURNAL_PROGRESS_MS	1000		/* one progress line per second */
#define JOURNAL_NO_EXIT		(-1)		/* no installer exit code */

enum journal_phase {
	JOURNAL_PHASE_DOWNLOADING,
	JOURNAL_PHASE_VERIFYING,
	JOURNAL_PHASE_INSTALLING,
};

enum journal_outcome {
	JOURNAL_OUTCOME_SUCCESS,
	JOURNAL_OUTCOME_SUCCESS_REBOOT,		/* "success-reboot-required" */
	JOURNAL_OUTCOME_ALREADY_CURRENT,
	JOURNAL_OUTCOME_NOT_APPLICABLE,
	JOURNAL_OUTCOME_FAILED,
	JOURNAL_OUTCOME_SKIPPED,
	JOURNAL_OUTCOME_CANCELLED,
};

enum journal_action {
	JOURNAL_ACTION_INSTALL,
	JOURNAL_ACTION_SKIP,
};

enum journal_node_status {
	JOURNAL_NODE_OK,
	JOURNAL_NODE_FAILED,
	JOURNAL_NODE_CANCELLED,
};

/* The journal's spelling of each value ("downloading", "success", ...). */
const char *journal_phase_name(enum journal_phase v);
const char *journal_outcome_name(enum journal_outcome v);
const char *journal_action_name(enum journal_action v);
const char *journal_node_status_name(enum journal_node_status v);

/* The reverse: 0, or FW_ERR_INVALID if s names no value (*out untouched). */
int journal_phase_parse(const char *s, enum journal_phase *out);
int journal_outcome_parse(const char *s, enum journal_outcome *out);
int journal_action_parse(const char *s, enum journal_action *out);
int journal_node_status_parse(const char *s, enum journal_node_status *out);

struct journal;

/* What the job-start event records. Nothing here may hold a secret. */
struct journal_start_info {
	const char *command;		/* "deploy" */
	const char *const *args;	/* options as given, secrets left out */
	size_t n_args;
	const char *repository;		/* repository path, or NULL */
	const char *const *nodes;	/* node names; a repeated name counts once */
	size_t n_nodes;
};

/* One line of a node's plan. NULL strings are written as "". */
struct journal_plan_entry {
	const char *id;			/* component id */
	const char *name;
	const char *kind;		/* "firmware", "driver", "software" */
	const char *installed;		/* version on the node, or NULL */
	const char *target;		/* version in the repository */
	enum journal_action action;
	const char *reason;		/* why (mostly for skips), or NULL */
};

/*
 * Creates the job's folder (STATE/jobs/<id>/, 0700, with nodes/), opens its
 * journal and writes the job-start event (fdatasync'ed, folder entries
 * synced too). The journal file is flock'ed while the job runs, so a
 * listing can tell a running job from one that died. Each node gets a log
 * file name: its name with bytes outside [A-Za-z0-9._-] turned into '_',
 * cut to 128 bytes, unique (case-insensitively) by a "-2", "-3" suffix.
 * Returns 0 and *out (free with journal_free()), FW_ERR_INVALID for a
 * missing command, or FW_ERR_SYSTEM (errno set).
 */
int journal_start(const char *state_dir, const struct journal_start_info *info,
    struct journal **out);

/* The job id, and the job's folder path; valid until journal_free(). */
const char *journal_id(const struct journal *j);
const char *journal_dir(const struct journal *j);

/*
 * The events. node must be one of the names given to journal_start()
 * (FW_ERR_NOT_FOUND otherwise). Strings are cut to JOURNAL_SHORT_MAX bytes
 * (detail and error: JOURNAL_TEXT_MAX) at a character boundary; bytes that
 * are not UTF-8 become '?'. Each returns 0, FW_ERR_INVALID (bad argument),
 * FW_ERR_FRAME_TOO_BIG, or FW_ERR_SYSTEM (errno set; the first write error
 * is also logged once). node_state, node_done and component_result also go
 * to the node's log.
 */

/* "node-state": the node's state machine entered state ("connecting"). */
int journal_node_state(struct journal *j, const char *node, const char *state);

/*
 * "node-plan": what will be done on node, n entries. A plan too long for
 * one line is written as several node-plan events; replay merges them by
 * component id.
 */
int journal_node_plan(struct journal *j, const char *node,
    const struct journal_plan_entry *e, size_t n);

/*
 * "component-phase": progress, not synced. Written when the phase changes,
 * when percent first reaches 100, or when JOURNAL_PROGRESS_MS have passed
 * since the last line for this node and component; otherwise dropped
 * (returns 0). percent is capped at 100.
 */
int journal_component_phase(struct journal *j, const char *node,
    const char *component, enum journal_phase phase, unsigned int percent,
    uint64_t bytes);

/*
 * "component-result": how a component ended. exit_code is the installer's
 * (JOURNAL_NO_EXIT when none ran, written as null); detail may be NULL.
 */
int journal_component_result(struct journal *j, const char *node,
    const char *component, enum journal_outcome outcome, int exit_code,
    const char *detail);

/* "node-done": the node is finished; error may be NULL. Closes its log. */
int journal_node_done(struct journal *j, const char *node,
    enum journal_node_status status, const char *error, bool reboot_needed);

/* "job-end": the command's exit code; interrupted after Ctrl-C. */
int journal_job_end(struct journal *j, int exit_code, bool interrupted);

/*
 * Appends to the node's log, one line per line of text, each prefixed with
 * the UTC time; control characters become '?', lines are cut at 4096
 * bytes. Not synced (node_done syncs it). 0, FW_ERR_NOT_FOUND or
 * FW_ERR_SYSTEM.
 */
int journal_node_log(struct journal *j, const char *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Closes the journal (no job-end is written); NULL is a no-op. */
void journal_free(struct journal *j);

/* --- reading and finding jobs ------------------------------------------ */

/*
 * Reads the next line of a journal into buf (JOURNAL_LINE_MAX bytes), NUL
 * terminated, without its '\n'; *len is its length (it may hold NULs),
 * *complete whether a '\n' ended it (only a last line written half can
 * lack one). Returns 1 (a line), 0 (end of file), FW_ERR_FRAME_TOO_BIG (a
 * line longer than JOURNAL_LINE_MAX: consumed, buf holds its start) or
 * FW_ERR_SYSTEM.
 */
int journal_read_line(FILE *f, char *buf, size_t *len, bool *complete);

enum journal_job_state {
	JOURNAL_JOB_COMPLETE,		/* ended with a job-end event */
	JOURNAL_JOB_RUNNING,		/* no job-end; a process holds it */
	JOURNAL_JOB_INCOMPLETE,		/* no job-end, nobody holds it */
	JOURNAL_JOB_UNREADABLE,		/* no journal or no job-start */
};

/* A job as `fwfleet jobs` lists it. */
struct journal_job {
	char id[JOURNAL_ID_LEN + 1];
	char *command;			/* NULL when unreadable */
	int64_t start_ms;		/* unix ms; from the id when unreadable */
	int64_t end_ms;			/* 0 unless complete */
	char **nodes;			/* node names */
	size_t n_nodes;
	enum journal_job_state state;
	int exit_code;			/* when complete */
	bool interrupted;		/* when complete */
};

/* True if s has the form of a job id. */
bool journal_id_valid(const char *s);

/*
 * Lists the jobs in STATE/jobs, newest first (by start time, then id).
 * Reads only each journal's first line and its last 64 KiB. A missing jobs
 * folder is an empty list. Returns 0 and *out, *n (free with
 * journal_list_free()), or FW_ERR_SYSTEM.
 */
int journal_list(const char *state_dir, struct journal_job **out, size_t *n);
void journal_list_free(struct journal_job *v, size_t n);

/*
 * Finds the job named by spec: "last" (the newest), a full id or a unique
 * prefix of one. Writes the job's folder into dir. Returns 0,
 * FW_ERR_NOT_FOUND or FW_ERR_INVALID (ambiguous or malformed spec), with
 * the reason in err.
 */
int journal_resolve(const char *state_dir, const char *spec, char *dir,
    size_t dirlen, char *err, size_t errlen);

/*
 * Replaces in place each byte that does not start a valid UTF-8 sequence,
 * and each control character (C0, DEL, C1), with '?'; keeps tabs and line
 * breaks when keep_breaks is set. For text bound to a terminal or a file.
 */
void journal_clean_text(char *s, bool keep_breaks);

#endif
