/*
 * --require-signed: a persistent agent enrolled with a pinned repository
 * key (STATE/repo.pub) stages and installs only components of an index
 * that key signed. A stage request then carries the repository's
 * index.json, its Ed25519 signature and the component's component.json;
 * the agent checks the signature, that the manifest is the one the index
 * names (sha256), that every file to fetch has the index's size, sha256
 * and chunk hashes, and keeps the manifest's installer command: an
 * install request must run exactly that.
 */
#ifndef FW_SIGNED_H
#define FW_SIGNED_H

#include <stddef.h>

#include "fwfleet.pb-c.h"

/* What a checked stage request allows to run. */
struct signed_installer {
	char **argv;
	size_t argc;
};

/*
 * Checks req against the pinned key (PEM). On success *out holds the
 * manifest's installer command (free with signed_installer_free).
 * Returns 0, or FW_ERR_CERT / FW_ERR_PARSE / FW_ERR_INVALID with err
 * saying what does not match.
 */
int signed_check_stage(const char *pub_pem, size_t pub_len,
    const Fwfleet__StageRequest *req, struct signed_installer **out,
    char *err, size_t errlen);

/* Checks an install request runs exactly the signed command. */
int signed_check_install(const struct signed_installer *si,
    const Fwfleet__InstallRequest *req, char *err, size_t errlen);

void signed_installer_free(struct signed_installer *si);

#endif
