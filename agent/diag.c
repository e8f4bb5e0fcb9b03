#include "diag.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/x509.h>

#include "deploy.h"
#include "engine.h"
#include "err.h"
#include "firewall.h"
#include "log.h"
#include "pki.h"
#include "platform.h"
#include "proto.h"
#include "util.h"

#if defined(__clang__)
#define DIAG_COMPILER	__VERSION__
#elif defined(__GNUC__)
#define DIAG_COMPILER	"gcc " __VERSION__
#else
#define DIAG_COMPILER	"unknown compiler"
#endif

#ifdef FWFLEET_BUILD_DATE
#define DIAG_BUILT	", built " FWFLEET_BUILD_DATE
#else
#define DIAG_BUILT	""
#endif

struct diag_error {
	int64_t time;
	char msg[DIAG_MSG_MAX];
};

struct local_conn;

struct diag {
	struct diag_error errors[DIAG_MAX_ERRORS];
	size_t n_errors;		/* kept, at most DIAG_MAX_ERRORS */
	size_t next;			/* where the next one goes */
	struct engine *e;		/* set by diag_listen */
	int fd;				/* the local socket, or -1 */
	struct event *ev;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct local_conn *conns[DIAG_LOCAL_MAX_CONNS];
};

struct local_conn {
	struct diag *dg;
	struct bufferevent *bev;
	struct event *deadline;
	int slot;
	int done;			/* replied: close once it is sent */
};

struct diag *diag_new(void)
{
	struct diag *d = xcalloc(1, sizeof(*d));

	d->fd = -1;
	return d;
}

void engine_note_error(struct engine *e, const char *fmt, ...)
{
	struct diag *d = e != NULL ? e->diag : NULL;
	struct diag_error *slot;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	log_error("%s", msg);
	if (d != NULL) {
		slot = &d->errors[d->next];
		slot->time = (int64_t)time(NULL);
		/* Longer messages are cut; the log has them whole. */
		snprintf(slot->msg, sizeof(slot->msg), "%s", msg);
		d->next = (d->next + 1) % DIAG_MAX_ERRORS;
		if (d->n_errors < DIAG_MAX_ERRORS)
			d->n_errors++;
	}
	free(msg);
}

const char *diag_engine_mode(const struct engine *e)
{
	return e->mode != NULL ? e->mode : "ephemeral";
}

const char *diag_socket_dir(const struct engine *e)
{
	if (strcmp(diag_engine_mode(e), "persistent") == 0 &&
	    e->state_dir != NULL)
		return e->state_dir;
	return e->bs->workdir;
}

int diag_socket_path(const char *dir, char *buf, size_t len)
{
	return fw_snprintf(buf, len, "%s/%s", dir, DIAG_SOCKET_NAME);
}

/* --- collecting --------------------------------------------------------- */

/* What diag_collect builds on: the Diag borrows from e and from here. */
struct diag_scratch {
	char build[300];
	char subject[256];
	char **rules;
	Fwfleet__ComponentProgress *comps;
	Fwfleet__ComponentProgress **compp;
	Fwfleet__DiagEvent *events;
	Fwfleet__DiagEvent **eventp;
};

static int64_t asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	return t != NULL && ASN1_TIME_to_tm(t, &tm) == 1 ?
	    (int64_t)timegm(&tm) : 0;
}

static void fill_cert(const struct engine *e, Fwfleet__Diag *d,
    struct diag_scratch *s)
{
	X509 *cert = NULL;
	long long not_after = 0;

	if (e->bs->cert_pem.len == 0 ||
	    pki_cert_from_pem((const char *)e->bs->cert_pem.data,
	    e->bs->cert_pem.len, &cert) != 0)
		return;
	if (pki_cert_info(cert, s->subject, sizeof(s->subject),
	    &not_after) == 0) {
		d->cert_subject = s->subject;
		d->cert_not_after_unix = not_after;
		d->cert_not_before_unix = asn1_unix(X509_get0_notBefore(cert));
	}
	X509_free(cert);
}

static void fill_identity(const struct engine *e, Fwfleet__Diag *d,
    struct diag_scratch *s)
{
	const char *activity = deploy_activity(e->deploy);

	fw_snprintf(s->build, sizeof(s->build), "%s%s, sha256 %s",
	    DIAG_COMPILER, DIAG_BUILT, e->sha256[0] ? e->sha256 : "unknown");
	d->version = (char *)FWFLEET_VERSION;
	d->build = s->build;
	d->mode = (char *)diag_engine_mode(e);
	d->pid = (uint32_t)getpid();
	d->uptime_s = e->started_ms ? (fw_now_ms() - e->started_ms) / 1000 : 0;
	d->state = (char *)(activity != NULL ? activity :
	    e->state != NULL ? e->state : "");
	d->session_id = e->bs->session_id;
	d->node_name = e->bs->node_name;
	d->workdir = e->bs->workdir;
	if (e->state_dir != NULL)
		d->state_dir = (char *)e->state_dir;
	d->port = e->port;
	d->idle_timeout_s = e->idle_timeout_s;
	d->last_seen_unix = (int64_t)e->last_seen_wall;
	d->job_id = (char *)deploy_job_id(e->deploy);
}

static void fill_components(const struct engine *e, Fwfleet__Diag *d,
    struct diag_scratch *s)
{
	const struct deploy_component *c;
	size_t i, n;

	c = deploy_components(e->deploy, &n);
	if (n == 0)
		return;
	s->comps = xcalloc(n, sizeof(*s->comps));
	s->compp = xcalloc(n, sizeof(*s->compp));
	for (i = 0; i < n; i++) {
		fwfleet__component_progress__init(&s->comps[i]);
		s->comps[i].component_id = (char *)c[i].id;
		s->comps[i].version = (char *)c[i].version;
		s->comps[i].phase = c[i].phase;
		s->comps[i].percent = c[i].percent;
		s->comps[i].bytes_done = c[i].bytes_done;
		s->comps[i].bytes_total = c[i].bytes_total;
		s->comps[i].error = (char *)c[i].error;
		s->compp[i] = &s->comps[i];
	}
	d->n_components = n;
	d->components = s->compp;
}

/* Oldest first. */
static void fill_errors(const struct engine *e, Fwfleet__Diag *d,
    struct diag_scratch *s)
{
	struct diag *dg = e->diag;
	size_t i, k, first;

	if (dg == NULL || dg->n_errors == 0)
		return;
	first = dg->n_errors < DIAG_MAX_ERRORS ? 0 : dg->next;
	s->events = xcalloc(dg->n_errors, sizeof(*s->events));
	s->eventp = xcalloc(dg->n_errors, sizeof(*s->eventp));
	for (i = 0; i < dg->n_errors; i++) {
		k = (first + i) % DIAG_MAX_ERRORS;
		fwfleet__diag_event__init(&s->events[i]);
		s->events[i].time_unix = dg->errors[k].time;
		s->events[i].message = dg->errors[k].msg;
		s->eventp[i] = &s->events[i];
	}
	d->n_recent_errors = dg->n_errors;
	d->recent_errors = s->eventp;
}

static void fill_rules(const struct engine *e, Fwfleet__Diag *d,
    struct diag_scratch *s)
{
	size_t i, n = firewall_count(e->fw);

	if (n == 0)
		return;
	s->rules = xcalloc(n, sizeof(char *));
	for (i = 0; i < n; i++)
		s->rules[i] = (char *)firewall_rule(e->fw, i);
	d->n_firewall_rules = n;
	d->firewall_rules = s->rules;
}

Fwfleet__Diag *diag_collect(const struct engine *e)
{
	Fwfleet__Diag d = FWFLEET__DIAG__INIT;
	struct diag_scratch s;
	ProtobufCMessage *copy;

	memset(&s, 0, sizeof(s));
	fill_identity(e, &d, &s);
	fill_cert(e, &d, &s);
	fill_components(e, &d, &s);
	fill_errors(e, &d, &s);
	fill_rules(e, &d, &s);
	/* The caller gets a copy that owns all of it. */
	copy = proto_copy(&d.base);
	free(s.rules);
	free(s.comps);
	free(s.compp);
	free(s.events);
	free(s.eventp);
	return (Fwfleet__Diag *)copy;
}

/* --- the local socket --------------------------------------------------- */

static void local_close(struct local_conn *c)
{
	if (c == NULL)
		return;
	c->dg->conns[c->slot] = NULL;
	if (c->deadline != NULL)
		event_free(c->deadline);
	bufferevent_free(c->bev);
	free(c);
}

/* Queues an Error reply. */
static void queue_error(struct evbuffer *out, uint32_t id, int code,
    const char *text)
{
	Fwfleet__EngineMsg m = FWFLEET__ENGINE_MSG__INIT;
	Fwfleet__Error er = FWFLEET__ERROR__INIT;

	er.code = code;
	er.message = (char *)text;
	m.id = id;
	m.msg_case = FWFLEET__ENGINE_MSG__MSG_ERROR;
	m.error = &er;
	proto_send_engine(out, &m);
}

static void local_answer(struct local_conn *c,
    const Fwfleet__ControllerMsg *msg)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	Fwfleet__EngineMsg m = FWFLEET__ENGINE_MSG__INIT;

	if (msg->msg_case != FWFLEET__CONTROLLER_MSG__MSG_DIAG) {
		queue_error(out, msg->id, FW_ERR_PROTOCOL, "this socket "
		    "answers DiagRequest only");
		return;
	}
	m.id = msg->id;
	m.msg_case = FWFLEET__ENGINE_MSG__MSG_DIAG;
	m.diag = diag_collect(c->dg->e);
	if (proto_send_engine(out, &m) != 0)
		queue_error(out, msg->id, FW_ERR_INTERNAL, "cannot send Diag");
	fwfleet__diag__free_unpacked(m.diag, NULL);
}

static void local_on_read(struct bufferevent *bev, void *arg)
{
	struct local_conn *c = arg;
	Fwfleet__ControllerMsg *msg;
	int r;

	if (c->done)
		return;
	r = proto_recv_controller(bufferevent_get_input(bev), &msg);
	if (r == FW_ERR_AGAIN)
		return;
	if (r != 0) {
		queue_error(bufferevent_get_output(bev), 0, r, fw_strerror(r));
	} else {
		local_answer(c, msg);
		fwfleet__controller_msg__free_unpacked(msg, NULL);
	}
	/* One question per connection: answer, then close. */
	c->done = 1;
	bufferevent_disable(bev, EV_READ);
}

static void local_on_write(struct bufferevent *bev, void *arg)
{
	struct local_conn *c = arg;

	if (c->done && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		local_close(c);
}

static void local_on_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		local_close(arg);
}

static void local_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	local_close(arg);
}

/* Tells a peer why not, as well as a socket can, and closes fd. */
static void refuse(int fd, int code, const char *why)
{
	struct evbuffer *out = evbuffer_new();

	if (out != NULL) {
		queue_error(out, 0, code, why);
		(void)evbuffer_write(out, fd);
		evbuffer_free(out);
	}
	close(fd);
}

static void local_start(struct diag *d, int fd)
{
	struct timeval tv = { DIAG_LOCAL_TIMEOUT_S, 0 };
	struct local_conn *c;
	int slot;

	for (slot = 0; slot < DIAG_LOCAL_MAX_CONNS && d->conns[slot]; slot++)
		;
	if (slot == DIAG_LOCAL_MAX_CONNS) {
		refuse(fd, FW_ERR_AGAIN, "too many diag clients at once; try "
		    "again");
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->dg = d;
	c->slot = slot;
	c->bev = bufferevent_socket_new(d->e->base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->deadline = evtimer_new(d->e->base, local_on_deadline, c);
	if (c->bev == NULL || c->deadline == NULL) {
		if (c->bev == NULL)
			close(fd);
		else
			bufferevent_free(c->bev);
		if (c->deadline != NULL)
			event_free(c->deadline);
		free(c);
		return;
	}
	d->conns[slot] = c;
	bufferevent_setwatermark(c->bev, EV_READ, 0, FW_MSG_MAX + 4);
	bufferevent_setcb(c->bev, local_on_read, local_on_write,
	    local_on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	evtimer_add(c->deadline, &tv);
}

static void local_on_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct diag *d = arg;
	long uid;
	int fd;

	if ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) < 0)
		return;
	if (!platform_peer_is_admin(fd, &uid)) {
		log_warn("diag socket: refused a client running as uid %ld "
		    "(root only)", uid);
		refuse(fd, FW_ERR_AUTH, "the engine's diag socket answers root "
		    "only");
		return;
	}
	local_start(d, fd);
}

static int bind_local(struct diag *d, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;

	if (diag_socket_path(diag_socket_dir(d->e), d->path,
	    sizeof(d->path)) != 0) {
		d->path[0] = '\0';
		fw_snprintf(err, errlen, "the diag socket's path is too long");
		return FW_ERR_INVALID;
	}
	memcpy(sa.sun_path, d->path, strlen(d->path) + 1);
	/* A socket left by an agent that died is ours to replace. */
	if (lstat(d->path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(d->path);
	if ((d->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC |
	    SOCK_NONBLOCK, 0)) < 0 ||
	    bind(d->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fw_snprintf(err, errlen, "cannot bind %s: %s", d->path,
		    strerror(errno));
		d->path[0] = '\0';
		return FW_ERR_SYSTEM;
	}
	/* The directory (0700) already keeps others out; 0600 says so too. */
	if (chmod(d->path, 0600) != 0 || listen(d->fd, 8) != 0) {
		fw_snprintf(err, errlen, "cannot listen on %s: %s", d->path,
		    strerror(errno));
		return FW_ERR_SYSTEM;
	}
	return 0;
}

int diag_listen(struct engine *e, char *err, size_t errlen)
{
	struct diag *d = e->diag;
	int r;

	if (d == NULL || d->fd >= 0) {
		fw_snprintf(err, errlen, "no diagnostics set up");
		return FW_ERR_INVALID;
	}
	d->e = e;
	if ((r = bind_local(d, err, errlen)) != 0)
		return r;
	d->ev = event_new(e->base, d->fd, EV_READ | EV_PERSIST,
	    local_on_accept, d);
	if (d->ev == NULL || event_add(d->ev, NULL) != 0) {
		fw_snprintf(err, errlen, "cannot watch %s", d->path);
		return FW_ERR_NOMEM;
	}
	return 0;
}

void diag_free(struct diag *d)
{
	size_t i;

	if (d == NULL)
		return;
	for (i = 0; i < DIAG_LOCAL_MAX_CONNS; i++)
		local_close(d->conns[i]);
	if (d->ev != NULL)
		event_free(d->ev);
	if (d->fd >= 0)
		close(d->fd);
	/* Gone already if the work directory was removed. */
	if (d->path[0] != '\0')
		unlink(d->path);
	free(d);
}
