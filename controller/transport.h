/*
 * How the controller runs commands on a node. One interface so that a
 * Windows transport can sit beside the SSH one. All calls block: they run
 * in worker threads, never on the event loop.
 */
#ifndef FW_TRANSPORT_H
#define FW_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <sys/socket.h>

#include "nodes.h"

struct transport;

struct transport_opts {
	const char *known_hosts;	/* path; NULL = ~/.ssh/known_hosts */
	int accept_new_host_keys;	/* add unknown keys (never changed) */
	const char *default_user;	/* NULL = "root" */
	const char *key_file;		/* NULL = ssh-agent, then ~/.ssh/id_* */
	const char *password;		/* NULL = no password auth */
	int use_sudo;			/* wrap commands in sudo */
	int connect_timeout_s;		/* TCP connect + handshake */
	int verbose;			/* libssh log verbosity (0 = none) */
};

struct exec_result {
	int exit_status;	/* -1 if the command died by a signal / unknown */
	char *out;		/* stdout, NUL-terminated, malloc'd */
	size_t out_len;
	char *err;		/* stderr, NUL-terminated, malloc'd */
	size_t err_len;
};

/*
 * Connects to spec's address, verifies the host key against known_hosts
 * and authenticates. On failure returns FW_ERR_HOSTKEY_UNKNOWN,
 * FW_ERR_HOSTKEY_CHANGED, FW_ERR_AUTH, FW_ERR_TIMEOUT or FW_ERR_SSH and
 * fills err with a message that says what to do next.
 */
int transport_ssh_connect(const struct node_spec *spec,
    const struct transport_opts *opts, struct transport **out,
    char *err, size_t errlen);

/*
 * Runs cmd (a /bin/sh command line; wrapped in sudo when asked) feeding
 * in[0..inlen) on its stdin then EOF, and collects its stdout and stderr
 * (each capped at 1 MiB) and exit status into res. Gives up after
 * timeout_ms. Returns 0 when the command ran (whatever its exit status),
 * else an FW_ERR_* code with err filled. Secrets go in `in`, never in cmd.
 * timeout_ms <= 0 means no limit. On FW_ERR_TIMEOUT the command is sent
 * SIGTERM and its channel closed; the session stays usable. With use_sudo
 * the command runs under "sudo -n" (or "sudo -S" when a password is set
 * and sudo asks for it); a root login runs it directly.
 */
int transport_exec(struct transport *t, const char *cmd, const void *in,
    size_t inlen, int timeout_ms, struct exec_result *res,
    char *err, size_t errlen);

/*
 * Copies the address the SSH connection reached (the resolved IP; for
 * link-local IPv6 with its scope id) into *addr and its length into *len.
 * Returns 0, FW_ERR_INVALID or FW_ERR_SYSTEM.
 */
int transport_peer_addr(struct transport *t, struct sockaddr_storage *addr,
    socklen_t *len);

/*
 * Our own end of the connection: the address the node reaches the
 * controller at, in the family the node was reached by.
 */
int transport_local_addr(struct transport *t, struct sockaddr_storage *addr,
    socklen_t *len);

#define TRANSPORT_MAX_IOV 4

/*
 * Like transport_exec, with stdin gathered from niov (at most
 * TRANSPORT_MAX_IOV) buffers sent one after the other, so large inputs
 * need not be copied into one.
 */
int transport_execv(struct transport *t, const char *cmd,
    const struct iovec *in, int niov, int timeout_ms,
    struct exec_result *res, char *err, size_t errlen);

/* The connection's socket (for socket options only: never read or write
 * it), or -1. */
int transport_fd(struct transport *t);

/* Frees the buffers in res and clears it. */
void exec_result_free(struct exec_result *res);

/* Disconnects and frees t. NULL is a no-op. */
void transport_close(struct transport *t);

#endif
