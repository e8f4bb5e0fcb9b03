/*
 * Free disk space on Linux, for the fetcher's check before staging.
 */
#include "process.h"

#include <sys/statvfs.h>

#include "err.h"

int diskspace_free(const char *dir, uint64_t *out)
{
	struct statvfs sv;

	*out = 0;
	if (statvfs(dir, &sv) != 0)
		return FW_ERR_SYSTEM;
	/* f_bavail: what an unprivileged user may use; the root reserve is
	 * not ours to fill. */
	*out = (uint64_t)sv.f_bavail * (uint64_t)sv.f_frsize;
	return 0;
}
