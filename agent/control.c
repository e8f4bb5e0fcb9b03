/*
 * The engine's side of the control channel: mutual-TLS connections from the
 * controller, one framed ControllerMsg at a time, dispatched on its case.
 * The dispatcher frees each message; handlers never do.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "deploy.h"
#include "engine.h"
#include "err.h"
#include "firewall.h"
#include "inventory.h"
#include "log.h"
#include "pki.h"
#include "platform.h"
#include "proto.h"
#include "tls.h"
#include "util.h"

#define HANDSHAKE_TIMEOUT_S	15

struct conn {
	struct engine *e;
	struct bufferevent *bev;
	struct event *deadline;	/* until Hello: a fixed handshake deadline */
	int slot;
	int hello_done;
	int stop_after_flush;	/* Shutdown answered: stop once it is sent */
	const char *closing;	/* close once the output is sent, and why */
};

static void conn_close(struct conn *c, const char *why)
{
	struct engine *e;
	int stop;

	if (c == NULL)
		return;
	if (why != NULL)
		log_info("control connection closed: %s", why);
	e = c->e;
	/* Shutdown was asked for: stop even if the reply could not be sent
	 * (the work directory, and its pid file, are gone already). */
	stop = c->stop_after_flush;
	if (e->op_conn == c) {
		/* Nobody will take the staged files; an installer that runs
		 * is let finish (it may be flashing a device). */
		e->op_conn = NULL;
		deploy_cancel(e->deploy, 0);
	}
	e->conns[c->slot] = NULL;
	if (c->deadline != NULL)
		event_free(c->deadline);
	bufferevent_free(c->bev);
	free(c);
	if (stop)
		engine_stop(e, 1, "shutdown requested by the controller");
}

void control_close_all(struct engine *e)
{
	int i;

	for (i = 0; i < ENGINE_MAX_CONNS; i++)
		conn_close(e->conns[i], NULL);
}

/* Stops reading and closes c once everything queued has been sent. */
static void conn_finish(struct conn *c, const char *why)
{
	c->closing = why;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		conn_close(c, why);
}

static int reply(struct conn *c, Fwfleet__EngineMsg *m)
{
	int r = proto_send_engine(bufferevent_get_output(c->bev), m);

	if (r != 0)
		log_error("cannot send reply: %s", fw_strerror(r));
	return r;
}

static int reply_error(struct conn *c, uint32_t id, int code, const char *msg)
{
	Fwfleet__EngineMsg m = FWFLEET__ENGINE_MSG__INIT;
	Fwfleet__Error er = FWFLEET__ERROR__INIT;

	er.code = code;
	er.message = (char *)msg;
	m.id = id;
	m.msg_case = FWFLEET__ENGINE_MSG__MSG_ERROR;
	m.error = &er;
	return reply(c, &m);
}

void control_reply_later(struct engine *e, uint32_t id,
    Fwfleet__EngineMsg *msg)
{
	struct conn *c = e->op_conn;

	e->op_conn = NULL;
	if (c == NULL) {
		log_warn("the controller is gone; reply to request %u dropped",
		    id);
		return;
	}
	msg->id = id;
	reply(c, msg);
}

/*
 * Stage and Install that cannot start fail that component, not the talk:
 * the controller goes on with the others. Only a busy engine (a protocol
 * error by the controller) is refused outright.
 */
static int handle_stage(struct conn *c, uint32_t id,
    Fwfleet__StageRequest *req)
{
	Fwfleet__EngineMsg m = FWFLEET__ENGINE_MSG__INIT;
	Fwfleet__StageReply sr = FWFLEET__STAGE_REPLY__INIT;
	char err[512] = "deploying is not available on this engine (see its "
	    "log)";
	int r = FW_ERR_UNSUPPORTED;

	engine_zone_urls(c->e, req->base_urls, req->n_base_urls);
	if (c->e->deploy != NULL &&
	    (r = deploy_stage(c->e->deploy, id, req, err, sizeof(err))) == 0) {
		c->e->op_conn = c;
		return 0;
	}
	if (r == FW_ERR_AGAIN)
		return reply_error(c, id, r, err);
	sr.error = err;
	m.id = id;
	m.msg_case = FWFLEET__ENGINE_MSG__MSG_STAGE;
	m.stage = &sr;
	return reply(c, &m);
}

static int handle_install(struct conn *c, uint32_t id,
    const Fwfleet__InstallRequest *req)
{
	Fwfleet__EngineMsg m = FWFLEET__ENGINE_MSG__INIT;
	Fwfleet__InstallReply ir = FWFLEET__INSTALL_REPLY__INIT;
	char err[512] = "deploying is not available on this engine (see its "
	    "log)";
	int r = FW_ERR_UNSUPPORTED;

	if (c->e->deploy != NULL &&
	    (r = deploy_install(c->e->deploy, id, req, err, sizeof(err))) == 0) {
		c->e->op_conn = c;
		return 0;
	}
	if (r == FW_ERR_AGAIN)
		return reply_error(c, id, r, err);
	ir.outcome = FWFLEET__INSTALL_OUTCOME__OUTCOME_FAILED;
	ir.exit_code = -1;
	ir.error = err;
	m.id = id;
	m.msg_case = FWFLEET__ENGINE_MSG__MSG_INSTALL;
	m.install = &ir;
	return reply(c, &m);
}

static int handle_hello(struct conn *c, uint32_t id, const Fwfleet__Hello *h)
{
	static char *caps[] = { "inventory", "diag", "shutdown", "stage",
	    "install", "cancel", "reboot" };
	Fwfleet__EngineMsg m = FWFLEET__ENGINE_MSG__INIT;
	Fwfleet__Hello me = FWFLEET__HELLO__INIT;

	if (h->protocol_version != FW_PROTOCOL_VERSION) {
		char msg[128];

		fw_snprintf(msg, sizeof(msg), "protocol version %u not "
		    "supported (engine speaks %u)", h->protocol_version,
		    FW_PROTOCOL_VERSION);
		reply_error(c, id, FW_ERR_UNSUPPORTED, msg);
		return FW_ERR_PROTOCOL;
	}
	if (strcmp(h->session_id, c->e->bs->session_id) != 0) {
		reply_error(c, id, FW_ERR_CERT, "wrong session");
		return FW_ERR_PROTOCOL;
	}
	me.protocol_version = FW_PROTOCOL_VERSION;
	me.software_version = (char *)FWFLEET_VERSION;
	me.n_capabilities = sizeof(caps) / sizeof(caps[0]);
	me.capabilities = caps;
	me.session_id = c->e->bs->session_id;
	m.id = id;
	m.msg_case = FWFLEET__ENGINE_MSG__MSG_HELLO;
	m.hello = &me;
	c->hello_done = 1;
	if (c->deadline != NULL) {
		event_free(c->deadline);
		c->deadline = NULL;
	}
	return reply(c, &m);
}

static int handle_inventory(struct conn *c, uint32_t id)
{
	Fwfleet__EngineMsg m = FWFLEET__ENGINE_MSG__INIT;
	Fwfleet__Inventory *inv = NULL;
	int r;

	if ((r = inventory_collect(c->e->sysroot, &inv)) != 0)
		return reply_error(c, id, r, "cannot collect the inventory");
	m.id = id;
	m.msg_case = FWFLEET__ENGINE_MSG__MSG_INVENTORY;
	m.inventory = inv;
	r = reply(c, &m);
	inventory_free(inv);
	return r;
}

static void cert_details(struct engine *e, Fwfleet__Diag *d, char *subj,
    size_t subjlen)
{
	X509 *cert = NULL;
	long long not_after = 0;

	if (pki_cert_from_pem((const char *)e->bs->cert_pem.data,
	    e->bs->cert_pem.len, &cert) == 0 &&
	    pki_cert_info(cert, subj, subjlen, &not_after) == 0) {
		d->cert_subject = subj;
		d->cert_not_after_unix = not_after;
	}
	X509_free(cert);
}

static int handle_diag(struct conn *c, uint32_t id)
{
	Fwfleet__EngineMsg m = FWFLEET__ENGINE_MSG__INIT;
	Fwfleet__Diag d = FWFLEET__DIAG__INIT;
	struct engine *e = c->e;
	char subj[256];
	size_t i;
	int r;

	d.version = (char *)FWFLEET_VERSION;
	d.mode = (char *)"ephemeral";
	d.state = (char *)(deploy_activity(e->deploy) != NULL ?
	    deploy_activity(e->deploy) : e->state);
	d.uptime_s = (fw_now_ms() - e->started_ms) / 1000;
	d.pid = (uint32_t)getpid();
	d.workdir = e->bs->workdir;
	d.session_id = e->bs->session_id;
	d.last_seen_unix = (int64_t)e->last_seen_wall;
	d.port = e->port;
	d.idle_timeout_s = e->idle_timeout_s;
	cert_details(e, &d, subj, sizeof(subj));
	d.n_firewall_rules = firewall_count(e->fw);
	d.firewall_rules = xcalloc(d.n_firewall_rules + 1, sizeof(char *));
	for (i = 0; i < d.n_firewall_rules; i++)
		d.firewall_rules[i] = (char *)firewall_rule(e->fw, i);
	m.id = id;
	m.msg_case = FWFLEET__ENGINE_MSG__MSG_DIAG;
	m.diag = &d;
	r = reply(c, &m);
	free(d.firewall_rules);
	return r;
}

static int handle_shutdown(struct conn *c, uint32_t id,
    const Fwfleet__ShutdownRequest *req)
{
	Fwfleet__EngineMsg m = FWFLEET__ENGINE_MSG__INIT;
	Fwfleet__ShutdownReply sr = FWFLEET__SHUTDOWN_REPLY__INIT;
	char detail[512] = "";

	deploy_quiesce(c->e->deploy, 1000);
	if (req->remove_workdir)
		engine_release(c->e, detail, sizeof(detail));
	sr.workdir_removed = c->e->workdir_removed;
	sr.detail = detail;
	m.id = id;
	m.msg_case = FWFLEET__ENGINE_MSG__MSG_SHUTDOWN;
	m.shutdown = &sr;
	c->stop_after_flush = 1;
	return reply(c, &m);
}

/*
 * Reboot after the updates. On a test tree (sysroot not "/": the node's
 * devices are files, and a reboot would be the host's) the request is
 * recorded in <sysroot>/run/fwfleet-reboot instead.
 */
static int handle_reboot(struct conn *c, uint32_t id,
    const Fwfleet__RebootRequest *req)
{
	Fwfleet__EngineMsg m = FWFLEET__ENGINE_MSG__INIT;
	Fwfleet__RebootReply rr = FWFLEET__REBOOT_REPLY__INIT;
	const char *root = c->e->sysroot;
	char detail[512] = "", path[1024], text[64];
	int r;

	if (strcmp(root, "/") != 0) {
		fw_snprintf(path, sizeof(path), "%s/run", root);
		(void)mkdir(path, 0755);
		fw_snprintf(path, sizeof(path), "%s/run/fwfleet-reboot", root);
		fw_snprintf(text, sizeof(text), "%u\n", req->delay_s);
		r = fw_write_file(path, text, strlen(text), 0644);
		rr.simulated = 1;
		fw_snprintf(detail, sizeof(detail), r == 0 ? "test tree: "
		    "reboot recorded in %s" : "cannot write %s", path);
	} else {
		r = platform_schedule_reboot(req->delay_s, req->message, detail,
		    sizeof(detail));
		if (r == 0)
			fw_snprintf(detail, sizeof(detail), "reboot in %u s",
			    req->delay_s);
	}
	log_info("reboot: %s", detail);
	rr.ok = r == 0;
	rr.detail = detail;
	m.id = id;
	m.msg_case = FWFLEET__ENGINE_MSG__MSG_REBOOT;
	m.reboot = &rr;
	return reply(c, &m);
}

/* Returns non-zero when the connection must be closed. */
static int dispatch(struct conn *c, const Fwfleet__ControllerMsg *msg)
{
	engine_touch(c->e);
	if (msg->msg_case == FWFLEET__CONTROLLER_MSG__MSG_HELLO)
		return handle_hello(c, msg->id, msg->hello);
	if (!c->hello_done) {
		reply_error(c, msg->id, FW_ERR_PROTOCOL, "send Hello first");
		return FW_ERR_PROTOCOL;
	}
	switch (msg->msg_case) {
	case FWFLEET__CONTROLLER_MSG__MSG_INVENTORY:
		return handle_inventory(c, msg->id);
	case FWFLEET__CONTROLLER_MSG__MSG_DIAG:
		return handle_diag(c, msg->id);
	case FWFLEET__CONTROLLER_MSG__MSG_SHUTDOWN:
		return handle_shutdown(c, msg->id, msg->shutdown);
	case FWFLEET__CONTROLLER_MSG__MSG_STAGE:
		return handle_stage(c, msg->id, msg->stage);
	case FWFLEET__CONTROLLER_MSG__MSG_INSTALL:
		return handle_install(c, msg->id, msg->install);
	case FWFLEET__CONTROLLER_MSG__MSG_REBOOT:
		return handle_reboot(c, msg->id, msg->reboot);
	case FWFLEET__CONTROLLER_MSG__MSG_CANCEL:
		/* No reply of its own: the running operation's reply says
		 * it was cancelled. */
		deploy_cancel(c->e->deploy, msg->cancel->kill_running);
		return 0;
	default:
		reply_error(c, msg->id, FW_ERR_PROTOCOL, "unknown request");
		return FW_ERR_PROTOCOL;
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	Fwfleet__ControllerMsg *msg;
	int r;

	while (!c->stop_after_flush && c->closing == NULL) {
		r = proto_recv_controller(bufferevent_get_input(bev), &msg);
		if (r == FW_ERR_AGAIN)
			return;
		if (r != 0) {
			conn_close(c, fw_strerror(r));
			return;
		}
		r = dispatch(c, msg);
		fwfleet__controller_msg__free_unpacked(msg, NULL);
		if (r != 0) {
			/* Let the error reply go out, then close. */
			conn_finish(c, fw_strerror(r));
			return;
		}
	}
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;

	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	if (c->stop_after_flush)
		conn_close(c, "shutdown reply sent");
	else if (c->closing != NULL)
		conn_close(c, c->closing);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	char err[256];

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);

		if (tls_check_peer(ssl, c->e->bs->session_id,
		    TLS_ROLE_CONTROLLER, err,
		    sizeof(err)) != 0)
			conn_close(c, err);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		tls_drain_errors(err, sizeof(err));
		conn_close(c, err[0] ? err : strerror(errno));
	} else if (what & BEV_EVENT_EOF) {
		conn_close(c, "closed by peer");
	}
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	conn_close(arg, "no Hello within the handshake deadline");
}

void control_accept(struct engine *e, int fd)
{
	struct timeval hs = { HANDSHAKE_TIMEOUT_S, 0 };
	struct conn *c;
	SSL *ssl;
	int slot;

	for (slot = 0; slot < ENGINE_MAX_CONNS && e->conns[slot]; slot++)
		;
	if (slot == ENGINE_MAX_CONNS || (ssl = SSL_new(e->ssl_ctx)) == NULL) {
		log_warn("refusing a control connection: too many open");
		close(fd);
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->e = e;
	c->slot = slot;
	c->bev = bufferevent_openssl_socket_new(e->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		SSL_free(ssl);
		close(fd);
		free(c);
		return;
	}
	e->conns[slot] = c;
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setwatermark(c->bev, EV_READ, 0, FW_MSG_MAX + 4);
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	/* A peer that trickles bytes must not hold a slot for ever. */
	c->deadline = evtimer_new(e->base, on_deadline, c);
	if (c->deadline != NULL)
		evtimer_add(c->deadline, &hs);
}
