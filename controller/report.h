/*
 * Reports of a job, rebuilt from its journal (journal.h): the journal is
 * replayed into an in-memory model, which is written as JSON (the whole
 * model), CSV (one row per node and component) or HTML (one self-contained
 * page: inline CSS, no scripts, no external assets). Formats in
 * docs/journal.md.
 *
 * Exit codes follow HP SUM; report_exit_code() derives one from the
 * results, first match wins:
 *   255  a node failed, was cancelled, or never finished
 *   253  a component failed
 *     1  a component succeeded and needs a reboot, or a node needs one
 *     0  a component was installed
 *     3  nothing was done (all current, not applicable or skipped)
 * Node-level failures (unreachable, engine lost) end a node "failed"; a
 * node whose installers ran ends "ok" even if some of them failed, so that
 * 253 and 255 stay apart.
 */
#ifndef FW_REPORT_H
#define FW_REPORT_H

#include <stddef.h>
#include <stdio.h>

#define REPORT_JSON_FILE	"report.json"
#define REPORT_HTML_FILE	"report.html"
#define REPORT_CSV_FILE		"report.csv"

enum report_format {
	REPORT_JSON,
	REPORT_HTML,
	REPORT_CSV,
};

struct report;

/*
 * Replays job_dir/journal.jsonl. A line longer than JOURNAL_LINE_MAX, a
 * line that is not JSON (a truncated last line: a crash mid-write), an
 * unknown event or an event missing a field is skipped with a warning
 * (report_warning()); none of these is fatal. A journal without job-end is
 * "incomplete". Returns 0 and *out (free with report_free()),
 * FW_ERR_NOT_FOUND (no journal) or FW_ERR_SYSTEM (errno set).
 */
int report_load(const char *job_dir, struct report **out);
void report_free(struct report *r);

/* The warnings replay left, in line order: "line 7: not JSON, skipped". */
size_t report_warning_count(const struct report *r);
const char *report_warning(const struct report *r, size_t i);

/* The job's id, as recorded (else the folder's name). */
const char *report_job_id(const struct report *r);

/* The exit code the results call for (see the top of this file). */
int report_exit_code(const struct report *r);

/* "success", "success, reboot needed", ... for an exit code. */
const char *report_exit_meaning(int code);

/*
 * Writes the report in one format to f. Returns 0, FW_ERR_NOMEM or
 * FW_ERR_SYSTEM (a write failed).
 */
int report_write(const struct report *r, enum report_format fmt, FILE *f);

/* report_write into path, replaced atomically (0600). 0 or FW_ERR_*. */
int report_write_file(const struct report *r, enum report_format fmt,
    const char *path);

/* Parses "json", "html" or "csv"; 0 or FW_ERR_INVALID. */
int report_format_parse(const char *s, enum report_format *out);

/*
 * Writes r as report.json, report.html and report.csv in job_dir (0600,
 * each replaced atomically). Returns 0 or an FW_ERR_* code.
 */
int report_save(const struct report *r, const char *job_dir);

/*
 * Loads job_dir's journal and (re)writes report.json, report.html and
 * report.csv there (0600, each replaced atomically). Called at the end of
 * a job, after journal_job_end(). Returns 0 or an FW_ERR_* code.
 */
int report_generate(const char *job_dir);

#endif
