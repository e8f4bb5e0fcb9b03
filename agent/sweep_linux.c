/*
 * The leftover sweep on Linux: engines found through /proc/<pid>/exe,
 * work directories by name, firewall rules through firewall_sweep().
 */
#include "sweep.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "firewall.h"
#include "platform.h"
#include "util.h"

#define SID_LEN		16	/* the controller's session ids: 16 hex */
#define MAX_ENGINES	256
#define STOP_WAIT_MS	3000

struct found {
	pid_t pid;
	char sid[SID_LEN + 1];
};

struct sweep {
	const struct sweep_opts *o;
	void (*note)(const char *, void *);
	void *arg;
	struct found live[MAX_ENGINES];	/* engines still running */
	size_t n_live;
	char self[SID_LEN + 1];		/* the session we run from, if any */
	int failures;
};

static void __attribute__((format(printf, 2, 3)))
note(struct sweep *s, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (s->note != NULL)
		s->note(line, s->arg);
}

/*
 * If name is "fwfleet-<16 hex>-<digits>", copies the session id into sid
 * and returns 1.
 */
static int workdir_session(const char *name, char sid[SID_LEN + 1])
{
	const char *p = name + 8;
	size_t i;

	if (strncmp(name, "fwfleet-", 8) != 0)
		return 0;
	for (i = 0; i < SID_LEN; i++)
		if (!strchr("0123456789abcdef", p[i]) || p[i] == '\0')
			return 0;
	if (p[SID_LEN] != '-' || p[SID_LEN + 1] == '\0' ||
	    strspn(p + SID_LEN + 1, "0123456789") != strlen(p + SID_LEN + 1))
		return 0;
	memcpy(sid, p, SID_LEN);
	sid[SID_LEN] = '\0';
	return 1;
}

/* The session of the engine binary at exe, if it runs from a work dir. */
static int engine_session(const struct sweep_opts *o, char *exe,
    char sid[SID_LEN + 1])
{
	size_t dl = strlen(o->remote_dir), n = strlen(exe);
	char *slash;

	if (n > 10 && strcmp(exe + n - 10, " (deleted)") == 0)
		exe[n - 10] = '\0';
	if (strncmp(exe, o->remote_dir, dl) != 0 || exe[dl] != '/')
		return 0;
	if ((slash = strchr(exe + dl + 1, '/')) == NULL ||
	    strcmp(slash, "/fwfleet-engine") != 0)
		return 0;
	*slash = '\0';
	if (o->only_workdir != NULL && strcmp(exe, o->only_workdir) != 0)
		return 0;
	return workdir_session(exe + dl + 1, sid);
}

/* Never swept: the caller's session, and the one this binary runs from
 * unless the caller named that work directory (`fwfleet cleanup` ships an
 * engine to each node to sweep; where test nodes share one host, each
 * sees the others'). */
static int session_own(const struct sweep *s, const char *sid)
{
	return (s->o->own_session != NULL &&
	    strcmp(sid, s->o->own_session) == 0) || strcmp(sid, s->self) == 0;
}

static int session_dead(const struct sweep *s, const char *sid)
{
	const struct sweep_opts *o = s->o;
	size_t i;

	if (session_own(s, sid))
		return 0;
	if (o->force)
		return 1;
	for (i = 0; i < o->n_dead; i++)
		if (strcmp(o->dead[i], sid) == 0)
			return 1;
	return 0;
}

static int session_live(const struct sweep *s, const char *sid)
{
	size_t i;

	if (session_own(s, sid))
		return 1;
	for (i = 0; i < s->n_live; i++)
		if (strcmp(s->live[i].sid, sid) == 0)
			return 1;
	return 0;
}

static int pid_running(pid_t pid)
{
	char path[64], buf[512];
	char *st;
	FILE *f;
	int running = 0;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		if (strncmp(buf, "State:", 6) == 0) {
			st = buf + 6 + strspn(buf + 6, " \t");
			running = *st != 'Z' && *st != 'X';
			break;
		}
	}
	fclose(f);
	return running;
}

/* SIGTERM (the engine then closes its rules and removes its directory),
 * and SIGKILL if it is still there after STOP_WAIT_MS. */
static void stop_engine(struct sweep *s, const struct found *e)
{
	uint64_t end = fw_now_ms() + STOP_WAIT_MS;

	if (kill(e->pid, SIGTERM) != 0 && errno != ESRCH) {
		note(s, "cannot stop engine %ld of session %s: %s",
		    (long)e->pid, e->sid, strerror(errno));
		s->failures++;
		return;
	}
	while (pid_running(e->pid) && fw_now_ms() < end)
		usleep(20 * 1000);
	if (pid_running(e->pid)) {
		kill(e->pid, SIGKILL);
		usleep(50 * 1000);
	}
	note(s, "stopped engine %ld of session %s", (long)e->pid, e->sid);
}

/* Finds running engines; stops those of dead sessions, keeps the rest. */
static void sweep_engines(struct sweep *s)
{
	char path[300], exe[4096];
	struct dirent *de;
	struct found e;
	ssize_t n;
	DIR *d;

	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strspn(de->d_name, "0123456789") != strlen(de->d_name))
			continue;
		e.pid = (pid_t)atol(de->d_name);
		if (e.pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/exe", de->d_name);
		if ((n = readlink(path, exe, sizeof(exe) - 1)) <= 0)
			continue;
		exe[n] = '\0';
		if (!engine_session(s->o, exe, e.sid) || !pid_running(e.pid))
			continue;
		if (session_dead(s, e.sid))
			stop_engine(s, &e);
		else if (s->n_live < MAX_ENGINES)
			s->live[s->n_live++] = e;
	}
	closedir(d);
}

static int keep_rule(const char *tag, void *arg)
{
	struct sweep *s = arg;

	if (s->o->dead_rules_only)
		return !session_dead(s, tag);
	return session_live(s, tag);
}

static void sweep_rules(struct sweep *s)
{
	char err[512];
	size_t removed = 0;

	if (s->o->dead_rules_only && s->o->n_dead == 0 && !s->o->force)
		return;
	if (firewall_sweep(keep_rule, s, &removed, err, sizeof(err)) != 0) {
		note(s, "cannot sweep firewall rules: %s", err);
		s->failures++;
	}
	if (removed > 0)
		note(s, "removed %zu firewall rule(s) of earlier sessions",
		    removed);
}

static int dir_expired(const char *path, unsigned grace_s)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
	    time(NULL) - st.st_mtime >= (time_t)grace_s;
}

static void sweep_dirs(struct sweep *s)
{
	char sid[SID_LEN + 1], *path;
	struct dirent *de;
	DIR *d;

	if ((d = opendir(s->o->remote_dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (!workdir_session(de->d_name, sid) || session_live(s, sid))
			continue;
		path = xasprintf("%s/%s", s->o->remote_dir, de->d_name);
		if (s->o->only_workdir != NULL &&
		    strcmp(path, s->o->only_workdir) != 0) {
			free(path);
			continue;
		}
		if (session_dead(s, sid) || dir_expired(path, s->o->grace_s)) {
			if (platform_remove_workdir(path) == 0) {
				note(s, "removed %s", path);
			} else {
				note(s, "cannot remove %s: %s", path,
				    strerror(errno));
				s->failures++;
			}
		}
		free(path);
	}
	closedir(d);
}

/* The session of the work directory this binary runs from. */
static void find_self(struct sweep *s)
{
	char exe[PATH_MAX];
	ssize_t n;

	if (s->o->only_workdir != NULL ||
	    (n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return;
	exe[n] = '\0';
	if (!engine_session(s->o, exe, s->self))
		s->self[0] = '\0';
}

int sweep_run(const struct sweep_opts *o,
    void (*fn)(const char *line, void *arg), void *arg)
{
	struct sweep *s = xcalloc(1, sizeof(*s));
	int failures;

	s->o = o;
	s->note = fn;
	s->arg = arg;
	find_self(s);
	sweep_engines(s);
	sweep_rules(s);
	sweep_dirs(s);
	failures = s->failures;
	free(s);
	return failures;
}
