/*
 * Installer return codes → outcomes, by the component's convention.
 * Used by the engine (after an installer exits) and by the controller
 * (manifests, reports). Plain C: no JSON here.
 *
 * Conventions (HP smart components, see HPSUM-NOTES.md):
 *   hp-linux        0 success; 1 success, reboot required; 2 not attempted
 *                   (already current); 3 and anything else failed
 *   hp-linux-multi  0 success; 1 success, reboot required; 2 already
 *                   current; 3 not applicable (not attempted); 4 target
 *                   not found, 5 cancelled, 6 unmet dependency, 7 failed,
 *                   and anything else: failed
 *   hp-windows      0 failed; 1 success; 2 success, reboot required;
 *                   3 not applicable (not attempted); anything else failed
 *   rpm             0 success; anything else failed
 *   "" (custom)     map->codes, then map->default_outcome for codes not
 *                   listed (OUTCOME_UNKNOWN there means failed)
 * A NULL map is hp-linux. A negative exit code (the installer was
 * killed, or did not start) is always failed, and so is every code under
 * a convention this build does not know.
 *
 * Outcome names: "success", "success-reboot-required", "already-current",
 * "not-applicable", "failed" ("unknown" for OUTCOME_UNKNOWN).
 */
#ifndef FW_RCMAP_H
#define FW_RCMAP_H

#include "fwfleet.pb-c.h"

/* The outcome of exit_code under map. Never OUTCOME_UNKNOWN. */
Fwfleet__InstallOutcome rcmap_outcome(const Fwfleet__ReturnCodeMap *map,
    int exit_code);

/*
 * Checks that map can be applied: a known convention, or "" with a
 * valid outcome for each listed code (the default may be OUTCOME_UNKNOWN,
 * which means failed). Returns 0 or FW_ERR_INVALID, so the engine can
 * refuse an install before it runs anything.
 */
int rcmap_check(const Fwfleet__ReturnCodeMap *map);

/* True if name is one of the named conventions above. */
int rcmap_convention_known(const char *name);

/* The name of an outcome (static string; "unknown" for others). */
const char *rcmap_outcome_name(Fwfleet__InstallOutcome o);

/*
 * Parses an outcome name (exact, lower case) into *out. OUTCOME_UNKNOWN
 * is not accepted. Returns 0 or FW_ERR_INVALID.
 */
int rcmap_outcome_parse(const char *name, Fwfleet__InstallOutcome *out);

#endif
