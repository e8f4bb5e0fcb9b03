/*
 * How `fwfleet diag` and `fwfleet-engine diag` show engines' Diag
 * replies, so that both print the same fields the same way:
 *
 * - for people: one block per engine, aligned "key: value" lines, times
 *   in UTC ISO-8601 with how long ago or ahead ("(12 s ago)", "(in 1 d)"),
 *   byte counts human-readable and exact, text from the engine cleaned of
 *   control characters and bad UTF-8;
 * - as JSON: one array, one object per engine, with stable key names
 *   (written here: the engine has no JSON library).
 *
 * JSON object keys: node, address, ok, error; and when it answered:
 * version, build, mode, pid, uptime_s, state, job_id, session_id,
 * node_name, port, idle_timeout_s, workdir, state_dir, last_seen_unix,
 * last_seen, last_seen_ago_s, cert_subject, cert_not_before_unix,
 * cert_not_before, cert_not_after_unix, cert_not_after,
 * cert_expires_in_s, components [{id, version, phase, percent,
 * bytes_done, bytes_total, error}], recent_errors [{time_unix, time,
 * message}], firewall_rules [string]. A time that is not known (0) is
 * null, as are its derived keys.
 */
#ifndef FW_DIAG_RENDER_H
#define FW_DIAG_RENDER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "fwfleet.pb-c.h"

struct diag_entry {
	const char *name;		/* the node as the operator named
					 * it, or NULL */
	const char *address;		/* where it was asked: the node's
					 * address, a socket path; or NULL */
	const Fwfleet__Diag *diag;	/* NULL: it did not answer */
	const char *error;		/* why not (NULL if it answered) */
};

/* The blocks for people, separated by blank lines; now is the time that
 * "ago" and "in" count from. */
void diag_render_text(FILE *f, const struct diag_entry *v, size_t n,
    time_t now);

/* One JSON array and a newline. */
void diag_render_json(FILE *f, const struct diag_entry *v, size_t n,
    time_t now);

/*
 * s as a JSON string literal: quotes, backslashes and control characters
 * (C0, DEL, C1) escaped, valid UTF-8 kept as it is, each invalid byte
 * written as U+FFFD. NULL writes null.
 */
void diag_json_string(FILE *f, const char *s);

/* "512 bytes", "1.5 MiB (1572864 bytes)". */
void diag_format_bytes(uint64_t n, char *buf, size_t len);

/* "2024-05-01T10:00:00Z (12 s ago)", "... (in 3 d)"; "-" for 0. */
void diag_format_time(int64_t t, time_t now, char *buf, size_t len);

/* "downloading", "installing", ... */
const char *diag_phase_name(Fwfleet__Phase phase);

#endif
