/*
 * The controller's side of a node's control channel: mutual TLS to the
 * engine's port at the address SSH reached, framed protobuf messages, one
 * request in flight, a timer bounding each request.
 */
#include <errno.h>
#include <netinet/in.h>
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

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct node *n = arg;

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
		if (tls_check_peer(ssl, fleet_session_id(n->fleet),
		    TLS_ROLE_ENGINE, err, sizeof(err)) != 0) {
			channel_failed(n, "the engine's certificate is not "
			    "for this session", err);
			return;
		}
		node_fsm(n, NEV_CHANNEL_UP);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		tls_describe_error(ssl, err, sizeof(err));
		if (err[0] == '\0')
			fw_snprintf(err, sizeof(err), "%s", strerror(errno));
		channel_failed(n, "control channel to the engine failed",
		    err);
	} else if (what & BEV_EVENT_EOF) {
		channel_failed(n, "the engine closed the control channel",
		    "");
	}
}

static void set_port(struct node *n, struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(n->engine_port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(n->engine_port);
}

int node_control_open(struct node *n)
{
	struct event_base *base = fleet_base(n->fleet);
	struct sockaddr_storage ss = n->peer;
	SSL *ssl = NULL;

	if ((ssl = SSL_new(fleet_client_ctx(n->fleet))) == NULL ||
	    tls_expect_host(ssl, n->spec->addr.host) != 0) {
		SSL_free(ssl);
		fw_snprintf(n->step_err, sizeof(n->step_err), "cannot set "
		    "up TLS for the control channel");
		return FW_ERR_TLS;
	}
	n->timer = evtimer_new(base, on_timeout, n);
	n->bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
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
	arm_timer(n, 0);
	/* An immediate failure is also raised through on_event, which
	 * reports it; the caller's cleanup is then a no-op. */
	if (bufferevent_socket_connect(n->bev, (struct sockaddr *)&ss,
	    (int)n->peer_len) != 0) {
		fw_snprintf(n->step_err, sizeof(n->step_err), "cannot connect "
		    "to the engine on port %u: %s", n->engine_port,
		    strerror(errno));
		return FW_ERR_SYSTEM;
	}
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
