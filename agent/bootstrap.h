/*
 * The bootstrap file: the session's mTLS material and settings, written
 * (0600) by the controller over SSH into the engine's work directory.
 */
#ifndef FW_BOOTSTRAP_H
#define FW_BOOTSTRAP_H

#include <stddef.h>

#include "fwfleet.pb-c.h"

#define BOOTSTRAP_MAX	(1024 * 1024)

/*
 * Reads and validates the bootstrap file at path into *out (free with
 * fwfleet__bootstrap__free_unpacked). Checks that the session id is
 * 1-64 characters of [A-Za-z0-9-], that CA, certificate and key are
 * present and that the work directory is absolute. Returns 0 or an
 * FW_ERR_* code with err saying what is wrong.
 */
int bootstrap_load(const char *path, Fwfleet__Bootstrap **out, char *err,
    size_t errlen);

#endif
