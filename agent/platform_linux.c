#include "platform.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "util.h"

/*
 * Points fds 0-2 at /dev/null, or at "/" (read-only; writes fail) where
 * there is no /dev/null, as in an empty chroot: they must stay occupied,
 * or the next socket would get fd 2 and stray writes would land in it.
 */
static void redirect_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);
	int i;

	if (fd < 0)
		fd = open("/", O_RDONLY | O_DIRECTORY);
	for (i = 0; i < 3; i++)
		if (fd >= 0 && fd != i)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
}

static int wait_ready(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;
	int n;

	do {
		n = poll(&p, 1, timeout_ms);
	} while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	return read(fd, &c, 1) == 1 ? 0 : -1;
}

int platform_detach(const char *ready_line, int timeout_ms, int *ready_fd)
{
	int pfd[2];
	pid_t pid;

	*ready_fd = -1;
	if (pipe2(pfd, O_CLOEXEC) != 0)
		return FW_ERR_SYSTEM;
	if ((pid = fork()) < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return FW_ERR_SYSTEM;
	}
	if (pid > 0) {
		close(pfd[1]);
		if (wait_ready(pfd[0], timeout_ms) != 0) {
			kill(pid, SIGTERM);	/* it removes its work dir */
			fprintf(stderr, "fwfleet-engine: the engine did not "
			    "start; see its log in the work directory\n");
			_exit(1);
		}
		fputs(ready_line, stdout);
		fflush(stdout);
		_exit(0);
	}
	close(pfd[0]);
	setsid();
	signal(SIGHUP, SIG_IGN);
	redirect_stdio();
	*ready_fd = pfd[1];
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	if (flag == FTW_DP)
		return rmdir(path) == 0 || errno == ENOENT ? 0 : -1;
	return unlink(path) == 0 || errno == ENOENT ? 0 : -1;
}

int platform_remove_workdir(const char *path)
{
	const char *base;

	if (path == NULL || path[0] != '/' || strcmp(path, "/") == 0)
		return FW_ERR_INVALID;
	base = strrchr(path, '/') + 1;
	if (strncmp(base, "fwfleet-", 8) != 0 || strstr(path, "/../") != NULL)
		return FW_ERR_INVALID;
	/* FTW_MOUNT: never descend into something mounted inside. */
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) != 0 &&
	    errno != ENOENT)
		return FW_ERR_SYSTEM;
	return 0;
}

int platform_write_pidfile(const char *path)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

	return fw_write_file(path, buf, (size_t)n, 0600);
}

int platform_schedule_reboot(unsigned delay_s, const char *message,
    char *err, size_t errlen)
{
	static const char *const paths[] = { "/sbin/shutdown",
	    "/usr/sbin/shutdown", NULL };
	char when[32];
	int i, status;
	pid_t pid;

	for (i = 0; paths[i] != NULL && access(paths[i], X_OK) != 0; i++)
		;
	if (paths[i] == NULL) {
		fw_snprintf(err, errlen, "no shutdown command on this node");
		return FW_ERR_NOT_FOUND;
	}
	fw_snprintf(when, sizeof(when), delay_s == 0 ? "now" : "+%u",
	    (delay_s + 59) / 60);
	if ((pid = fork()) < 0) {
		fw_snprintf(err, errlen, "fork: %s", strerror(errno));
		return FW_ERR_SYSTEM;
	}
	if (pid == 0) {
		execl(paths[i], paths[i], "-r", when, message, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fw_snprintf(err, errlen, "%s -r %s failed (status %d)",
		    paths[i], when, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		return FW_ERR_SYSTEM;
	}
	return 0;
}

int platform_zone_of(const char *addr, char *zone, size_t len)
{
	struct ifaddrs *ifa, *i;
	struct in6_addr want;
	char host[INET6_ADDRSTRLEN];
	int r = FW_ERR_NOT_FOUND;

	if (fw_snprintf(host, sizeof(host), "%.*s", (int)strcspn(addr, "%"),
	    addr) != 0 || inet_pton(AF_INET6, host, &want) != 1 ||
	    getifaddrs(&ifa) != 0)
		return FW_ERR_NOT_FOUND;
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_INET6 ||
		    memcmp(&((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr,
		    &want, sizeof(want)) != 0)
			continue;
		r = fw_snprintf(zone, len, "%s", i->ifa_name) == 0 ? 0 :
		    FW_ERR_NOT_FOUND;
		break;
	}
	freeifaddrs(ifa);
	return r;
}

int platform_peer_is_admin(int fd, long *uid)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	*uid = -1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
	    len != sizeof(cred))
		return 0;
	*uid = (long)cred.uid;
	return cred.uid == 0;
}
