/*
 * Private OpenSSH sshds for unit tests: a temporary directory with a
 * host key, a client key in authorized_keys, one sshd_config per server
 * (with optional extra lines), each sshd on a free loopback port, and a
 * known_hosts with the host key for every address they listen on.
 * Needs root and /usr/sbin/sshd (openssh-server). Used by
 * test_transport_ssh.c and test_tunnel.c.
 */
#ifndef FW_SSHD_FIXTURE_H
#define FW_SSHD_FIXTURE_H

#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SSHD_FIXTURE_MAX	4	/* servers in one fixture */

/*
 * One sshd, always on 127.0.0.1. Before sshd_fixture_start() the test may
 * set ipv6, and ll_host and ll_zone; sshd_fixture_start() sets port and
 * pid, and clears ll_host if that address cannot be bound.
 */
struct sshd_server {
	const char *name;	/* names its files: sshd_config.<name>, ... */
	const char *extra;	/* config lines, before the defaults (so win) */
	int ipv6;		/* also listen on [::1] */
	char ll_host[INET6_ADDRSTRLEN];	/* also listen on this%ll_zone */
	char ll_zone[IF_NAMESIZE];
	uint16_t port;
	pid_t pid;
};

struct sshd_fixture {
	char dir[64];
	char known_hosts[128];	/* the host key for every address */
	char client_key[128];	/* ed25519, in authorized_keys */
	char hostkey_line[256];	/* "ssh-ed25519 AAAA..." */
	struct sshd_server sshd[SSHD_FIXTURE_MAX];
	size_t nsshd;
};

/*
 * Adds a server to start; name and extra (config lines, NULL for none)
 * are kept, not copied. Returns the server, which lives in fx; abort()s
 * past SSHD_FIXTURE_MAX.
 */
struct sshd_server *sshd_fixture_add(struct sshd_fixture *fx,
    const char *name, const char *extra);

/*
 * Makes the directory from tmpl (for mkdtemp, "...XXXXXX"), the keys and
 * known_hosts, and starts every server added. Says what failed on
 * stderr (with the sshd's log). Returns 0 or -1; call sshd_fixture_stop()
 * either way.
 */
int sshd_fixture_start(struct sshd_fixture *fx, const char *tmpl);

/* Stops every sshd started (SIGTERM to its PID) and removes the
 * directory. */
void sshd_fixture_stop(struct sshd_fixture *fx);

/* Writes "<dir>/<name>" into buf; abort()s if it does not fit. */
void sshd_fixture_path(const struct sshd_fixture *fx, char *buf,
    size_t len, const char *name);

/* Writes the path of server d's log (its stdout and stderr) into buf. */
void sshd_fixture_log_path(const struct sshd_fixture *fx,
    const struct sshd_server *d, char *buf, size_t len);

/* Makes a new key pair path and path.pub of type ("ed25519", "ecdsa")
 * without a passphrase, with ssh-keygen. Returns 0 or -1. */
int sshd_fixture_keygen(const char *path, const char *type);

/* Writes the "type base64" part of the .pub file pubpath into out (out
 * may be pubpath). Returns 0 or -1. */
int sshd_fixture_pub_line(const char *pubpath, char *out, size_t len);

/* Writes text to path, mode 0600. Returns 0 or FW_ERR_SYSTEM. */
int sshd_fixture_write(const char *path, const char *text);

/* A port on 127.0.0.1 that was free a moment ago (bound to 0, learnt,
 * closed); 0 on error. */
uint16_t sshd_fixture_free_port(void);

#endif
