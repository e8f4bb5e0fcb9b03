#include "state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "err.h"
#include "util.h"

int state_dir_resolve(const char *opt, char *buf, size_t len)
{
	const char *v;

	if (opt != NULL && opt[0] != '\0')
		return fw_snprintf(buf, len, "%s", opt);
	if ((v = getenv("FWFLEET_STATE_DIR")) != NULL && v[0] != '\0')
		return fw_snprintf(buf, len, "%s", v);
	if ((v = getenv("XDG_STATE_HOME")) != NULL && v[0] == '/')
		return fw_snprintf(buf, len, "%s/fwfleet", v);
	if ((v = getenv("HOME")) != NULL && v[0] == '/')
		return fw_snprintf(buf, len, "%s/.local/state/fwfleet", v);
	return FW_ERR_NOT_FOUND;
}

int state_path(const char *state_dir, const char *rel, char *buf, size_t len)
{
	return fw_snprintf(buf, len, "%s/%s", state_dir, rel);
}

