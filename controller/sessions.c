#include "sessions.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "util.h"

struct record {
	char *id;
	time_t mtime;
};

/* Field 22 of /proc/<pid>/stat: the start time, which tells a reused
 * pid from the process that wrote the record. */
static int proc_start(long pid, unsigned long long *start)
{
	char path[64], *data = NULL, *p;
	size_t len;
	int i, r = -1;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (fw_read_file(path, 4096, &data, &len) != 0)
		return -1;
	/* The command name may hold spaces: fields count after its ')'. */
	if ((p = strrchr(data, ')')) != NULL) {
		for (i = 2; i < 22 && p != NULL; i++)
			p = strchr(p + 1, ' ');
		if (p != NULL && sscanf(p + 1, "%llu", start) == 1)
			r = 0;
	}
	free(data);
	return r;
}

static char *record_path(const char *state_dir, const char *sid)
{
	return xasprintf("%s/sessions/%s", state_dir, sid);
}

int sessions_register(const char *state_dir, const char *sid, char *err,
    size_t errlen)
{
	unsigned long long start = 0;
	char *dir = xasprintf("%s/sessions", state_dir);
	char *path = record_path(state_dir, sid), *text;
	int r;

	proc_start((long)getpid(), &start);
	text = xasprintf("%ld %llu\n", (long)getpid(), start);
	if ((r = fw_mkdirs(dir, 0700)) != 0 ||
	    (r = fw_write_file(path, text, strlen(text), 0600)) != 0)
		fw_snprintf(err, errlen, "cannot record the session in %s: %s",
		    dir, strerror(errno));
	free(text);
	free(path);
	free(dir);
	return r;
}

void sessions_unregister(const char *state_dir, const char *sid)
{
	char *path = record_path(state_dir, sid);

	unlink(path);
	free(path);
}

/* Whether the run that wrote the record at path is still running. */
static int record_live(const char *path)
{
	unsigned long long want, start;
	char *data = NULL;
	size_t len;
	long pid;
	int live = 0;

	if (fw_read_file(path, 256, &data, &len) != 0)
		return 0;
	if (sscanf(data, "%ld %llu", &pid, &want) == 2 && pid > 0 &&
	    proc_start(pid, &start) == 0 && start == want)
		live = 1;
	free(data);
	return live;
}

static int session_id_ok(const char *s)
{
	return strlen(s) == 16 && strspn(s, "0123456789abcdef") == 16;
}

static int newest_first(const void *a, const void *b)
{
	const struct record *x = a, *y = b;

	return x->mtime < y->mtime ? 1 : x->mtime > y->mtime ? -1 : 0;
}

/* Reads the dead records (removing expired ones) into recs. */
static size_t collect_dead(const char *dir, struct record **recs)
{
	struct dirent *de;
	struct stat st;
	size_t n = 0, cap = 0;
	char *path;
	DIR *d;

	*recs = NULL;
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (!session_id_ok(de->d_name))
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if (stat(path, &st) == 0 && !record_live(path)) {
			if (time(NULL) - st.st_mtime > SESSIONS_KEEP_S) {
				unlink(path);
			} else {
				if (n == cap) {
					cap = cap ? cap * 2 : 16;
					*recs = xrealloc(*recs, cap,
					    sizeof(**recs));
				}
				(*recs)[n].id = xstrdup(de->d_name);
				(*recs)[n++].mtime = st.st_mtime;
			}
		}
		free(path);
	}
	closedir(d);
	return n;
}

size_t sessions_dead(const char *state_dir, char ***out)
{
	char *dir = xasprintf("%s/sessions", state_dir);
	struct record *recs;
	size_t i, n = collect_dead(dir, &recs);

	if (n > 1)
		qsort(recs, n, sizeof(*recs), newest_first);
	*out = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		if (i < SESSIONS_MAX_DEAD)
			(*out)[i] = recs[i].id;
		else
			free(recs[i].id);
	}
	free(recs);
	free(dir);
	return n < SESSIONS_MAX_DEAD ? n : SESSIONS_MAX_DEAD;
}

void sessions_free(char **ids, size_t n)
{
	size_t i;

	for (i = 0; i < n && ids != NULL; i++)
		free(ids[i]);
	free(ids);
}

int sessions_contains(char **ids, size_t n, const char *sid)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(ids[i], sid) == 0)
			return 1;
	return 0;
}
