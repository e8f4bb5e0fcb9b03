/*
 * The controller's side of a node's control channel: mutual TLS to the
 * engine's port at the address SSH reached, framed protobuf messages, one
 * request in flight, a timer bounding each request.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "err.h"
#include "fleet.h"
#include "log.h"
#include "node.h"
#include "proto.h"
#include "tls.h"
#include "util.h"

static void arm_timer(struct node *n, unsigned timeout_s)
{
	struct timeval tv = { timeout_s ? (time_t)timeout_s :
	    fleet_opts(n->fleet)->talk_timeout_s, 0 };

	evtimer_add(n->timer, &tv);
}

/* Reports a channel failure: what went wrong and the detail. */
static void channel_failed(struct node *n, const char *what, const char *why)
{
	fw_snprintf(n->step_err, sizeof(n->step_err), "%s%s%s", what,
	    why[0] ? ": " : "", why);
	node_fsm(n, NEV_CHANNEL_FAILED);
}

/*
 * The engine started (SSH said so) but its port cannot be reached: a
 * firewall drops or rejects it. Says what the operator can do.
 */
static void port_blocked(struct node *n, const char *how)
{
	const struct fleet_opts *o = fleet_opts(n->fleet);

	if (n->via_agent) {
		fw_snprintf(n->step_err, sizeof(n->step_err), "no agent "
		    "answers on port %u (%s): install one with `fwfleet agent "
		    "install`, or use --via ssh", n->engine_port, how);
		node_fsm(n, NEV_CHANNEL_FAILED);
		return;
	}
	fw_snprintf(n->step_err, sizeof(n->step_err), "the engine is running "
	    "but its control port %u cannot be reached (%s), though SSH "
	    "works: %s", n->engine_port, how, o->open_firewall ?
	    "the node's own firewall was opened, so a firewall on the way "
	    "blocks it; use --tunnel to carry the engine's traffic inside "
	    "SSH" : "a firewall on the node or on the way blocks it; add "
	    "--open-firewall to open it for this session, or --tunnel to "
	    "carry the engine's traffic inside SSH");
	node_fsm(n, NEV_CHANNEL_FAILED);
}

/* An agent that may not be there (--via auto) gets 3 s at most. */
static unsigned connect_timeout(const struct node *n)
{
	const struct fleet_opts *o = fleet_opts(n->fleet);
	int t = o->ssh.connect_timeout_s;

	if (n->via_agent && o->via == VIA_AUTO && t > 3)
		t = 3;
	return (unsigned)t;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;
	char how[64];

	if (!n->channel_up && n->tun == NULL) {
		fw_snprintf(how, sizeof(how), "no answer in %u s",
		    connect_timeout(n));
		port_blocked(n, how);
		return;
	}
	channel_failed(n, "the engine did not answer in time", "");
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct node *n = arg;
	Fwfleet__EngineMsg *msg;
	int r;

	/* Handle every complete frame, as long as the channel that read them
	 * is still the node's (a reply may end the talk). */
	while (n->bev == bev) {
		r = proto_recv_engine(bufferevent_get_input(bev), &msg);
		if (r == FW_ERR_AGAIN)
			return;
		if (r != 0) {
			channel_failed(n, "bad message from the engine",
			    fw_strerror(r));
			return;
		}
		if (msg->id != n->inflight_id) {
			fwfleet__engine_msg__free_unpacked(msg, NULL);
			channel_failed(n, "the engine sent a reply nobody "
			    "asked for", "");
			return;
		}
		evtimer_del(n->timer);
		n->inflight_id = 0;
		n->reply = msg;
		node_fsm(n, NEV_REPLY);
		n->reply = NULL;
		fwfleet__engine_msg__free_unpacked(msg, NULL);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct node *n = arg;
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	char err[300];

	if (what & BEV_EVENT_CONNECTED) {
		if (n->via_agent) {
			socklen_t len = sizeof(n->local);

			if (node_agent_check(n, ssl, err, sizeof(err)) != 0) {
				channel_failed(n, "agent refused", err);
				return;
			}
			/* Where the agent reaches us (payload URLs): our end
			 * of this connection, as SSH's would be. */
			getsockname(bufferevent_getfd(bev),
			    (struct sockaddr *)&n->local, &len);
		} else if (tls_check_peer(ssl, fleet_session_id(n->fleet),
		    TLS_ROLE_ENGINE, err, sizeof(err)) != 0) {
			channel_failed(n, "the engine's certificate is not "
			    "for this session", err);
			return;
		}
		n->channel_up = 1;
		node_fsm(n, NEV_CHANNEL_UP);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		int e = EVUTIL_SOCKET_ERROR();

		tls_describe_error(ssl, err, sizeof(err));
		if (err[0] == '\0' && !n->channel_up && n->tun == NULL &&
		    (e == ECONNREFUSED || e == EHOSTUNREACH ||
		    e == ENETUNREACH || e == ETIMEDOUT)) {
			port_blocked(n, strerror(e));
			return;
		}
		if (n->channel_up && (e == ECONNRESET || e == EPIPE)) {
			channel_failed(n, "the engine dropped the control "
			    "channel (did it die, or was it killed?)",
			    strerror(e));
			return;
		}
		if (err[0] == '\0')
			fw_snprintf(err, sizeof(err), "%s", strerror(e));
		channel_failed(n, "control channel to the engine failed",
		    err);
	} else if (what & BEV_EVENT_EOF) {
		channel_failed(n, EVUTIL_SOCKET_ERROR() == ETIMEDOUT ?
		    "the connection to the engine timed out (is the network "
		    "to the node down?)" : "the engine closed the control "
		    "channel", "");
	}
}

static void set_port(struct node *n, struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(n->engine_port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(n->engine_port);
}

/*
 * A network cut leaves a request waiting for its whole timeout (an
 * installer's can be an hour): keepalive probes find a dead link sooner
 * (the tunnel's SSH connection then ends its pump, and the socket we
 * hold sees EOF),
 * within the talk timeout (at most 10 s idle) plus three probes 2 s apart.
 */
static void watch_link(struct node *n)
{
	/* With --tunnel the link is the SSH connection's. */
	int fd = n->tun != NULL ? transport_fd(n->tp) : bufferevent_getfd(n->bev);
	int on = 1, cnt = 3, intvl = 2;
	int idle = fleet_opts(n->fleet)->talk_timeout_s;
	unsigned user_ms;

	if (fd < 0)
		return;
	if (idle > 10)
		idle = 10;
	user_ms = (unsigned)(idle + cnt * intvl) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_ms,
	    sizeof(user_ms));
}

int node_control_open(struct node *n)
{
	struct event_base *base = fleet_base(n->fleet);
	struct sockaddr_storage ss = n->peer;
	int connected = n->channel_fd >= 0;
	SSL *ssl = NULL;

	if ((ssl = SSL_new(fleet_client_ctx(n->fleet))) == NULL ||
	    tls_expect_host(ssl, n->spec->addr.host) != 0) {
		SSL_free(ssl);
		fw_snprintf(n->step_err, sizeof(n->step_err), "cannot set "
		    "up TLS for the control channel");
		return FW_ERR_TLS;
	}
	n->timer = evtimer_new(base, on_timeout, n);
	/* --tunnel's pump, or the agent probe: connected already. */
	if (n->channel_fd >= 0)
		evutil_make_socket_nonblocking(n->channel_fd);
	n->bev = bufferevent_openssl_socket_new(base, n->channel_fd, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (n->bev != NULL)
		n->channel_fd = -1;
	if (n->timer == NULL || n->bev == NULL) {
		if (n->bev == NULL)
			SSL_free(ssl);
		fw_snprintf(n->step_err, sizeof(n->step_err), "out of memory");
		return FW_ERR_NOMEM;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(n->bev, 1);
	/* Read no more than one whole frame ahead. */
	bufferevent_setwatermark(n->bev, EV_READ, 0, FW_MSG_MAX + 4);
	bufferevent_setcb(n->bev, on_read, NULL, on_event, n);
	bufferevent_enable(n->bev, EV_READ | EV_WRITE);
	set_port(n, &ss);
	/* Connect and handshake within the connect timeout: a firewall that
	 * drops the port shows quickly, not after the talk timeout. */
	arm_timer(n, connect_timeout(n));
	if (n->tun != NULL || connected) {
		watch_link(n);
		return 0;
	}
	/* An immediate failure is also raised through on_event, which
	 * reports it; the caller's cleanup is then a no-op. */
	if (bufferevent_socket_connect(n->bev, (struct sockaddr *)&ss,
	    (int)n->peer_len) != 0) {
		fw_snprintf(n->step_err, sizeof(n->step_err), "cannot connect "
		    "to the engine on port %u: %s", n->engine_port,
		    strerror(errno));
		return FW_ERR_SYSTEM;
	}
	watch_link(n);
	return 0;
}

int node_control_send(struct node *n, Fwfleet__ControllerMsg *msg,
    unsigned timeout_s)
{
	int r;

	msg->id = n->next_id++;
	n->inflight_id = msg->id;
	if ((r = proto_send_controller(bufferevent_get_output(n->bev),
	    msg)) != 0)
		return r;
	arm_timer(n, timeout_s);
	return 0;
}

int node_control_notify(struct node *n, Fwfleet__ControllerMsg *msg)
{
	if (n->bev == NULL)
		return FW_ERR_EOF;
	msg->id = n->next_id++;
	return proto_send_controller(bufferevent_get_output(n->bev), msg);
}

void node_control_close(struct node *n)
{
	if (n->bev != NULL) {
		bufferevent_free(n->bev);
		n->bev = NULL;
	}
	if (n->timer != NULL) {
		event_free(n->timer);
		n->timer = NULL;
	}
}
