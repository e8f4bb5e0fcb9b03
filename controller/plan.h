/*
 * The plan for one node: which of the repository's components to install
 * there, in which order, and why each other one is skipped. It is
 * computed from the node's inventory alone (a dry run); deploy carries it
 * out.
 *
 * For each component id (filtered by --component and --kind):
 *  1. the newest version that applies: the node's OS (os-release ID, or
 *     "linux") and arch are listed, and one of its applies_to matchers
 *     matches the node's devices;
 *  2. the installed version, read from the field installed_version names
 *     on the devices that matched (through its regex). Several devices:
 *     the oldest counts. A device without a readable version, or a
 *     package:NAME field, makes it unknown;
 *  3. the decision: install when installed < target or unknown; else skip
 *     "already current (installed X)" (install with rewrite) or "older
 *     than installed (installed X > T)" (install with downgrade);
 *  4. stepping stones: while the version to install needs an older
 *     version of itself (depends on its own id >= v) that is not
 *     installed, the newest applicable version >= v goes first;
 *  5. dependencies on other ids: met if that component is installed at
 *     >= v, or is planned at >= v (then it goes first); otherwise the
 *     dependent is skipped "unmet dependency: needs Y ≥ v (...)", and so
 *     on transitively. A cycle skips its members.
 * Installs are in dependency order, ties broken by id then version;
 * skips follow, by id.
 */
#ifndef FW_PLAN_H
#define FW_PLAN_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "fwfleet.pb-c.h"
#include "repo.h"

struct plan_opts {
	int downgrade;			/* install older than installed */
	int rewrite;			/* install the same version again */
	const char *const *components;	/* only these ids (none: all) */
	size_t n_components;
	int kind;			/* enum manifest_kind, or -1: all */
};

/* Fills o with the defaults: upgrades only, every component. */
void plan_opts_init(struct plan_opts *o);

enum plan_action { PLAN_INSTALL, PLAN_SKIP };

struct plan_item {
	const struct repo_component *c;	/* the repository's */
	enum plan_action action;
	int not_applicable;	/* skipped: nothing on the node matches */
	char *installed;	/* on the node now; NULL if unknown */
	char *reason;		/* "upgrade", "already current (...)" */
	char **devices;		/* what matched: "ens1f0", "nvme0",
				   "system", "0000:5d:00.0" */
	size_t n_devices;
};

struct node_plan {
	struct plan_item *items;	/* n_install installs, then skips */
	size_t n;
	size_t n_install;
};

/*
 * Plans the components of repo for the node whose inventory is inv.
 * Returns 0 with *out filled (clear with node_plan_clear); strings from
 * the node are cleaned of control and non-ASCII bytes.
 */
int plan_node(const Fwfleet__Inventory *inv, const struct repo *repo,
    const struct plan_opts *o, struct node_plan *out);

void node_plan_clear(struct node_plan *p);

/*
 * {"install": [ITEM...], "skip": [ITEM...]}, each ITEM
 * {"id", "name", "kind", "version", "installed" (null if unknown),
 *  "reason", "reboot_required", "devices": [...]}, plus
 * "not_applicable": true on skips where nothing matched.
 */
json_t *node_plan_json(const struct node_plan *p);

/*
 * The readable plan, indented by two spaces: one line per install and per
 * skipped component that applies, then one line naming the components
 * that do not apply.
 */
void node_plan_print(FILE *f, const struct node_plan *p);

#endif
