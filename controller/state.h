/*
 * The controller's state directory: --state-dir, else $FWFLEET_STATE_DIR,
 * else $XDG_STATE_HOME/fwfleet, else ~/.local/state/fwfleet.
 * Layout: pki/ (the CA), jobs/ (later).
 */
#ifndef FW_STATE_H
#define FW_STATE_H

#include <stddef.h>

/* Resolves the state directory path into buf (not created). */
int state_dir_resolve(const char *opt, char *buf, size_t len);

/* Joins the state directory and a relative path into buf. */
int state_path(const char *state_dir, const char *rel, char *buf, size_t len);

#endif
