/*
 * What the engine needs from the operating system, one file per OS
 * (platform_linux.c today; platform_windows.c later), so the rest of the
 * engine compiles unchanged for each target.
 */
#ifndef FW_PLATFORM_H
#define FW_PLATFORM_H

#include <stddef.h>

/*
 * Splits the engine off its starter: forks, and in the child starts a new
 * session and points stdin/stdout/stderr at /dev/null (or closes them when
 * /dev/null is missing, as in an empty chroot). Returns in the child with
 * *ready_fd set to a descriptor the child writes one byte to once it is
 * serving; the parent waits for that byte (at most timeout_ms) and exits
 * with 0 if it came, 1 if not, so the starter learns whether it worked.
 * The parent first prints ready_line to stdout when the byte arrives.
 */
int platform_detach(const char *ready_line, int timeout_ms, int *ready_fd);

/*
 * Removes the directory tree at path without following symlinks. Refuses
 * (FW_ERR_INVALID) paths that are not absolute, are "/", or whose last
 * component does not start with "fwfleet-". Returns 0 when path is gone.
 */
int platform_remove_workdir(const char *path);

/* Writes pid into path (0600). */
int platform_write_pidfile(const char *path);

/*
 * Schedules a reboot of the machine in delay_s seconds, rounded up to
 * whole minutes (`shutdown -r +M`; 0: now), announcing message. Returns 0,
 * or FW_ERR_* with err.
 */
int platform_schedule_reboot(unsigned delay_s, const char *message,
    char *err, size_t errlen);

/*
 * The name of the interface that holds the IPv6 address addr (numeric,
 * any zone ignored), for giving a link-local address its zone. Returns 0,
 * or FW_ERR_NOT_FOUND.
 */
int platform_zone_of(const char *addr, char *zone, size_t len);

/*
 * Whether the peer of the connected local (unix) socket fd runs as the
 * administrator (Linux: SO_PEERCRED uid 0). *uid gets its user id (-1 if
 * unknown). Returns 1 or 0 (also when it cannot be told).
 */
int platform_peer_is_admin(int fd, long *uid);

#endif
