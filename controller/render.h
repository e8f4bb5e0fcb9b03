/*
 * What `fwfleet inventory` prints: a readable per-node summary, a JSON
 * document for machines, and one status line per node.
 */
#ifndef FW_RENDER_H
#define FW_RENDER_H

#include <stdio.h>

#include "fwfleet.pb-c.h"

struct node_result {
	const char *name;		/* inventory name */
	const char *address;		/* "198.18.0.11:22", "[2001:db8::5]:22" */
	int ok;				/* 1 ok, 0 failed */
	const char *error;		/* why it failed (NULL when ok) */
	const Fwfleet__Inventory *inv;	/* NULL when failed */
	double elapsed_s;		/* time spent on the node */
	const char *output;		/* a job's report (cleanup, agent) */
};

/*
 * Writes the human summary of every node that returned an inventory:
 * system vendor, model, serial, BIOS vendor/version/date, OS, kernel,
 * arch, and each device (NICs, NVMe, disks, PCI) with its firmware version.
 * Nodes that failed or have no inventory are skipped. Control characters
 * and invalid UTF-8 from the nodes are written as '?'.
 */
void render_inventory_text(FILE *f, const struct node_result *r, size_t n);

/* Writes one line per node: "NAME: ok" or "NAME: failed: REASON". */
void render_status_lines(FILE *f, const struct node_result *r, size_t n);

/*
 * Returns the JSON document (malloc'd, caller frees) for all nodes:
 * {"nodes":[{"name","address","status":"ok"|"failed","error",
 *   "elapsed_s","inventory":{...}}], "summary":{"ok":N,"failed":M}}
 * "error" is present only for failed nodes, "inventory" only when inv is
 * set. Bytes that are not valid UTF-8 are replaced by '?'. Returns NULL
 * only if jansson fails (out of memory).
 */
char *render_inventory_json(const struct node_result *r, size_t n);

#endif
