/*
 * Status pushes: a queue (mutex + condition variable) drained by one
 * worker thread that POSTs over a kept-alive blocking HTTPS connection
 * (http_client.c). Callers only pack and queue.
 */
#include "status_push.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "http_client.h"
#include "log.h"
#include "tls.h"
#include "util.h"

#define STATUS_TIMEOUT_MS	5000
#define STATUS_COMPONENTS	64	/* rate-limit slots */
#define STATUS_ID_MAX		128

struct entry {
	struct entry *next;
	char component[STATUS_ID_MAX];
	int progress;
	uint8_t *body;
	size_t len;
};

struct last_sent {
	char component[STATUS_ID_MAX];
	uint64_t ms;
};

struct status_pusher {
	SSL_CTX *ctx;
	char *session_id;
	char *node_name;
	struct http_url *urls;
	size_t n_urls;
	int timeout_ms;

	pthread_t thread;
	int thread_started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct entry *head;
	size_t n;
	int sending;
	int stop;
	int cancel_pipe[2];
	unsigned dropped;
	struct last_sent sent[STATUS_COMPONENTS];

	/* The worker's own. */
	struct http_conn *conn;
	size_t url_idx;
	int failing;
};

static void entry_free(struct entry *e)
{
	if (e == NULL)
		return;
	free(e->body);
	free(e);
}

/* --- the queue --------------------------------------------------------- */

static int is_progress(const Fwfleet__StatusPush *m)
{
	return m->n_log_lines == 0 &&
	    m->outcome == FWFLEET__INSTALL_OUTCOME__OUTCOME_UNKNOWN &&
	    (m->error == NULL || m->error[0] == '\0') &&
	    m->phase != FWFLEET__PHASE__PHASE_DONE &&
	    m->phase != FWFLEET__PHASE__PHASE_FAILED;
}

static uint64_t *last_sent_slot(struct status_pusher *p, const char *comp)
{
	size_t i, oldest = 0;

	for (i = 0; i < STATUS_COMPONENTS; i++) {
		if (strcmp(p->sent[i].component, comp) == 0)
			return &p->sent[i].ms;
		if (p->sent[i].ms < p->sent[oldest].ms)
			oldest = i;
	}
	fw_snprintf(p->sent[oldest].component,
	    sizeof(p->sent[oldest].component), "%s", comp);
	p->sent[oldest].ms = 0;
	return &p->sent[oldest].ms;
}

/* Removes and returns the first progress entry (or the head); locked. */
static struct entry *queue_evict(struct status_pusher *p)
{
	struct entry **pp, *e;

	for (pp = &p->head; *pp != NULL && !(*pp)->progress; pp = &(*pp)->next)
		;
	if (*pp == NULL)
		pp = &p->head;
	e = *pp;
	*pp = e->next;
	p->n--;
	return e;
}

/* Queues e, coalescing progress; locked. Returns what to free. */
static struct entry *queue_put(struct status_pusher *p, struct entry *e)
{
	struct entry **pp, *old;

	for (pp = &p->head; *pp != NULL; pp = &(*pp)->next) {
		old = *pp;
		if (e->progress && old->progress &&
		    strcmp(old->component, e->component) == 0) {
			e->next = old->next;
			*pp = e;
			return old;
		}
	}
	old = NULL;
	if (p->n >= STATUS_QUEUE_MAX) {
		p->dropped++;
		if (e->progress)
			return e;
		old = queue_evict(p);
		for (pp = &p->head; *pp != NULL; pp = &(*pp)->next)
			;
	}
	e->next = NULL;
	*pp = e;
	p->n++;
	return old;
}

static struct entry *entry_make(struct status_pusher *p,
    const Fwfleet__StatusPush *msg)
{
	Fwfleet__StatusPush m = *msg;
	struct entry *e;
	size_t len;

	if (m.session_id == NULL || m.session_id[0] == '\0')
		m.session_id = p->session_id;
	if (m.node_name == NULL || m.node_name[0] == '\0')
		m.node_name = p->node_name;
	if (m.component_id == NULL)
		m.component_id = (char *)"";
	/* Too big: the oldest log lines go first. */
	while ((len = fwfleet__status_push__get_packed_size(&m)) >
	    STATUS_BODY_MAX && m.n_log_lines > 0) {
		m.log_lines++;
		m.n_log_lines--;
	}
	if (len > STATUS_BODY_MAX)
		return NULL;
	e = xcalloc(1, sizeof(*e));
	e->progress = is_progress(msg);
	fw_snprintf(e->component, sizeof(e->component), "%s", m.component_id);
	e->body = xmalloc(len);
	e->len = fwfleet__status_push__pack(&m, e->body);
	return e;
}

void status_push(struct status_pusher *p, const Fwfleet__StatusPush *msg)
{
	struct entry *e, *drop;

	if (p == NULL || msg == NULL || (e = entry_make(p, msg)) == NULL)
		return;
	pthread_mutex_lock(&p->mu);
	drop = p->stop ? e : queue_put(p, e);
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	entry_free(drop);
}

void status_push_phase(struct status_pusher *p, const char *component_id,
    Fwfleet__Phase phase, uint64_t bytes_done, uint64_t bytes_total,
    Fwfleet__InstallOutcome outcome, const char *error)
{
	Fwfleet__StatusPush m = FWFLEET__STATUS_PUSH__INIT;

	m.component_id = (char *)component_id;
	m.phase = phase;
	m.bytes_done = bytes_done;
	m.bytes_total = bytes_total;
	m.percent = bytes_total ? (uint32_t)(bytes_done * 100 / bytes_total) :
	    (phase == FWFLEET__PHASE__PHASE_DONE ? 100 : 0);
	m.outcome = outcome;
	m.error = (char *)(error != NULL ? error : "");
	status_push(p, &m);
}

size_t status_pending(struct status_pusher *p)
{
	size_t n;

	pthread_mutex_lock(&p->mu);
	n = p->n + (size_t)p->sending;
	pthread_mutex_unlock(&p->mu);
	return n;
}

/* --- sending ------------------------------------------------------------ */

static int send_once(struct status_pusher *p, const struct entry *e,
    char *err, size_t errlen)
{
	struct http_client_opts o = {
		.ctx = p->ctx,
		.session_id = p->session_id,
		.peer_role = TLS_ROLE_CONTROLLER,
		.connect_timeout_ms = p->timeout_ms,
		.io_timeout_ms = p->timeout_ms,
		.cancel_fd = p->cancel_pipe[0],
	};
	struct http_response resp;
	int r;

	if (p->conn != NULL && !http_reusable(p->conn)) {
		http_close(p->conn);
		p->conn = NULL;
	}
	if (p->conn == NULL && (r = http_connect(&o, &p->urls[p->url_idx],
	    &p->conn, err, errlen)) != 0)
		return r;
	if ((r = http_request(p->conn, "POST", STATUS_PATH, NULL,
	    "application/x-protobuf", e->body, e->len, &resp, err,
	    errlen)) != 0 ||
	    (r = http_skip_body(p->conn, STATUS_BODY_MAX, err, errlen)) != 0)
		goto fail;
	if (resp.status / 100 != 2) {
		fw_snprintf(err, errlen, "%s%s: HTTP %d %s",
		    p->urls[p->url_idx].text, STATUS_PATH, resp.status,
		    resp.reason);
		return FW_ERR_REMOTE;
	}
	return 0;
fail:
	http_close(p->conn);
	p->conn = NULL;
	return r;
}

/* Tries each base URL once, starting with the one that worked last. */
static void send_entry(struct status_pusher *p, const struct entry *e)
{
	char err[512];
	size_t i;
	int r = FW_ERR_INTERNAL;

	for (i = 0; i < p->n_urls; i++) {
		if ((r = send_once(p, e, err, sizeof(err))) == 0 ||
		    r == FW_ERR_CANCELLED || r == FW_ERR_REMOTE)
			break;
		p->url_idx = (p->url_idx + 1) % p->n_urls;
	}
	if (r != 0 && !p->failing)
		log_warn("status push for %s dropped: %s", e->component, err);
	p->failing = r != 0;
}

static void deadline_ts(uint64_t ms_from_now, struct timespec *ts)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms_from_now / 1000);
	ts->tv_nsec += (long)(ms_from_now % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* The next entry that may go now (locked); NULL and *wait_ms if none. */
static struct entry *next_due(struct status_pusher *p, uint64_t *wait_ms)
{
	uint64_t now = fw_now_ms(), *last, gap = 1000 / STATUS_PROGRESS_PER_S;
	struct entry *e = p->head;

	*wait_ms = 0;
	if (e == NULL)
		return NULL;
	if (e->progress) {
		last = last_sent_slot(p, e->component);
		if (*last != 0 && now < *last + gap) {
			*wait_ms = *last + gap - now;
			return NULL;
		}
		*last = now;
	}
	p->head = e->next;
	p->n--;
	return e;
}

static void *status_main(void *arg)
{
	struct status_pusher *p = arg;
	struct timespec ts;
	struct entry *e;
	uint64_t wait_ms;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		e = next_due(p, &wait_ms);
		if (e == NULL && p->stop && (p->head == NULL ||
		    p->stop > 1))
			break;
		if (e == NULL) {
			if (wait_ms > 0) {
				deadline_ts(wait_ms, &ts);
				pthread_cond_timedwait(&p->cv, &p->mu, &ts);
			} else {
				pthread_cond_wait(&p->cv, &p->mu);
			}
			continue;
		}
		p->sending = 1;
		pthread_mutex_unlock(&p->mu);
		send_entry(p, e);
		entry_free(e);
		pthread_mutex_lock(&p->mu);
		p->sending = 0;
		pthread_cond_broadcast(&p->cv);
		if (p->stop > 1)
			break;
	}
	pthread_mutex_unlock(&p->mu);
	http_close(p->conn);
	p->conn = NULL;
	return NULL;
}

/* --- life cycle -------------------------------------------------------- */

static void pusher_destroy(struct status_pusher *p)
{
	struct entry *e;
	int i;

	if (p == NULL)
		return;
	while ((e = p->head) != NULL) {
		p->head = e->next;
		entry_free(e);
	}
	for (i = 0; i < 2; i++)
		if (p->cancel_pipe[i] >= 0)
			close(p->cancel_pipe[i]);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	SSL_CTX_free(p->ctx);
	free(p->urls);
	free(p->session_id);
	free(p->node_name);
	free(p);
}

static int pusher_setup(struct status_pusher *p, const struct status_target *t,
    char *err, size_t errlen)
{
	pthread_condattr_t ca;
	size_t i;
	int r;

	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (t->ssl_ctx == NULL || t->session_id == NULL ||
	    t->n_base_urls == 0) {
		fw_snprintf(err, errlen, "incomplete status target");
		return FW_ERR_INVALID;
	}
	p->urls = xcalloc(t->n_base_urls, sizeof(*p->urls));
	p->n_urls = t->n_base_urls;
	for (i = 0; i < p->n_urls; i++)
		if ((r = http_url_parse(t->base_urls[i], &p->urls[i], err,
		    errlen)) != 0)
			return r;
	if (pipe2(p->cancel_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
		fw_snprintf(err, errlen, "pipe: %s", strerror(errno));
		return FW_ERR_SYSTEM;
	}
	SSL_CTX_up_ref(t->ssl_ctx);
	p->ctx = t->ssl_ctx;
	p->session_id = xstrdup(t->session_id);
	p->node_name = xstrdup(t->node_name != NULL ? t->node_name : "");
	p->timeout_ms = t->timeout_ms > 0 ? t->timeout_ms : STATUS_TIMEOUT_MS;
	return 0;
}

int status_pusher_new(const struct status_target *t,
    struct status_pusher **out, char *err, size_t errlen)
{
	struct status_pusher *p = xcalloc(1, sizeof(*p));
	int r;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	p->cancel_pipe[0] = p->cancel_pipe[1] = -1;
	if ((r = pusher_setup(p, t, err, errlen)) != 0)
		goto out;
	if ((r = pthread_create(&p->thread, NULL, status_main, p)) != 0) {
		fw_snprintf(err, errlen, "cannot start a thread: %s",
		    strerror(r));
		r = FW_ERR_SYSTEM;
		goto out;
	}
	p->thread_started = 1;
	*out = p;
	p = NULL;
	r = 0;
out:
	pusher_destroy(p);
	return r;
}

void status_pusher_free(struct status_pusher *p, int flush_ms)
{
	struct timespec ts;
	ssize_t n;

	if (p == NULL)
		return;
	deadline_ts(flush_ms > 0 ? (uint64_t)flush_ms : 0, &ts);
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->cv);
	while ((p->head != NULL || p->sending) &&
	    pthread_cond_timedwait(&p->cv, &p->mu, &ts) == 0)
		;
	/* Time is up: abandon the queue and any request in flight. */
	p->stop = 2;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	do {
		n = write(p->cancel_pipe[1], "c", 1);
	} while (n < 0 && errno == EINTR);
	if (p->thread_started)
		pthread_join(p->thread, NULL);
	pusher_destroy(p);
}
