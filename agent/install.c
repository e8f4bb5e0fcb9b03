/*
 * Installer runs, watched from the event loop: the output pipe is a read
 * event; a 100 ms timer polls for the child's exit (portable, and no
 * process-wide SIGCHLD disposition to fight over) and enforces the
 * deadline. Process creation and signals are process_*() (platform).
 */
#include "install.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "err.h"
#include "log.h"
#include "proto.h"
#include "process.h"
#include "rcmap.h"
#include "util.h"


#define INSTALL_TICK_MS		100
#define INSTALL_REAP_MS		2000	/* wait for a killed group to go */
#define INSTALL_READ_MAX	16384
#define INSTALL_ERR_MAX		256
#define INSTALL_DEFAULT_PATH	"/usr/local/sbin:/usr/local/bin:/usr/sbin:" \
				"/usr/bin:/sbin:/bin"

extern char **environ;

struct install {
	struct event_base *base;
	struct process *proc;
	struct event *out_ev;
	struct event *tick_ev;
	install_line_cb line_cb;
	install_done_cb done_cb;
	void *arg;
	char *component_id;
	Fwfleet__ReturnCodeMap *rcmap;	/* our copy; NULL if none given */

	uint64_t start_ms;
	uint64_t deadline_ms;
	unsigned grace_ms;
	uint64_t kill_at_ms;		/* SIGKILL due, once SIGTERM went */
	uint64_t reap_until_ms;		/* leader gone: wait for the rest */
	int term_sent, kill_sent;
	int timed_out, cancelled, cancel_noted;
	int ended, exit_code, signo;

	char *tail;			/* last INSTALL_OUTPUT_MAX bytes */
	size_t tail_len;
	uint64_t total;
	char line[INSTALL_LINE_MAX + 1];
	size_t line_len;
};

/* --- output ---------------------------------------------------------- */


static void line_emit(struct install *in)
{
	in->line[in->line_len] = '\0';
	if (in->line_len > 0 && in->line[in->line_len - 1] == '\r')
		in->line[--in->line_len] = '\0';
	fw_text_clean(in->line, FW_TEXT_KEEP_TAB | FW_TEXT_KEEP_C1);
	log_info("%s installer: %s", in->component_id, in->line);
	if (in->line_cb != NULL)
		in->line_cb(in->arg, in->line);
	in->line_len = 0;
}

static void tail_add(struct install *in, const char *p, size_t n)
{
	size_t drop;

	if (n > INSTALL_OUTPUT_MAX) {	/* only the end can be kept */
		p += n - INSTALL_OUTPUT_MAX;
		n = INSTALL_OUTPUT_MAX;
	}
	if (in->tail_len + n > INSTALL_OUTPUT_MAX) {
		drop = in->tail_len + n - INSTALL_OUTPUT_MAX;
		memmove(in->tail, in->tail + drop, in->tail_len - drop);
		in->tail_len -= drop;
	}
	memcpy(in->tail + in->tail_len, p, n);
	in->tail_len += n;
}

static void output_add(struct install *in, const char *p, size_t n)
{
	size_t i;

	in->total += n;
	tail_add(in, p, n);
	for (i = 0; i < n; i++) {
		if (p[i] == '\n') {
			line_emit(in);
			continue;
		}
		in->line[in->line_len++] = p[i] != '\0' ? p[i] : '?';
		if (in->line_len == INSTALL_LINE_MAX)
			line_emit(in);
	}
}

/* Reads what the pipe holds (at most max bytes); closes it at EOF. */
static void output_read(struct install *in, size_t max)
{
	char buf[INSTALL_READ_MAX];
	size_t done = 0;
	ssize_t n;
	int fd;

	while (done < max && (fd = process_output_fd(in->proc)) >= 0) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			event_del(in->out_ev);
			process_close_output(in->proc);
			return;
		}
		output_add(in, buf, (size_t)n);
		done += (size_t)n;
	}
}

/* --- the end --------------------------------------------------------- */

/* Splits the kept output into lines; drops a cut-off first line. */
static char **tail_lines(struct install *in, size_t *n)
{
	char **lines = NULL, *s = in->tail, *nl;
	size_t cap = 0;

	*n = 0;
	in->tail[in->tail_len] = '\0';
	if (in->total > in->tail_len && (nl = strchr(s, '\n')) != NULL)
		s = nl + 1;
	while (*s != '\0') {
		nl = strchr(s, '\n');
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			lines = xrealloc(lines, cap, sizeof(*lines));
		}
		lines[*n] = nl != NULL ? strndup(s, (size_t)(nl - s)) :
		    xstrdup(s);
		if (lines[*n] == NULL)
			fatal("out of memory");
		fw_rtrim(lines[*n]);
		fw_text_clean(lines[*n], FW_TEXT_KEEP_TAB | FW_TEXT_KEEP_C1);
		(*n)++;
		if (nl == NULL)
			break;
		s = nl + 1;
	}
	return lines;
}

static void install_destroy(struct install *in)
{
	if (in == NULL)
		return;
	if (in->out_ev != NULL)
		event_free(in->out_ev);
	if (in->tick_ev != NULL)
		event_free(in->tick_ev);
	process_free(in->proc);
	if (in->rcmap != NULL)
		fwfleet__return_code_map__free_unpacked(in->rcmap, NULL);
	free(in->component_id);
	free(in->tail);
	free(in);
}

static Fwfleet__InstallOutcome outcome_of(struct install *in)
{
	if (in->signo != 0 || in->exit_code < 0 || in->timed_out ||
	    in->cancelled)
		return FWFLEET__INSTALL_OUTCOME__OUTCOME_FAILED;
	/* A request without a map gets rcmap's default (hp-linux). */
	return rcmap_outcome(in->rcmap, in->exit_code);
}

static void install_finish(struct install *in)
{
	struct install_result res;
	char error[INSTALL_ERR_MAX] = "", **lines;
	size_t i;

	if (in->line_len > 0)
		line_emit(in);
	memset(&res, 0, sizeof(res));
	res.exit_code = in->signo ? -1 : in->exit_code;
	res.signo = in->signo;
	res.timed_out = in->timed_out;
	res.cancelled = in->cancelled;
	res.pgid = process_id(in->proc);
	res.duration_ms = fw_now_ms() - in->start_ms;
	res.outcome = outcome_of(in);
	if (in->timed_out)
		fw_snprintf(error, sizeof(error), "installer timed out after "
		    "%llu s and was killed",
		    (unsigned long long)(in->deadline_ms - in->start_ms) /
		    1000);
	else if (in->cancelled)
		fw_snprintf(error, sizeof(error),
		    "installer killed: cancelled");
	else if (in->signo != 0)
		fw_snprintf(error, sizeof(error), "installer killed by signal "
		    "%d", in->signo);
	res.error = error;
	res.output = in->tail;
	res.output_len = in->tail_len;
	res.output_total = in->total;
	res.output_truncated = in->total > in->tail_len;
	lines = tail_lines(in, &res.n_lines);
	res.lines = lines;
	log_info("%s installer ended: exit code %d%s%s", in->component_id,
	    res.exit_code, error[0] ? ", " : "", error);
	in->done_cb(in->arg, &res);
	for (i = 0; i < res.n_lines; i++)
		free(lines[i]);
	free(lines);
	install_destroy(in);
}

/* SIGTERM to the group now, SIGKILL after the grace period. */
static void install_kill(struct install *in)
{
	if (in->term_sent)
		return;
	in->term_sent = 1;
	in->kill_at_ms = fw_now_ms() + in->grace_ms;
	if (process_kill_group(in->proc, 0) != 0)
		log_warn("%s: cannot signal the installer's group: %s",
		    in->component_id, strerror(errno));
}

/* Called on each tick and at EOF: moves the run on; 1 if finished. */
static int install_step(struct install *in)
{
	uint64_t now = fw_now_ms();

	if (!in->ended) {
		process_poll(in->proc, &in->ended, &in->exit_code, &in->signo);
		if (in->ended) {
			output_read(in, INSTALL_OUTPUT_MAX);
			if (in->term_sent) {
				/* Whatever it left behind goes too. */
				process_kill_group(in->proc, 1);
				in->kill_sent = 1;
			}
			in->reap_until_ms = now + INSTALL_REAP_MS;
		}
	}
	if (!in->ended) {
		if (!in->term_sent && now >= in->deadline_ms) {
			log_warn("%s: installer timed out; killing its group",
			    in->component_id);
			in->timed_out = 1;
			install_kill(in);
		} else if (in->term_sent && !in->kill_sent &&
		    now >= in->kill_at_ms) {
			process_kill_group(in->proc, 1);
			in->kill_sent = 1;
		}
		return 0;
	}
	/* A group we killed must be gone before we say so; one that ended
	 * on its own keeps what it started in the background. */
	if (process_reap_group(in->proc) && in->kill_sent &&
	    now < in->reap_until_ms)
		return 0;
	install_finish(in);
	return 1;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	install_step(arg);
}

static void on_output(evutil_socket_t fd, short what, void *arg)
{
	struct install *in = arg;

	output_read(in, 4 * INSTALL_READ_MAX);
	if (process_output_fd(in->proc) < 0)
		install_step(in);
}

/* --- starting -------------------------------------------------------- */

struct strv {
	char **v;
	size_t n, cap;
};

static void strv_add(struct strv *s, char *str)
{
	if (s->n + 2 > s->cap) {
		s->cap = s->cap ? s->cap * 2 : 32;
		s->v = xrealloc(s->v, s->cap, sizeof(*s->v));
	}
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

static void strv_free(struct strv *s)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Whether "KEY=..." entry e is for a key already in env. */
static int env_has(const struct strv *env, const char *e)
{
	size_t klen = strcspn(e, "="), i;

	for (i = 0; i < env->n; i++)
		if (strncmp(env->v[i], e, klen) == 0 && env->v[i][klen] == '=')
			return 1;
	return 0;
}

static int env_key_ok(const char *k)
{
	return k != NULL && k[0] != '\0' && strchr(k, '=') == NULL;
}

static int build_env(const struct install_spec *spec, struct strv *env,
    char *err, size_t errlen)
{
	const Fwfleet__InstallRequest *req = spec->req;
	char *e;
	size_t i;

	strv_add(env, xasprintf("FWFLEET_STAGING_DIR=%s", spec->staging_dir));
	strv_add(env, xasprintf("FWFLEET_COMPONENT_ID=%s", req->component_id));
	strv_add(env, xasprintf("FWFLEET_COMPONENT_VERSION=%s", req->version));
	strv_add(env, xasprintf("FWFLEET_PAYLOAD_COUNT=%zu", spec->n_payloads));
	for (i = 0; i < spec->n_payloads; i++) {
		if (spec->payloads[i] == NULL || spec->payloads[i][0] == '\0' ||
		    strchr(spec->payloads[i], '/') != NULL) {
			fw_snprintf(err, errlen, "bad payload name '%.100s'",
			    spec->payloads[i] ? spec->payloads[i] : "");
			return FW_ERR_INVALID;
		}
		strv_add(env, xasprintf("FWFLEET_PAYLOAD_%zu=%s/%s", i + 1,
		    spec->staging_dir, spec->payloads[i]));
	}
	for (i = 0; i < req->n_env; i++) {
		if (!env_key_ok(req->env[i]->key)) {
			fw_snprintf(err, errlen, "bad environment variable "
			    "name '%.100s'", req->env[i]->key ?
			    req->env[i]->key : "");
			return FW_ERR_INVALID;
		}
		e = xasprintf("%s=%s", req->env[i]->key,
		    req->env[i]->value ? req->env[i]->value : "");
		if (env_has(env, e))
			free(e);	/* ours are not to be overridden */
		else
			strv_add(env, e);
	}
	for (i = 0; environ != NULL && environ[i] != NULL; i++)
		if (strchr(environ[i], '=') != NULL &&
		    !env_has(env, environ[i]))
			strv_add(env, xstrdup(environ[i]));
	if (!env_has(env, "PATH="))
		strv_add(env, xstrdup("PATH=" INSTALL_DEFAULT_PATH));
	return 0;
}

/* Whether path has a ".." component. */
static int has_dotdot(const char *p)
{
	size_t n;

	while (*p != '\0') {
		n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}

/* argv with argv[0] resolved inside the staging dir unless absolute. */
static int build_argv(const struct install_spec *spec, struct strv *argv,
    char *err, size_t errlen)
{
	const Fwfleet__InstallRequest *req = spec->req;
	size_t i;

	if (req->n_argv == 0 || req->argv[0][0] == '\0') {
		fw_snprintf(err, errlen, "%s: no installer command",
		    req->component_id);
		return FW_ERR_INVALID;
	}
	if (req->argv[0][0] == '/')
		strv_add(argv, xstrdup(req->argv[0]));
	else if (has_dotdot(req->argv[0])) {
		fw_snprintf(err, errlen, "%s: installer '%.200s' leaves the "
		    "staging directory", req->component_id, req->argv[0]);
		return FW_ERR_INVALID;
	} else
		strv_add(argv, xasprintf("%s/%s", spec->staging_dir,
		    req->argv[0]));
	for (i = 1; i < req->n_argv; i++)
		strv_add(argv, xstrdup(req->argv[i]));
	if (access(argv->v[0], X_OK) != 0) {
		fw_snprintf(err, errlen, "%s: installer %s: %s",
		    req->component_id, argv->v[0], strerror(errno));
		return errno == ENOENT ? FW_ERR_NOT_FOUND : FW_ERR_SYSTEM;
	}
	return 0;
}

static int install_events(struct install *in)
{
	struct timeval tick = { 0, INSTALL_TICK_MS * 1000 };

	in->out_ev = event_new(in->base, process_output_fd(in->proc),
	    EV_READ | EV_PERSIST, on_output, in);
	in->tick_ev = event_new(in->base, -1, EV_PERSIST, on_tick, in);
	if (in->out_ev == NULL || in->tick_ev == NULL ||
	    event_add(in->out_ev, NULL) != 0 ||
	    event_add(in->tick_ev, &tick) != 0)
		return FW_ERR_NOMEM;
	return 0;
}

static uint64_t timeout_ms(const struct install_spec *spec)
{
	if (spec->timeout_ms > 0)
		return spec->timeout_ms;
	if (spec->req->timeout_s > 0)
		return (uint64_t)spec->req->timeout_s * 1000;
	return (uint64_t)INSTALL_TIMEOUT_S * 1000;
}

int install_start(struct event_base *base, const struct install_spec *spec,
    install_line_cb line_cb, install_done_cb done_cb, void *arg,
    struct install **out, char *err, size_t errlen)
{
	struct strv argv = { 0 }, env = { 0 };
	struct install *in = NULL;
	struct process_spec ps;
	int r = FW_ERR_INTERNAL;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if (spec->req == NULL || spec->staging_dir == NULL ||
	    spec->staging_dir[0] != '/' || done_cb == NULL) {
		fw_snprintf(err, errlen, "incomplete install request");
		return FW_ERR_INVALID;
	}
	if (spec->req->return_codes != NULL &&
	    rcmap_check(spec->req->return_codes) != 0) {
		fw_snprintf(err, errlen, "%s: unknown return code convention "
		    "'%.64s' or a bad code map", spec->req->component_id,
		    spec->req->return_codes->convention);
		return FW_ERR_INVALID;
	}
	if ((r = build_argv(spec, &argv, err, errlen)) != 0 ||
	    (r = build_env(spec, &env, err, errlen)) != 0)
		goto out;
	in = xcalloc(1, sizeof(*in));
	in->base = base;
	in->line_cb = line_cb;
	in->done_cb = done_cb;
	in->arg = arg;
	in->component_id = xstrdup(spec->req->component_id);
	if (spec->req->return_codes != NULL)
		in->rcmap = (Fwfleet__ReturnCodeMap *)proto_copy(
		    &spec->req->return_codes->base);
	in->tail = xmalloc(INSTALL_OUTPUT_MAX + 1);
	in->grace_ms = spec->grace_ms ? spec->grace_ms : INSTALL_GRACE_MS;
	ps.path = argv.v[0];
	ps.argv = argv.v;
	ps.envp = env.v;
	ps.cwd = spec->staging_dir;
	in->start_ms = fw_now_ms();
	in->deadline_ms = in->start_ms + timeout_ms(spec);
	if ((r = process_spawn(&ps, &in->proc, err, errlen)) != 0)
		goto out;
	log_info("%s: installer %s started (pid %ld, timeout %llu s)",
	    in->component_id, argv.v[0], process_id(in->proc),
	    (unsigned long long)timeout_ms(spec) / 1000);
	if ((r = install_events(in)) != 0) {
		fw_snprintf(err, errlen, "cannot watch the installer");
		process_kill_group(in->proc, 1);
		process_wait(in->proc, 1000);
		goto out;
	}
	*out = in;
	in = NULL;
	r = 0;
out:
	install_destroy(in);
	strv_free(&argv);
	strv_free(&env);
	return r;
}

void install_cancel(struct install *in, int kill_running)
{
	if (in == NULL)
		return;
	if (!kill_running) {
		if (!in->cancel_noted)
			log_info("%s: cancel asked; letting the running "
			    "installer finish", in->component_id);
		in->cancel_noted = 1;
		return;
	}
	if (in->ended || in->term_sent)
		return;
	log_warn("%s: cancel asked; killing the running installer",
	    in->component_id);
	in->cancelled = 1;
	install_kill(in);
}

long install_pgid(const struct install *in)
{
	return process_id(in->proc);
}

void install_free(struct install *in)
{
	uint64_t end;

	if (in == NULL)
		return;
	process_kill_group(in->proc, 1);
	end = fw_now_ms() + 1000;
	while (process_reap_group(in->proc) && fw_now_ms() < end)
		usleep(10000);
	install_destroy(in);
}
