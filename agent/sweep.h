/*
 * The leftover sweep: what earlier sessions left on this node when their
 * controller or engine died before cleaning up. Work directories are
 * <remote_dir>/fwfleet-<session>-<node index>; engines run from them;
 * firewall rules carry the comment fwfleet:<session>.
 *
 * A session is live on this node while an engine of it runs. What belongs
 * to a session that is not live is a leftover: its firewall rules at once
 * (an engine adds them and removes them before it exits), its work
 * directory once it is older than the grace period (a session that is
 * still shipping its engine has a directory but no engine yet). Sessions
 * the controller knows to be dead (its own crashed runs) are swept at once,
 * engines included; --force treats every other session as dead too.
 *
 * The sweep an engine does when it starts looks at firewall rules only
 * when its controller knows dead runs, and then only at theirs: reading
 * the rule set costs each node more CPU than the rest of the start-up, and
 * rules of runs that are not ours are `fwfleet cleanup`'s business.
 */
#ifndef FW_SWEEP_H
#define FW_SWEEP_H

#include <stddef.h>

#define SWEEP_GRACE_S	600

struct sweep_opts {
	const char *remote_dir;		/* parent of work directories */
	const char *own_session;	/* never swept (may be NULL) */
	char **dead;			/* sessions known dead */
	size_t n_dead;
	int force;			/* every session but own is dead */
	unsigned grace_s;		/* for directories of unknown sessions */
	const char *only_workdir;	/* look at this work directory only */
	int dead_rules_only;		/* rules: of dead sessions only */
};

/*
 * Sweeps per o and calls note(line, arg) for each thing removed or that
 * could not be ("killed engine 1234 of session ...", "removed /tmp/...",
 * "removed firewall rule ...", "cannot remove ...: ..."). Returns the
 * number of failures (0: everything found was removed).
 */
int sweep_run(const struct sweep_opts *o,
    void (*note)(const char *line, void *arg), void *arg);

#endif
