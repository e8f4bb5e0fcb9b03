/*
 * The controller's record of its runs: STATE/sessions/<session id> holds
 * "<pid> <process start time>" while a run is live and is removed when the
 * run ends. A record whose process is gone marks a run that died without
 * cleaning up (SIGKILL, a crash, a power cut): the engines it started
 * clean up after themselves within their idle timeout, and every later
 * run sweeps what they could not (their firewall rules on this host; on
 * nodes, through the engine's sweep) by session id.
 */
#ifndef FW_SESSIONS_H
#define FW_SESSIONS_H

#include <stddef.h>

#define SESSIONS_MAX_DEAD	64	/* newest first, older ones dropped */
#define SESSIONS_KEEP_S		(7 * 86400)	/* then a record is forgotten */

/* Records session sid as live (this process). */
int sessions_register(const char *state_dir, const char *sid, char *err,
    size_t errlen);

/* Removes sid's record: the run ended and cleaned up. */
void sessions_unregister(const char *state_dir, const char *sid);

/*
 * The ids of dead runs (records whose process is gone), newest first, at
 * most SESSIONS_MAX_DEAD, into *out (free with sessions_free). Records
 * older than SESSIONS_KEEP_S are removed on the way. Returns the count.
 */
size_t sessions_dead(const char *state_dir, char ***out);

void sessions_free(char **ids, size_t n);

/* True if sid is among ids. */
int sessions_contains(char **ids, size_t n, const char *sid);

#endif
