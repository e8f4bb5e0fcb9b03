/*
 * The SSH side of --tunnel (tunnel.h) on libssh 0.10.
 *
 * One pump thread per tunnel, alone with the session while it runs, which
 * it puts in non-blocking mode. Each round it polls a stop eventfd, the
 * SSH socket and every local socket, lets libssh read and write the SSH
 * socket (ssh_event_dopoll), accepts forwarded channels, and moves what
 * each connection can:
 *
 *	local socket -> up buffer -> channel
 *	channel -> down buffer -> local socket
 *
 * A channel gets no more than its remote window, and only in rounds that
 * start with libssh's output buffer empty, so libssh never holds more than
 * one of our buffers per connection. A full buffer stops reading from its
 * source: the local
 * socket's sender blocks, or our channel window closes and the node's
 * sender waits. So memory per connection is the two buffers here plus
 * libssh's receive window (about 1.25 MB). EOF crosses in each direction
 * (ssh_channel_send_eof, shutdown(SHUT_WR)) once the buffer in between is
 * empty. A connection ends when both directions have ended, when the node
 * closes the channel (after what it sent is delivered), or when the local
 * peer is gone (after what it sent is passed on). The pump only sleeps in
 * poll() after a round that moved nothing.
 */
#include "tunnel.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include "err.h"
#include "log.h"
#include "transport_ssh.h"
#include "util.h"

#define TUNNEL_BUF		(128 * 1024)	/* per direction */
#define TUNNEL_MAX_FWD		32		/* forwarded connections */
#define TUNNEL_MAX_CONNS	(1 + TUNNEL_MAX_FWD)
#define TUNNEL_IDLE_MS		100		/* longest sleep */
#define TUNNEL_ACCEPT_MAX	8		/* per round */
#define TUNNEL_DRAIN_MAX	64		/* late ones, at close */
#define TUNNEL_LOOPBACK		"127.0.0.1"
/* libssh's text for SSH2_OPEN_ADMINISTRATIVELY_PROHIBITED */
#define OPEN_PROHIBITED		"error (1)"

struct tbuf {
	char *p;
	size_t off;		/* first byte not passed on yet */
	size_t len;		/* end of the data */
};

struct tconn {
	ssh_channel ch;
	struct ssh_channel_callbacks_struct cb;
	int fd;			/* our end of the local socket */
	int control;		/* the control channel, else forwarded */
	int connecting;		/* to our HTTPS server, not done yet */
	int hup;		/* poll said POLLHUP or POLLERR */
	int fd_eof;		/* the local peer sent EOF */
	int fd_gone;		/* the local peer reads no more */
	int ch_eof;		/* the node's EOF, all data before it read */
	int ch_closed;		/* the node closed the channel */
	int eof_sent;		/* EOF sent into the channel */
	int shut_wr;		/* EOF passed to the local peer */
	int abort;		/* end now, dropping what is buffered */
	struct tbuf up;		/* local -> node */
	struct tbuf down;	/* node -> local */
};

struct tunnel {
	ssh_session s;
	const char *host;	/* for messages; owned by the transport */
	struct sockaddr_storage https;
	socklen_t https_len;
	uint16_t remote_port;	/* on the node; 0: no forward */
	int stopfd;		/* eventfd: readable = stop */
	pthread_t tid;
	int running;		/* the pump was started */
	struct tconn *conns[TUNNEL_MAX_CONNS];
	int nconns;
	int nfwd;		/* forwarded ones among conns */
	int https_warned;	/* said it could not reach our server */
	atomic_uint_least64_t to_node;
	atomic_uint_least64_t from_node;
	atomic_uint accepted;
	atomic_uint refused;
	atomic_int dead;
};

/* --- buffers and connections ------------------------------------------ */

static size_t tbuf_pending(const struct tbuf *b)
{
	return b->len - b->off;
}

/* Room at the end, moving the pending bytes to the front when short. */
static size_t tbuf_room(struct tbuf *b)
{
	if (b->off == b->len) {
		b->off = b->len = 0;
	} else if (b->off > 0 && TUNNEL_BUF - b->len < TUNNEL_BUF / 2) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	return TUNNEL_BUF - b->len;
}

static void on_channel_close(ssh_session s, ssh_channel ch, void *userdata)
{
	struct tconn *c = userdata;

	c->ch_closed = 1;
}

static struct tconn *conn_new(ssh_channel ch, int fd)
{
	struct tconn *c = xcalloc(1, sizeof(*c));

	c->ch = ch;
	c->fd = fd;
	c->up.p = xmalloc(TUNNEL_BUF);
	c->down.p = xmalloc(TUNNEL_BUF);
	c->cb.userdata = c;
	c->cb.channel_close_function = on_channel_close;
	ssh_callbacks_init(&c->cb);
	if (ssh_set_channel_callbacks(ch, &c->cb) != SSH_OK)
		fatal("cannot set libssh channel callbacks");
	return c;
}

/* Closes our socket and the channel (libssh sends the CLOSE it owes). */
static void conn_free(struct tconn *c)
{
	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	ssh_remove_channel_callbacks(c->ch, &c->cb);
	ssh_channel_free(c->ch);
	free(c->up.p);
	free(c->down.p);
	free(c);
}

static void conns_free(struct tunnel *tn)
{
	int i;

	for (i = 0; i < tn->nconns; i++)
		conn_free(tn->conns[i]);
	tn->nconns = tn->nfwd = 0;
}

static int conn_done(const struct tconn *c)
{
	if (c->abort)
		return 1;
	return (c->eof_sent || c->ch_closed) && (c->shut_wr || c->fd_gone);
}

static void conn_gone(struct tconn *c)
{
	c->fd_eof = c->fd_gone = 1;
	c->down.off = c->down.len = 0;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ? -1 : 0;
}

static int session_dead(ssh_session s)
{
	return !ssh_is_connected(s) ||
	    (ssh_get_status(s) & (SSH_CLOSED | SSH_CLOSED_ERROR)) != 0;
}

/* --- one connection's round -------------------------------------------- */

/* The local peer: into the up buffer. */
static int conn_read_fd(struct tconn *c, short rev)
{
	size_t room;
	ssize_t n;

	if (c->fd_eof || c->ch_closed || (!(rev & POLLIN) && !c->hup) ||
	    (room = tbuf_room(&c->up)) == 0)
		return 0;
	n = recv(c->fd, c->up.p + c->up.len, room, 0);
	if (n > 0) {
		c->up.len += (size_t)n;
		return 1;
	}
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK ||
	    errno == EINTR))
		return 0;
	if (n < 0)
		conn_gone(c);		/* reset: it reads no more either */
	c->fd_eof = 1;
	return 1;
}

/* The up buffer into the channel, within the window; then EOF. */
static int conn_write_ch(struct tunnel *tn, struct tconn *c, int ssh_busy)
{
	size_t n = tbuf_pending(&c->up);
	uint32_t win;
	int w;

	if (c->ch_closed || c->eof_sent)
		return 0;
	if (n == 0) {
		if (!c->fd_eof)
			return 0;
		c->eof_sent = 1;
		if (ssh_channel_send_eof(c->ch) == SSH_ERROR)
			c->ch_closed = 1;
		return 1;
	}
	if (ssh_busy || (win = ssh_channel_window_size(c->ch)) == 0)
		return 0;
	if (n > win)
		n = win;
	if ((w = ssh_channel_write(c->ch, c->up.p + c->up.off,
	    (uint32_t)n)) < 0) {
		c->ch_closed = 1;	/* the node closed it meanwhile */
		return 1;
	}
	c->up.off += (size_t)w;
	atomic_fetch_add_explicit(&tn->to_node, (uint64_t)w,
	    memory_order_relaxed);
	return w > 0;
}

/* The channel into the down buffer. */
static int conn_read_ch(struct tunnel *tn, struct tconn *c)
{
	size_t room;
	int n;

	if (c->ch_eof || c->fd_gone || (room = tbuf_room(&c->down)) == 0)
		return 0;
	n = ssh_channel_read_nonblocking(c->ch, c->down.p + c->down.len,
	    (uint32_t)room, 0);
	if (n == 0)
		return 0;
	if (n < 0) {
		c->ch_eof = 1;		/* SSH_EOF, or nothing more to come */
		return 1;
	}
	c->down.len += (size_t)n;
	atomic_fetch_add_explicit(&tn->from_node, (uint64_t)n,
	    memory_order_relaxed);
	return 1;
}

/* The down buffer into the local peer; then EOF. */
static int conn_write_fd(struct tconn *c)
{
	size_t n = tbuf_pending(&c->down);
	ssize_t w;

	if (c->fd_gone)
		return 0;
	if (n == 0) {
		if (!c->ch_eof || c->shut_wr)
			return 0;
		c->shut_wr = 1;
		(void)shutdown(c->fd, SHUT_WR);
		return 1;
	}
	w = send(c->fd, c->down.p + c->down.off, n, MSG_NOSIGNAL);
	if (w >= 0) {
		c->down.off += (size_t)w;
		return w > 0;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	conn_gone(c);
	return 1;
}

/* Our HTTPS server is unreachable: said once per tunnel, then counted. */
static void https_failed(struct tunnel *tn, int e)
{
	log_msg(tn->https_warned ? LOG_LVL_DEBUG : LOG_LVL_WARN, "%s: "
	    "--tunnel: cannot connect to our HTTPS server: %s", tn->host,
	    strerror(e));
	tn->https_warned = 1;
	atomic_fetch_add(&tn->refused, 1);
}

/* A forwarded connection's TCP connect to our HTTPS server ended. */
static int conn_connected(struct tunnel *tn, struct tconn *c, short rev)
{
	socklen_t len = sizeof(int);
	int e = 0;

	if (!(rev & (POLLOUT | POLLERR | POLLHUP)))
		return 0;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
		e = errno;
	if (e != 0) {
		https_failed(tn, e);
		c->abort = 1;
		return 1;
	}
	c->connecting = 0;
	atomic_fetch_add(&tn->accepted, 1);
	return 1;
}

static int conn_step(struct tunnel *tn, struct tconn *c, short rev,
    int ssh_busy)
{
	int moved = 0;

	if (c->connecting)
		return conn_connected(tn, c, rev);
	if (rev & (POLLHUP | POLLERR))
		c->hup = 1;
	moved |= conn_read_fd(c, rev);
	moved |= conn_write_ch(tn, c, ssh_busy);
	moved |= conn_read_ch(tn, c);
	moved |= conn_write_fd(c);
	/* POLLHUP after EOF: the peer closed its end entirely. */
	if (c->hup && c->fd_eof && !c->fd_gone) {
		conn_gone(c);
		moved = 1;
	}
	return moved;
}

/* What to poll the local socket for; -1: not at all. */
static void conn_pollfd(const struct tconn *c, struct pollfd *p)
{
	p->fd = c->fd;
	p->events = 0;
	p->revents = 0;
	if (c->connecting) {
		p->events = POLLOUT;
		return;
	}
	/* Once hung up, POLLHUP would wake every poll: the socket is tried
	 * each round anyway, and only the SSH side can unblock it. */
	if (c->fd_gone || c->hup) {
		p->fd = -1;
		return;
	}
	if (!c->fd_eof && !c->ch_closed &&
	    tbuf_pending(&c->up) < TUNNEL_BUF)
		p->events |= POLLIN;
	if (tbuf_pending(&c->down) > 0)
		p->events |= POLLOUT;
}

/* --- forwarded connections ---------------------------------------------- */

/* A non-blocking TCP connection to our HTTPS server; -1 with errno. */
static int https_connect(struct tunnel *tn, int *connecting)
{
	int fd, one = 1, e;

	*connecting = 0;
	if ((fd = socket(tn->https.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (tn->https.ss_family != AF_UNIX)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	if (connect(fd, (struct sockaddr *)&tn->https, tn->https_len) == 0)
		return fd;
	if (errno == EINPROGRESS || errno == EINTR) {
		*connecting = 1;
		return fd;
	}
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* Takes ch: serves it, or closes it when over the limit or unreachable. */
static void fwd_add(struct tunnel *tn, ssh_channel ch)
{
	struct tconn *c;
	int fd = -1, connecting = 0;

	if (tn->nfwd >= TUNNEL_MAX_FWD) {
		log_debug("%s: --tunnel: %d forwarded connections already; "
		    "refusing one more", tn->host, tn->nfwd);
		atomic_fetch_add(&tn->refused, 1);
	} else if ((fd = https_connect(tn, &connecting)) < 0) {
		https_failed(tn, errno);
	}
	if (fd < 0) {
		ssh_channel_close(ch);
		ssh_channel_free(ch);
		return;
	}
	c = conn_new(ch, fd);
	c->connecting = connecting;
	if (!connecting)
		atomic_fetch_add(&tn->accepted, 1);
	tn->conns[tn->nconns++] = c;
	tn->nfwd++;
}

/* The next forwarded channel libssh has queued, accepted; or NULL. */
static ssh_channel fwd_next(ssh_session s)
{
	ssh_channel ch;
	char *orig = NULL;
	int dport = 0, oport = 0;

	/* timeout 0: one non-blocking look at the socket, no sleep */
	ch = ssh_channel_open_forward_port(s, 0, &dport, &orig, &oport);
	ssh_string_free_char(orig);
	return ch;
}

static int pump_accept(struct tunnel *tn)
{
	ssh_channel ch;
	int n;

	if (tn->remote_port == 0)
		return 0;
	for (n = 0; n < TUNNEL_ACCEPT_MAX && (ch = fwd_next(tn->s)) != NULL;
	    n++)
		fwd_add(tn, ch);
	return n > 0;
}

/* --- the pump ----------------------------------------------------------- */

/* Sleeps until something may move, or ms pass; returns 1 to stop. */
static int pump_wait(struct tunnel *tn, struct pollfd *pfd, int ms)
{
	int i, n = 2;

	pfd[0].fd = tn->stopfd;
	pfd[0].events = POLLIN;
	pfd[1].fd = ssh_get_fd(tn->s);
	pfd[1].events = POLLIN;
	if (ssh_get_status(tn->s) & SSH_WRITE_PENDING)
		pfd[1].events |= POLLOUT;
	for (i = 0; i < tn->nconns; i++)
		conn_pollfd(tn->conns[i], &pfd[n++]);
	for (i = 0; i < n; i++)
		pfd[i].revents = 0;
	if (poll(pfd, (nfds_t)n, ms) < 0 && errno != EINTR)
		log_debug("%s: --tunnel: poll: %s", tn->host,
		    strerror(errno));
	return (pfd[0].revents & POLLIN) != 0;
}

/* Frees the connections that are done, keeping the others in order. */
static void pump_reap(struct tunnel *tn)
{
	struct tconn *c;
	int i, j;

	for (i = j = 0; i < tn->nconns; i++) {
		c = tn->conns[i];
		if (!conn_done(c)) {
			tn->conns[j++] = c;
			continue;
		}
		if (!c->control)
			tn->nfwd--;
		conn_free(c);
	}
	tn->nconns = j;
}

/* One round over every connection; returns whether anything moved. */
static int pump_round(struct tunnel *tn, const struct pollfd *pfd)
{
	int npolled = tn->nconns, busy, moved, i;

	moved = pump_accept(tn);
	busy = (ssh_get_status(tn->s) & SSH_WRITE_PENDING) != 0;
	for (i = 0; i < tn->nconns; i++)
		moved |= conn_step(tn, tn->conns[i],
		    i < npolled ? pfd[2 + i].revents : 0, busy);
	pump_reap(tn);
	return moved;
}

static void *pump_main(void *arg)
{
	struct tunnel *tn = arg;
	struct pollfd pfd[2 + TUNNEL_MAX_CONNS];
	ssh_event ev;
	int moved = 1;

	if ((ev = ssh_event_new()) == NULL ||
	    ssh_event_add_session(ev, tn->s) != SSH_OK) {
		log_warn("%s: --tunnel: cannot poll the SSH session",
		    tn->host);
		atomic_store(&tn->dead, 1);
	}
	while (!atomic_load(&tn->dead)) {
		if (pump_wait(tn, pfd, moved ? 0 : TUNNEL_IDLE_MS))
			break;
		(void)ssh_event_dopoll(ev, 0);
		if (!session_dead(tn->s))
			moved = pump_round(tn, pfd);
		if (session_dead(tn->s)) {
			log_debug("%s: --tunnel: the SSH connection died: %s",
			    tn->host, ssh_get_error(tn->s));
			atomic_store(&tn->dead, 1);
		}
	}
	/* Every local socket now sees EOF: the caller reports the node. */
	if (atomic_load(&tn->dead))
		conns_free(tn);
	if (ev != NULL) {
		ssh_event_remove_session(ev, tn->s);
		ssh_event_free(ev);
	}
	return NULL;
}

/* --- the interface ------------------------------------------------------ */

#define REFUSED_FMT	"sshd on %s refuses port forwarding " \
    "(AllowTcpForwarding); --tunnel needs it: set AllowTcpForwarding yes " \
    "in the node's sshd_config, and drop 'restrict' or " \
    "'no-port-forwarding' from the key's line in authorized_keys"

static int forward_listen(struct tunnel *tn, char *err, size_t errlen)
{
	int bound = 0;

	if (ssh_channel_listen_forward(tn->s, TUNNEL_LOOPBACK, 0, &bound) !=
	    SSH_OK) {
		if (ssh_get_error_code(tn->s) == SSH_REQUEST_DENIED) {
			(void)fw_snprintf(err, errlen, REFUSED_FMT, tn->host);
			return FW_ERR_UNSUPPORTED;
		}
		(void)fw_snprintf(err, errlen, "cannot ask sshd on %s to "
		    "forward a port: %s", tn->host, ssh_get_error(tn->s));
		return FW_ERR_SSH;
	}
	if (bound <= 0 || bound > 65535) {
		(void)fw_snprintf(err, errlen, "sshd on %s forwards a port "
		    "but did not say which", tn->host);
		return FW_ERR_SSH;
	}
	tn->remote_port = (uint16_t)bound;
	return 0;
}

/* Cancels the forward and turns away what came in since the pump ended. */
static void forward_cancel(struct tunnel *tn)
{
	ssh_channel ch;
	int i;

	if (ssh_channel_cancel_forward(tn->s, TUNNEL_LOOPBACK,
	    tn->remote_port) != SSH_OK)
		log_debug("%s: --tunnel: cannot cancel the forward of port "
		    "%u: %s", tn->host, tn->remote_port,
		    ssh_get_error(tn->s));
	for (i = 0; i < TUNNEL_DRAIN_MAX && (ch = fwd_next(tn->s)) != NULL;
	    i++) {
		ssh_channel_close(ch);
		ssh_channel_free(ch);
	}
}

int tunnel_open(struct transport *t, const struct sockaddr *https,
    socklen_t https_len, uint16_t *remote_port, struct tunnel **out,
    char *err, size_t errlen)
{
	struct tunnel *tn = NULL;
	int r = FW_ERR_INVALID;

	if (out != NULL)
		*out = NULL;
	if (remote_port != NULL)
		*remote_port = 0;
	if (t == NULL || remote_port == NULL || out == NULL ||
	    (https != NULL && (https_len < sizeof(sa_family_t) ||
	    https_len > sizeof(struct sockaddr_storage)))) {
		(void)fw_snprintf(err, errlen, "tunnel_open: invalid "
		    "arguments");
		goto out;
	}
	tn = xcalloc(1, sizeof(*tn));
	tn->s = transport_ssh_session(t);
	tn->host = transport_ssh_host(t);
	if ((tn->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
		(void)fw_snprintf(err, errlen, "--tunnel: eventfd: %s",
		    strerror(errno));
		r = FW_ERR_SYSTEM;
		goto out;
	}
	if (https != NULL) {
		memcpy(&tn->https, https, https_len);
		tn->https_len = https_len;
		if ((r = forward_listen(tn, err, errlen)) != 0)
			goto out;
	}
	*remote_port = tn->remote_port;
	*out = tn;
	tn = NULL;
	r = 0;
out:
	tunnel_close(tn);
	return r;
}

/* Opens the direct-tcpip channel to the engine's port on the node. */
static int control_open(struct tunnel *tn, uint16_t port, ssh_channel *out,
    char *err, size_t errlen)
{
	ssh_channel ch;
	const char *why;
	int r = FW_ERR_SSH;

	*out = NULL;
	if ((ch = ssh_channel_new(tn->s)) == NULL) {
		(void)fw_snprintf(err, errlen, "cannot open an SSH channel on "
		    "%s: %s", tn->host, ssh_get_error(tn->s));
		return FW_ERR_SSH;
	}
	if (ssh_channel_open_forward(ch, TUNNEL_LOOPBACK, port,
	    TUNNEL_LOOPBACK, 0) == SSH_OK) {
		*out = ch;
		return 0;
	}
	why = ssh_get_error(tn->s);
	if (ssh_get_error_code(tn->s) != SSH_REQUEST_DENIED) {
		(void)fw_snprintf(err, errlen, "cannot open an SSH channel on "
		    "%s: %s", tn->host, why);
	} else if (strstr(why, OPEN_PROHIBITED) != NULL) {
		(void)fw_snprintf(err, errlen, REFUSED_FMT, tn->host);
		r = FW_ERR_UNSUPPORTED;
	} else {
		(void)fw_snprintf(err, errlen, "sshd on %s cannot reach the "
		    "engine at %s:%u (%s); is it running?", tn->host,
		    TUNNEL_LOOPBACK, port, why);
	}
	ssh_channel_free(ch);
	return r;
}

int tunnel_start(struct tunnel *tn, uint16_t engine_port, int *fd,
    char *err, size_t errlen)
{
	ssh_channel ch = NULL;
	int sv[2] = { -1, -1 }, r = FW_ERR_INVALID, e;

	if (fd != NULL)
		*fd = -1;
	if (tn == NULL || fd == NULL || engine_port == 0 || tn->running) {
		(void)fw_snprintf(err, errlen, "tunnel_start: invalid "
		    "arguments");
		goto out;
	}
	if ((r = control_open(tn, engine_port, &ch, err, errlen)) != 0)
		goto out;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0 ||
	    set_nonblock(sv[0]) != 0) {
		(void)fw_snprintf(err, errlen, "--tunnel: socketpair: %s",
		    strerror(errno));
		r = FW_ERR_SYSTEM;
		goto out;
	}
	tn->conns[tn->nconns] = conn_new(ch, sv[0]);
	tn->conns[tn->nconns]->control = 1;
	tn->nconns++;
	ch = NULL;
	sv[0] = -1;
	/* The pump's from here on: it must never wait inside libssh. */
	ssh_set_blocking(tn->s, 0);
	if ((e = pthread_create(&tn->tid, NULL, pump_main, tn)) != 0) {
		ssh_set_blocking(tn->s, 1);
		conn_free(tn->conns[--tn->nconns]);
		(void)fw_snprintf(err, errlen, "--tunnel: cannot start a "
		    "thread: %s", strerror(e));
		r = FW_ERR_SYSTEM;
		goto out;
	}
	tn->running = 1;
	*fd = sv[1];
	sv[1] = -1;
	r = 0;
out:
	if (ch != NULL)
		ssh_channel_free(ch);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	return r;
}

void tunnel_close(struct tunnel *tn)
{
	if (tn == NULL)
		return;
	if (tn->running) {
		(void)eventfd_write(tn->stopfd, 1);
		pthread_join(tn->tid, NULL);
		ssh_set_blocking(tn->s, 1);
	}
	/* libssh skips the packets a dead session cannot send. */
	conns_free(tn);
	if (tn->remote_port != 0 && !session_dead(tn->s))
		forward_cancel(tn);
	if (tn->stopfd >= 0)
		close(tn->stopfd);
	free(tn);
}

void tunnel_get_stats(struct tunnel *tn, struct tunnel_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (tn == NULL)
		return;
	st->to_node = atomic_load_explicit(&tn->to_node,
	    memory_order_relaxed);
	st->from_node = atomic_load_explicit(&tn->from_node,
	    memory_order_relaxed);
	st->accepted = atomic_load(&tn->accepted);
	st->refused = atomic_load(&tn->refused);
	st->dead = atomic_load(&tn->dead);
}
