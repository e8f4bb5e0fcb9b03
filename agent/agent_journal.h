/*
 * A persistent agent's job journal: <state dir>/journal.jsonl, one line
 * (fsync'd) when an operation (staging, installing) of a job starts and
 * one when it ends. An operation whose last line is its start was cut
 * short by a restart (a crash, a kill, a power cut): recovery writes it
 * down as interrupted, and it is reported — in Hello to every controller
 * and in Diag — until a later run of the same component ends. Installs
 * are never resumed on their own: a flash cut short needs an operator's
 * look, and the controller's next deploy plans it again.
 */
#ifndef FW_AGENT_JOURNAL_H
#define FW_AGENT_JOURNAL_H

#include <stddef.h>

#define AGENT_JOURNAL_KEEP	200	/* lines kept when it is compacted */

struct agent_journal;

/*
 * Opens the journal in state_dir, marks operations cut short as
 * interrupted and collects what to report. NULL if it cannot be opened
 * (the agent then runs without one, and says so in its log).
 */
struct agent_journal *agent_journal_open(const char *state_dir);

/* Records that op ("staging", "installing") of component in job starts,
 * or ends in state ("done", "failed"). */
void agent_journal_begin(struct agent_journal *j, const char *job,
    const char *op, const char *component, const char *version);
void agent_journal_end(struct agent_journal *j, const char *state);

/* What to report: "job J: installing C 1.0 was interrupted by a restart
 * (started 2026-11-24T05:30:00Z)". Owned by j. */
char **agent_journal_interrupted(const struct agent_journal *j, size_t *n);

void agent_journal_close(struct agent_journal *j);

#endif
