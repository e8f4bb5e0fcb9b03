/*
 * TCP connections with a deadline, for blocking callers (worker threads,
 * command-line tools).
 */
#ifndef FW_TCP_H
#define FW_TCP_H

#include <netdb.h>
#include <stdint.h>

/*
 * A blocking TCP socket (close-on-exec) connected to port on the first
 * address of list that takes it, each tried for at most timeout_s; -1
 * with errno on failure, ECONNREFUSED only if every address refused.
 */
int tcp_connect_any(const struct addrinfo *list, uint16_t port,
    int timeout_s);

#endif
