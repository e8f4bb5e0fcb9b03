#include "tcp.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Waits for a non-blocking connect on fd; 0 or -1 with errno. */
static int connect_wait(int fd, int timeout_s)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	socklen_t sl = sizeof(int);
	int n, e = 0;

	do {
		n = poll(&p, 1, timeout_s * 1000);
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		errno = ETIMEDOUT;
	if (n <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) != 0)
		return -1;
	errno = e;
	return e == 0 ? 0 : -1;
}

/* A blocking TCP socket connected to sa:port within timeout_s; -1 with
 * errno. */
static int tcp_connect_one(const struct addrinfo *ai, uint16_t port,
    int timeout_s)
{
	struct sockaddr_storage ss;
	int fd, e;

	if (ai->ai_addrlen > sizeof(ss)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons(port);
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) < 0)
		return -1;
	if ((connect(fd, (struct sockaddr *)&ss, ai->ai_addrlen) != 0 &&
	    (errno != EINPROGRESS || connect_wait(fd, timeout_s) != 0)) ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int tcp_connect_any(const struct addrinfo *list, uint16_t port,
    int timeout_s)
{
	const struct addrinfo *ai;
	int fd, e = ECONNREFUSED;

	for (ai = list; ai != NULL; ai = ai->ai_next) {
		if ((fd = tcp_connect_one(ai, port, timeout_s)) >= 0)
			return fd;
		if (errno != ECONNREFUSED)
			e = errno;
	}
	errno = e;
	return -1;
}

