#include "bootstrap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "util.h"

/* A session id: 1-64 characters of [A-Za-z0-9-]. */
static int bootstrap_session_id_ok(const char *id)
{
	size_t i, n = strlen(id);

	if (n == 0 || n > 64)
		return 0;
	for (i = 0; i < n; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return 1;
}

static const char *bootstrap_problem(const Fwfleet__Bootstrap *bs)
{
	if (!bootstrap_session_id_ok(bs->session_id))
		return "bad or missing session id";
	if (bs->ca_cert_pem.len == 0)
		return "no CA certificate";
	if (bs->cert_pem.len == 0)
		return "no engine certificate";
	if (bs->key_pem.len == 0)
		return "no engine key";
	if (bs->workdir[0] != '/')
		return "work directory is not an absolute path";
	if (bs->port > 65535)
		return "port out of range";
	return NULL;
}

int bootstrap_load(const char *path, Fwfleet__Bootstrap **out, char *err,
    size_t errlen)
{
	Fwfleet__Bootstrap *bs = NULL;
	const char *problem;
	char *buf = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	if ((r = fw_read_file(path, BOOTSTRAP_MAX, &buf, &len)) != 0) {
		fw_snprintf(err, errlen, "cannot read bootstrap file %s: %s",
		    path, r == FW_ERR_SYSTEM ? strerror(errno) : fw_strerror(r));
		goto out;
	}
	bs = fwfleet__bootstrap__unpack(NULL, len, (const uint8_t *)buf);
	if (bs == NULL) {
		fw_snprintf(err, errlen, "bootstrap file %s is corrupt", path);
		r = FW_ERR_PARSE;
		goto out;
	}
	if ((problem = bootstrap_problem(bs)) != NULL) {
		fw_snprintf(err, errlen, "bootstrap file %s: %s", path,
		    problem);
		r = FW_ERR_INVALID;
		goto out;
	}
	*out = bs;
	bs = NULL;
	r = 0;
out:
	if (buf != NULL) {
		explicit_bzero(buf, len);
		free(buf);
	}
	if (bs != NULL)
		fwfleet__bootstrap__free_unpacked(bs, NULL);
	return r;
}
