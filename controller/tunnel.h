/*
 * --tunnel: all engine traffic inside the node's SSH connection, so only
 * SSH needs to reach the node and the node needs no route back to us.
 * Mutual TLS runs inside, end to end, as without the tunnel.
 *
 *   controller -> engine   a direct-tcpip channel to 127.0.0.1:<engine
 *                          port> on the node, handed out as a socket
 *   engine -> controller   the node's sshd listens on its 127.0.0.1 (a
 *                          port it picks); each connection there becomes a
 *                          TCP connection from us to our HTTPS server
 *
 * Between tunnel_start and tunnel_close one pump thread moves the bytes,
 * and it is then the only thread touching the transport's SSH session:
 * the caller must not use the transport until tunnel_close returns.
 * The SSH connection dying ends the pump; every socket it handed out then
 * sees EOF or an error.
 */
#ifndef FW_TUNNEL_H
#define FW_TUNNEL_H

#include <stdint.h>
#include <sys/socket.h>

struct transport;
struct tunnel;

/*
 * On the thread that owns t (an SSH transport): when https is not NULL,
 * asks the node's sshd to listen on its 127.0.0.1 (a port of its choice)
 * and to forward what connects there; the pump will connect each such
 * connection to https (a local address of our HTTPS server, e.g.
 * 127.0.0.1:63002; copied). *remote_port is the port on the node, 0
 * when https is NULL (the tunnel then only carries the control channel).
 * On success *out is the tunnel, which the caller frees with
 * tunnel_close (t must outlive it). Returns 0, FW_ERR_INVALID,
 * FW_ERR_UNSUPPORTED (the node's sshd refuses forwarding), FW_ERR_SSH or
 * FW_ERR_SYSTEM, with err saying why and what to do.
 */
int tunnel_open(struct transport *t, const struct sockaddr *https,
    socklen_t https_len, uint16_t *remote_port, struct tunnel **out,
    char *err, size_t errlen);

/*
 * On the thread that owns the transport: opens the control channel to
 * 127.0.0.1:engine_port on the node and starts the pump. *fd is our end
 * of a connected stream socket (blocking, close-on-exec; the caller owns
 * it): bytes written to it reach the engine, the engine's bytes can be
 * read from it, shutdown(SHUT_WR) sends EOF to the engine and close()
 * closes the channel. Returns 0, FW_ERR_INVALID (also when called twice),
 * FW_ERR_UNSUPPORTED (sshd refuses forwarding), FW_ERR_SSH (e.g. nothing
 * listens on the port) or FW_ERR_SYSTEM; after a failure the caller may
 * try again or call tunnel_close.
 */
int tunnel_start(struct tunnel *tn, uint16_t engine_port, int *fd,
    char *err, size_t errlen);

/*
 * Stops the pump (joins it; it notices at once), closes every channel
 * and our ends of their sockets, cancels the remote forward and frees
 * tn. Blocks for at most one round trip to the node (bounded by the SSH
 * timeout); skips what a dead connection cannot do. Afterwards the
 * transport may be used for exec again. NULL is a no-op. Safe whether or
 * not tunnel_start ran, and after the connection died.
 */
void tunnel_close(struct tunnel *tn);

struct tunnel_stats {
	uint64_t to_node;	/* bytes written into channels */
	uint64_t from_node;	/* bytes read from channels */
	unsigned accepted;	/* forwarded connections served */
	unsigned refused;	/* turned away: over the limit, or our HTTPS
				 * server could not be reached */
	int dead;		/* the SSH connection died under the pump */
};

/* Counters for debug logs; any thread, any time before tunnel_close. */
void tunnel_get_stats(struct tunnel *tn, struct tunnel_stats *st);

#endif
