/*
 * The engine's side of the control channel: mutual-TLS connections from the
 * controller, one framed ControllerMsg at a time, dispatched on its case.
 * The dispatcher frees each message; handlers never do.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>

#include "agent_journal.h"
#include "deploy.h"
#include "diag.h"
#include "engine.h"
#include "err.h"
#include "inventory.h"
#include "log.h"
#include "pki.h"
#include "platform.h"
#include "proto.h"
#include "renew.h"
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
	int tls_up;		/* the handshake completed */
	int diag;		/* a diag client: Hello and Diag only */
	char peer[INET6_ADDRSTRLEN];
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

static int64_t cert_not_after(const struct engine *e)
{
	char subject[256];
	long long na = 0;
	X509 *cert = NULL;

	if (pki_cert_from_pem((const char *)e->bs->cert_pem.data,
	    e->bs->cert_pem.len, &cert) == 0)
		pki_cert_info(cert, subject, sizeof(subject), &na);
	X509_free(cert);
	return na;
}

/*
 * A persistent agent takes the session of the controller that drives it
 * (its certificate must carry it): payload downloads and status pushes
 * then check the controller's HTTPS server against that session.
 */
static int adopt_session(struct conn *c, const char *sid)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	char err[256];

	if (sid[0] == '\0' ||
	    tls_check_peer_session(ssl, sid, err, sizeof(err)) != 0)
		return FW_ERR_CERT;
	free(c->e->bs->session_id);
	c->e->bs->session_id = xstrdup(sid);
	return 0;
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
	/* A persistent agent serves any session of its controllers. */
	if (!engine_persistent(c->e) && !c->diag &&
	    strcmp(h->session_id, c->e->bs->session_id) != 0) {
		reply_error(c, id, FW_ERR_CERT, "wrong session");
		return FW_ERR_PROTOCOL;
	}
	if (engine_persistent(c->e) && !c->diag &&
	    adopt_session(c, h->session_id) != 0) {
		reply_error(c, id, FW_ERR_CERT, "the controller's certificate "
		    "is not for the session it names");
		return FW_ERR_PROTOCOL;
	}
	me.protocol_version = FW_PROTOCOL_VERSION;
	me.software_version = (char *)FWFLEET_VERSION;
	me.n_capabilities = sizeof(caps) / sizeof(caps[0]);
	me.capabilities = caps;
	me.session_id = c->e->bs->session_id;
	me.mode = (char *)c->e->mode;
	me.cert_not_after_unix = cert_not_after(c->e);
	me.interrupted = agent_journal_interrupted(c->e->journal,
	    &me.n_interrupted);
	me.require_signed = c->e->repo_pub != NULL;
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

static int handle_diag(struct conn *c, uint32_t id)
{
	Fwfleet__EngineMsg m = FWFLEET__ENGINE_MSG__INIT;
	int r;

	m.id = id;
	m.msg_case = FWFLEET__ENGINE_MSG__MSG_DIAG;
	m.diag = diag_collect(c->e);
	r = reply(c, &m);
	fwfleet__diag__free_unpacked(m.diag, NULL);
	return r;
}

static int handle_shutdown(struct conn *c, uint32_t id,
    const Fwfleet__ShutdownRequest *req)
{
	Fwfleet__EngineMsg m = FWFLEET__ENGINE_MSG__INIT;
	Fwfleet__ShutdownReply sr = FWFLEET__SHUTDOWN_REPLY__INIT;
	char detail[512] = "";

	deploy_quiesce(c->e->deploy, 1000);
	if (req->remove_workdir && !engine_persistent(c->e))
		engine_release(c->e, detail, sizeof(detail));
	/* An agent keeps nothing of a session: its staged payloads go. */
	if (engine_persistent(c->e) &&
	    platform_remove_workdir(c->e->bs->workdir) != 0)
		fw_snprintf(detail, sizeof(detail), "cannot remove %s: %s",
		    c->e->bs->workdir, strerror(errno));
	/* An agent stays; nothing of the controller's session is left. */
	sr.workdir_removed = c->e->workdir_removed || engine_persistent(c->e);
	sr.detail = detail;
	m.id = id;
	m.msg_case = FWFLEET__ENGINE_MSG__MSG_SHUTDOWN;
	m.shutdown = &sr;
	if (engine_persistent(c->e))
		c->closing = "session over";
	else
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
static int handle_renew(struct conn *c, uint32_t id)
{
	Fwfleet__EngineMsg m = FWFLEET__ENGINE_MSG__INIT;
	Fwfleet__RenewCsr rc = FWFLEET__RENEW_CSR__INIT;
	char err[256], *csr;
	size_t len;
	int r;

	if ((r = renew_begin(c->e, &csr, &len, err, sizeof(err))) != 0)
		return reply_error(c, id, r, err);
	rc.csr_pem.data = (uint8_t *)csr;
	rc.csr_pem.len = len;
	m.id = id;
	m.msg_case = FWFLEET__ENGINE_MSG__MSG_RENEW_CSR;
	m.renew_csr = &rc;
	r = reply(c, &m);
	free(csr);
	return r;
}

static int handle_renew_cert(struct conn *c, uint32_t id,
    const Fwfleet__RenewCert *rc)
{
	Fwfleet__EngineMsg m = FWFLEET__ENGINE_MSG__INIT;
	Fwfleet__RenewDone rd = FWFLEET__RENEW_DONE__INIT;
	char err[256] = "";

	rd.ok = renew_finish(c->e, rc->cert_pem.data, rc->cert_pem.len,
	    &rd.not_after_unix, err, sizeof(err)) == 0;
	rd.error = err;
	m.id = id;
	m.msg_case = FWFLEET__ENGINE_MSG__MSG_RENEW_DONE;
	m.renew_done = &rd;
	return reply(c, &m);
}

/*
 * A diag client only looks: Hello and Diag. It is not the controller, so
 * it never resets the idle watchdog nor last_seen: an orphaned engine
 * cleans up on time however often it is asked.
 */
static int dispatch_diag(struct conn *c, const Fwfleet__ControllerMsg *msg)
{
	switch (msg->msg_case) {
	case FWFLEET__CONTROLLER_MSG__MSG_HELLO:
		return handle_hello(c, msg->id, msg->hello);
	case FWFLEET__CONTROLLER_MSG__MSG_DIAG:
		if (c->hello_done)
			return handle_diag(c, msg->id);
		reply_error(c, msg->id, FW_ERR_PROTOCOL, "send Hello first");
		return FW_ERR_PROTOCOL;
	default:
		return reply_error(c, msg->id, FW_ERR_PROTOCOL,
		    "not allowed for a diag client");
	}
}

static int dispatch(struct conn *c, const Fwfleet__ControllerMsg *msg)
{
	if (c->diag)
		return dispatch_diag(c, msg);
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
	case FWFLEET__CONTROLLER_MSG__MSG_RENEW:
		return handle_renew(c, msg->id);
	case FWFLEET__CONTROLLER_MSG__MSG_RENEW_CERT:
		return handle_renew_cert(c, msg->id, msg->renew_cert);
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

/*
 * Who may drive us: the controller of our session; for a persistent
 * agent, any controller its CA signed (the TLS handshake checked the CA).
 */
static int peer_check(struct engine *e, SSL *ssl, char *err, size_t errlen)
{
	char role[64];

	if (!engine_persistent(e))
		return tls_check_peer(ssl, e->bs->session_id,
		    TLS_ROLE_CONTROLLER, err, errlen);
	if (tls_peer_uri_suffix(ssl, TLS_ROLE_URI_PREFIX, role,
	    sizeof(role)) == 0 && strcmp(role, TLS_ROLE_CONTROLLER) == 0)
		return 0;
	fw_snprintf(err, errlen, "the peer is not a controller (role '%s')",
	    role);
	return FW_ERR_CERT;
}

/*
 * Besides the controller, a diag client (role diag, any session, signed
 * by our CA) may look, on at most half of the connection slots.
 */
static int peer_accept(struct conn *c, SSL *ssl, char *err, size_t errlen)
{
	char why[256];
	int i, n = 0;

	if (peer_check(c->e, ssl, err, errlen) == 0)
		return 0;
	if (tls_check_peer_role(ssl, TLS_ROLE_DIAG, why, sizeof(why)) != 0)
		return FW_ERR_CERT;
	for (i = 0; i < ENGINE_MAX_CONNS; i++)
		n += c->e->conns[i] != NULL && c->e->conns[i]->diag;
	if (n >= ENGINE_MAX_CONNS / 2) {
		fw_snprintf(err, errlen, "too many diag clients at once");
		return FW_ERR_AGAIN;
	}
	c->diag = 1;
	return 0;
}

/*
 * A handshake that failed: noted for diag when TLS says why (a port
 * scanner that only connects and drops is not worth it).
 */
static void handshake_failed(struct conn *c, char *err, size_t errlen)
{
	long v = SSL_get_verify_result(bufferevent_openssl_get_ssl(c->bev));
	unsigned long e, first = 0;
	const char *reason;

	/* libevent moved OpenSSL's errors to the bufferevent. */
	while ((e = bufferevent_get_openssl_error(c->bev)) != 0)
		if (first == 0)
			first = e;
	err[0] = '\0';
	if (v != X509_V_OK)
		fw_snprintf(err, errlen, "peer certificate rejected: %s",
		    X509_verify_cert_error_string(v));
	else if (first != 0)
		fw_snprintf(err, errlen, "TLS: %s",
		    (reason = ERR_reason_error_string(first)) != NULL ?
		    reason : "unknown error");
	if (err[0] != '\0')
		engine_note_error(c->e, "refused a control connection from "
		    "%s: %s", c->peer, err);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	char err[256];

	if (what & BEV_EVENT_CONNECTED) {
		SSL *ssl = bufferevent_openssl_get_ssl(bev);

		c->tls_up = 1;
		if (peer_accept(c, ssl, err, sizeof(err)) != 0) {
			engine_note_error(c->e, "refused a control connection "
			    "from %s: %s", c->peer, err);
			conn_close(c, err);
		}
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if (!c->tls_up)
			handshake_failed(c, err, sizeof(err));
		else
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

/* The peer's address, for notes ("198.18.0.1", "2001:db8::1"). */
static void peer_name(int fd, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl = sizeof(ss);

	fw_snprintf(buf, len, "?");
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
		return;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, buf,
		    (socklen_t)len);
	else if (ss.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf,
		    (socklen_t)len);
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)len);
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
	peer_name(fd, c->peer, sizeof(c->peer));
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
