#include "engine.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "agent_journal.h"
#include "deploy.h"
#include "diag.h"
#include "err.h"
#include "firewall.h"
#include "log.h"
#include "platform.h"
#include "proto.h"
#include "sweep.h"
#include "tls.h"
#include "util.h"

/*
 * A bound TCP socket of family af on port, or -1: any address, or with
 * loopback (--tunnel, where SSH brings the controller) 127.0.0.1 only.
 */
static int bind_any(int af, uint16_t port, int loopback)
{
	struct sockaddr_in6 sa6 = { .sin6_family = AF_INET6,
	    .sin6_addr = IN6ADDR_ANY_INIT, .sin6_port = htons(port) };
	struct sockaddr_in sa4 = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(loopback ? INADDR_LOOPBACK : INADDR_ANY),
	    .sin_port = htons(port) };
	int fd, off = 0, on = 1, saved;

	if ((fd = socket(af, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	/* [::] takes IPv4 too (mapped), so one socket serves both. */
	if (af == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (af == AF_INET6 ? bind(fd, (struct sockaddr *)&sa6, sizeof(sa6)) :
	    bind(fd, (struct sockaddr *)&sa4, sizeof(sa4))) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Binds the first free port from first on; -1 with errno on failure. */
static int bind_control(uint16_t first, int loopback, uint16_t *bound)
{
	unsigned i;
	int fd;

	for (i = 0; i < FW_ENGINE_PORT_TRIES && first + i <= 65535; i++) {
		uint16_t port = (uint16_t)(first + i);

		fd = loopback ? -1 : bind_any(AF_INET6, port, 0);
		if (fd < 0 && (loopback || errno != EADDRINUSE))
			fd = bind_any(AF_INET, port, loopback);
		if (fd < 0 && errno == EADDRINUSE)
			continue;
		if (fd < 0)
			return -1;
		if (listen(fd, 16) != 0) {
			close(fd);
			return -1;
		}
		*bound = port;
		return fd;
	}
	errno = EADDRINUSE;
	return -1;
}

int engine_new(Fwfleet__Bootstrap *bs, const char *sysroot,
    struct engine **out, char *err, size_t errlen)
{
	struct engine *e = xcalloc(1, sizeof(*e));
	uint16_t first = bs->port ? (uint16_t)bs->port : FW_ENGINE_PORT;
	int r = FW_ERR_INTERNAL;

	*out = NULL;
	e->listen_fd = -1;
	e->sysroot = sysroot;
	e->diag = diag_new();
	e->idle_timeout_s = bs->idle_timeout_s ? bs->idle_timeout_s :
	    FW_IDLE_TIMEOUT_S;
	e->ssl_ctx = tls_ctx_new(TLS_ROLE_SERVER,
	    (const char *)bs->ca_cert_pem.data, bs->ca_cert_pem.len,
	    (const char *)bs->cert_pem.data, bs->cert_pem.len,
	    (const char *)bs->key_pem.data, bs->key_pem.len, err, errlen);
	if (e->ssl_ctx == NULL) {
		r = FW_ERR_TLS;
		goto out;
	}
	if ((e->listen_fd = bind_control(first, bs->loopback_only,
	    &e->port)) < 0) {
		fw_snprintf(err, errlen, "cannot bind the control port "
		    "(%u-%u): %s", first, first + FW_ENGINE_PORT_TRIES - 1,
		    strerror(errno));
		r = FW_ERR_SYSTEM;
		goto out;
	}
	e->bs = bs;
	e->state = "starting";
	e->mode = "ephemeral";
	*out = e;
	e = NULL;
	r = 0;
out:
	engine_free(e);
	return r;
}

/*
 * A link-local controller URL comes without a zone (the controller's zone
 * means nothing here): it gets the interface that holds the address the
 * controller reached us at.
 */
void engine_zone_urls(const struct engine *e, char **urls, size_t n)
{
	const char *node = e->bs->node_address;
	char zone[64], *url, *end;
	size_t i;

	for (i = 0; i < n; i++) {
		url = urls[i];
		if (strncasecmp(url, "https://[fe80:", 14) != 0 ||
		    (end = strchr(url, ']')) == NULL ||
		    memchr(url, '%', (size_t)(end - url)) != NULL)
			continue;
		if (platform_zone_of(node, zone, sizeof(zone)) != 0) {
			log_warn("%s is link-local, but no interface here "
			    "holds %s: cannot tell its zone", url, node);
			continue;
		}
		urls[i] = xasprintf("%.*s%%25%s%s", (int)(end - url), url,
		    zone, end);
		free(url);
	}
}

static void sweep_note(const char *line, void *arg)
{
	struct engine *e = arg;
	char *prev = e->notes;

	log_info("sweep: %s", line);
	e->notes = xasprintf("%sNOTE %s\n", prev ? prev : "", line);
	free(prev);
}

/* What earlier sessions left, before we add anything of our own. */
static void sweep_leftovers(struct engine *e)
{
	struct sweep_opts so = { 0 };
	char *dir = xstrdup(e->bs->workdir), *slash;

	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		so.remote_dir = dir;
		so.own_session = e->bs->session_id;
		so.dead = e->bs->dead_sessions;
		so.n_dead = e->bs->n_dead_sessions;
		so.grace_s = SWEEP_GRACE_S;
		so.dead_rules_only = 1;
		sweep_run(&so, sweep_note, e);
	}
	free(dir);
}

int engine_open(struct engine *e, char *err, size_t errlen)
{
	char why[512];
	size_t i;

	sweep_leftovers(e);
	engine_zone_urls(e, e->bs->controller_urls, e->bs->n_controller_urls);
	if (!e->bs->open_firewall)
		return 0;
	if (firewall_open(e->port, e->bs->session_id, &e->fw, why,
	    sizeof(why)) != 0) {
		fw_snprintf(err, errlen, "--open-firewall: %s", why);
		return FW_ERR_SYSTEM;
	}
	for (i = 0; i < firewall_count(e->fw); i++)
		log_info("opened: %s", firewall_rule(e->fw, i));
	if (firewall_count(e->fw) == 0)
		log_info("--open-firewall: no firewall filters input here");
	return 0;
}

/* Closes our rules; 0 if none are left. */
static int close_firewall(struct engine *e, char *err, size_t errlen)
{
	int r;

	if (e->fw == NULL)
		return 0;
	r = firewall_close(e->fw, err, errlen);
	e->fw = NULL;
	return r;
}

int engine_release(struct engine *e, char *detail, size_t len)
{
	char why[512];

	if (e->workdir_removed)
		return 0;
	/* A rule we could not remove keeps the work directory (and this
	 * binary) for the controller's cleanup to try again. */
	if (close_firewall(e, why, sizeof(why)) != 0) {
		fw_snprintf(detail, len, "cannot close the firewall rules: %s",
		    why);
		engine_note_error(e, "%s", detail);
		return FW_ERR_SYSTEM;
	}
	if (e->bs->workdir[0] == '\0')
		return 0;
	if (platform_remove_workdir(e->bs->workdir) != 0) {
		fw_snprintf(detail, len, "cannot remove %s: %s",
		    e->bs->workdir, strerror(errno));
		engine_note_error(e, "%s", detail);
		return FW_ERR_SYSTEM;
	}
	e->workdir_removed = 1;
	return 0;
}

void engine_self_sha256(const char *path, char hex[65])
{
	char *data = NULL;
	size_t len = 0;

	if (fw_read_file(path, 256u << 20, &data, &len) != 0) {
		fw_snprintf(hex, 65, "unknown");
		return;
	}
	fw_sha256_hex(data, len, hex);
	free(data);
}

int engine_persistent(const struct engine *e)
{
	return strcmp(e->mode, "persistent") == 0;
}

void engine_touch(struct engine *e)
{
	e->last_seen_ms = fw_now_ms();
	e->last_seen_wall = time(NULL);
}

void engine_activity(struct engine *e)
{
	e->last_activity_ms = fw_now_ms();
}

void engine_stop(struct engine *e, int remove_workdir, const char *why)
{
	char detail[512];

	if (strcmp(e->state, "shutting-down") == 0)
		return;
	log_info("stopping: %s", why);
	e->state = "shutting-down";
	control_close_all(e);
	if (remove_workdir)
		engine_release(e, detail, sizeof(detail));
	event_base_loopexit(e->base, NULL);
}

static void on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;

	event_add(e->listen_ev, NULL);
}

static void on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;
	struct timeval one_s = { 1, 0 };
	int cfd;

	if ((cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
		control_accept(e, cfd);
		return;
	}
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
	    errno == ENOMEM) {
		/* Out of descriptors: the listener would fire at once again;
		 * pause it for a second instead of spinning. */
		log_warn("cannot accept: %s; pausing 1 s", strerror(errno));
		event_del(e->listen_ev);
		event_base_once(e->base, -1, EV_TIMEOUT, on_accept_resume, e,
		    &one_s);
	}
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct engine *e = arg;
	uint64_t last = e->last_seen_ms > e->last_activity_ms ?
	    e->last_seen_ms : e->last_activity_ms;
	uint64_t idle_ms = fw_now_ms() - last;

	if (deploy_activity(e->deploy) != NULL ||
	    strcmp(e->mode, "persistent") == 0)
		return;	/* the controller awaits what runs; agents stay */
	if (idle_ms >= (uint64_t)e->idle_timeout_s * 1000)
		engine_stop(e, 1, "the controller has been silent for the "
		    "idle timeout; cleaning up");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	engine_stop(arg, 1, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

static int engine_events(struct engine *e)
{
	struct timeval one_s = { 1, 0 };

	if ((e->base = event_base_new()) == NULL)
		return FW_ERR_NOMEM;
	e->listen_ev = event_new(e->base, e->listen_fd, EV_READ | EV_PERSIST,
	    on_accept, e);
	e->watchdog_ev = event_new(e->base, -1, EV_PERSIST, on_watchdog, e);
	e->sigterm_ev = evsignal_new(e->base, SIGTERM, on_signal, e);
	e->sigint_ev = evsignal_new(e->base, SIGINT, on_signal, e);
	if (e->listen_ev == NULL || e->watchdog_ev == NULL ||
	    e->sigterm_ev == NULL || e->sigint_ev == NULL)
		return FW_ERR_NOMEM;
	if (event_add(e->listen_ev, NULL) != 0 ||
	    event_add(e->watchdog_ev, &one_s) != 0 ||
	    event_add(e->sigterm_ev, NULL) != 0 ||
	    event_add(e->sigint_ev, NULL) != 0)
		return FW_ERR_INTERNAL;
	return 0;
}

int engine_run(struct engine *e, int ready_fd)
{
	char err[256];
	int r;

	signal(SIGPIPE, SIG_IGN);
	e->started_ms = fw_now_ms();
	/* A session's engine was just started by its controller; an agent
	 * has seen none yet. */
	if (!engine_persistent(e))
		engine_touch(e);
	if ((r = engine_events(e)) != 0) {
		log_error("cannot set up the event loop: %s", fw_strerror(r));
		return 1;
	}
	if (deploy_new(e, &e->deploy, err, sizeof(err)) != 0)
		log_warn("deploying is not available: %s", err);
	if (diag_listen(e, err, sizeof(err)) != 0)
		log_warn("no local diag socket: %s", err);
	e->state = "serving";
	log_info("serving on port %u, session %s, idle timeout %us",
	    e->port, e->bs->session_id, e->idle_timeout_s);
	if (ready_fd >= 0) {
		(void)!write(ready_fd, "1", 1);
		close(ready_fd);
	}
	event_base_dispatch(e->base);
	return 0;
}

void engine_free(struct engine *e)
{
	char why[512];

	if (e == NULL)
		return;
	control_close_all(e);
	deploy_free(e->deploy);
	e->deploy = NULL;
	diag_free(e->diag);
	e->diag = NULL;
	if (e->listen_ev != NULL)
		event_free(e->listen_ev);
	if (e->watchdog_ev != NULL)
		event_free(e->watchdog_ev);
	if (e->sigterm_ev != NULL)
		event_free(e->sigterm_ev);
	if (e->sigint_ev != NULL)
		event_free(e->sigint_ev);
	if (e->base != NULL)
		event_base_free(e->base);
	close_firewall(e, why, sizeof(why));
	if (e->listen_fd >= 0)
		close(e->listen_fd);
	free(e->notes);
	SSL_CTX_free(e->ssl_ctx);
	EVP_PKEY_free(e->renew_key);
	agent_journal_close(e->journal);
	free(e->repo_pub);
	if (e->bs != NULL)
		fwfleet__bootstrap__free_unpacked(e->bs, NULL);
	free(e);
}
