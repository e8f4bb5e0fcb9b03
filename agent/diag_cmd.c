#include "diag_cmd.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "diag.h"
#include "diag_render.h"
#include "err.h"
#include "frame.h"
#include "proto.h"
#include "util.h"

#define DIAG_CMD_MAX_SOCKETS	256

struct asked {
	char *path;
	Fwfleet__Diag *diag;		/* NULL: no answer */
	char *error;
};

struct asked_list {
	struct asked v[DIAG_CMD_MAX_SOCKETS];
	size_t n;
};

/* --- one socket ---------------------------------------------------------- */

static int read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	ssize_t n;

	while (len > 0) {
		n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EPIPE;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_request(int fd, char *err, size_t errlen)
{
	Fwfleet__ControllerMsg m = FWFLEET__CONTROLLER_MSG__INIT;
	Fwfleet__DiagRequest req = FWFLEET__DIAG_REQUEST__INIT;
	uint8_t buf[64];
	size_t len;

	m.id = 1;
	m.msg_case = FWFLEET__CONTROLLER_MSG__MSG_DIAG;
	m.diag = &req;
	len = fwfleet__controller_msg__get_packed_size(&m);
	if (len > sizeof(buf) - FRAME_HEADER_LEN ||
	    frame_encode_header(len, FW_MSG_MAX, buf) != 0)
		return FW_ERR_INTERNAL;
	fwfleet__controller_msg__pack(&m, buf + FRAME_HEADER_LEN);
	if (fw_write_all(fd, buf, len + FRAME_HEADER_LEN) != 0) {
		fw_snprintf(err, errlen, "cannot send: %s", strerror(errno));
		return FW_ERR_SYSTEM;
	}
	return 0;
}

/* Reads one framed EngineMsg. */
static int read_reply(int fd, Fwfleet__EngineMsg **out, char *err,
    size_t errlen)
{
	uint8_t *body;
	uint32_t be;
	size_t plen;

	*out = NULL;
	if (read_full(fd, &be, sizeof(be)) != 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			fw_snprintf(err, errlen, "no answer within %d s",
			    DIAG_LOCAL_TIMEOUT_S);
		else
			fw_snprintf(err, errlen, "no answer: %s",
			    strerror(errno));
		return FW_ERR_TIMEOUT;
	}
	if ((plen = ntohl(be)) > FW_MSG_MAX) {
		fw_snprintf(err, errlen, "bad reply: %s",
		    fw_strerror(FW_ERR_FRAME_TOO_BIG));
		return FW_ERR_PROTOCOL;
	}
	body = xmalloc(plen ? plen : 1);
	if (read_full(fd, body, plen) != 0) {
		fw_snprintf(err, errlen, "reply cut short: %s",
		    strerror(errno));
		free(body);
		return FW_ERR_PROTOCOL;
	}
	*out = fwfleet__engine_msg__unpack(NULL, plen, body);
	free(body);
	if (*out == NULL) {
		fw_snprintf(err, errlen, "bad reply: not an EngineMsg");
		return FW_ERR_PROTOCOL;
	}
	return 0;
}

static int connect_local(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { DIAG_LOCAL_TIMEOUT_S, 0 };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fw_snprintf(err, errlen, "socket path too long");
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		fw_snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
		return fd;
	if (errno == EACCES || errno == EPERM)
		fw_snprintf(err, errlen, "%s: run as root (the diag socket "
		    "answers root only)", strerror(errno));
	else if (errno == ECONNREFUSED)
		fw_snprintf(err, errlen, "no engine listens there (it has "
		    "exited; `fwfleet-engine sweep` removes what it left)");
	else
		fw_snprintf(err, errlen, "cannot connect: %s",
		    strerror(errno));
	close(fd);
	return -1;
}

/* Asks the engine at path; *out is its Diag (caller frees). */
static int ask(const char *path, Fwfleet__Diag **out, char *err,
    size_t errlen)
{
	Fwfleet__EngineMsg *m = NULL;
	char why[256];
	int fd, r, sent;

	*out = NULL;
	if ((fd = connect_local(path, err, errlen)) < 0)
		return FW_ERR_SYSTEM;
	if ((sent = send_request(fd, err, errlen)) == FW_ERR_INTERNAL) {
		r = sent;
		goto out;
	}
	/* An engine that refuses us answers before it reads: its reply
	 * counts even when our request could not be sent. */
	if ((r = read_reply(fd, &m, why, sizeof(why))) != 0) {
		if (sent == 0)
			fw_snprintf(err, errlen, "%s", why);
		r = sent != 0 ? sent : r;
		goto out;
	}
	if (m->msg_case == FWFLEET__ENGINE_MSG__MSG_DIAG && m->diag != NULL) {
		*out = (Fwfleet__Diag *)proto_copy(&m->diag->base);
	} else if (m->msg_case == FWFLEET__ENGINE_MSG__MSG_ERROR) {
		fw_snprintf(err, errlen, "refused: %s", m->error->message);
		r = FW_ERR_REMOTE;
	} else {
		fw_snprintf(err, errlen, "unexpected reply");
		r = FW_ERR_PROTOCOL;
	}
out:
	if (m != NULL)
		fwfleet__engine_msg__free_unpacked(m, NULL);
	close(fd);
	return r;
}

/* --- finding the sockets -------------------------------------------------- */

static void add_path(struct asked_list *l, char *path, const char *error)
{
	if (l->n == DIAG_CMD_MAX_SOCKETS) {
		free(path);
		return;
	}
	l->v[l->n].path = path;
	l->v[l->n].error = error != NULL ? xstrdup(error) : NULL;
	l->n++;
}

/* Adds dir's socket if there is one; one we may not see is added with
 * the reason, so that a user who is not root learns why. */
static void maybe_add(struct asked_list *l, const char *dir)
{
	struct stat st;
	char *path = xasprintf("%s/%s", dir, DIAG_SOCKET_NAME), *why;

	if (lstat(path, &st) == 0) {
		add_path(l, path, NULL);
	} else if (errno == EACCES || errno == EPERM) {
		why = xasprintf("%s: run as root (the engine's directory and "
		    "diag socket are root's only)", strerror(errno));
		add_path(l, path, why);
		free(why);
	} else {
		free(path);
	}
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct asked *)a)->path,
	    ((const struct asked *)b)->path);
}

/* Work directories are root's directories named fwfleet-*. */
static void find_sockets(const char *remote_dir, struct asked_list *l)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	char *dir;

	if ((d = opendir(remote_dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strncmp(de->d_name, "fwfleet-", 8) != 0)
				continue;
			dir = xasprintf("%s/%s", remote_dir, de->d_name);
			if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
			    st.st_uid == 0)
				maybe_add(l, dir);
			free(dir);
		}
		closedir(d);
	}
	qsort(l->v, l->n, sizeof(l->v[0]), by_path);
	maybe_add(l, "/" AGENT_STATE);
}

/* --- the command ---------------------------------------------------------- */

static void print_all(const struct asked_list *l, int json)
{
	struct diag_entry *v = xcalloc(l->n ? l->n : 1, sizeof(*v));
	size_t i;

	for (i = 0; i < l->n; i++) {
		v[i].address = l->v[i].path;
		v[i].diag = l->v[i].diag;
		v[i].error = l->v[i].error;
		if (json && v[i].diag == NULL)
			fprintf(stderr, "fwfleet-engine diag: %s: %s\n",
			    v[i].address, v[i].error);
	}
	if (json)
		diag_render_json(stdout, v, l->n, time(NULL));
	else
		diag_render_text(stdout, v, l->n, time(NULL));
	fflush(stdout);
	free(v);
}

static int run(struct asked_list *l, int json)
{
	char err[512];
	size_t i, failed = 0;

	for (i = 0; i < l->n; i++) {
		if (l->v[i].error == NULL &&
		    ask(l->v[i].path, &l->v[i].diag, err, sizeof(err)) != 0)
			l->v[i].error = xstrdup(err);
		failed += l->v[i].diag == NULL;
	}
	print_all(l, json);
	return failed ? 1 : 0;
}

static int usage(void)
{
	fputs("usage: fwfleet-engine diag [--json] [--socket PATH] "
	    "[--remote-dir DIR]\n"
	    "Shows what the engines running here report (root only): "
	    "version, mode,\n"
	    "state, job and components, recent errors, firewall rules, "
	    "certificate.\n"
	    "Without --socket, asks every engine in DIR (default /tmp) and "
	    "the\n"
	    "persistent agent.\n", stderr);
	return 2;
}

int diag_cmd_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "remote-dir", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct asked_list *l = xcalloc(1, sizeof(*l));
	const char *sock = NULL, *remote_dir = "/tmp";
	int ch, json = 0, r;
	size_t i;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j': json = 1; break;
		case 's': sock = optarg; break;
		case 'r': remote_dir = optarg; break;
		default: free(l); return usage();
		}
	}
	if (optind != argc || remote_dir[0] != '/') {
		free(l);
		return usage();
	}
	signal(SIGPIPE, SIG_IGN);	/* a refusing engine may close first */
	if (sock != NULL)
		add_path(l, xstrdup(sock), NULL);
	else
		find_sockets(remote_dir, l);
	if (l->n == 0) {
		fprintf(stderr, "fwfleet-engine diag: no engine runs here "
		    "(none in %s/fwfleet-*, no persistent agent)\n",
		    remote_dir);
		if (json)
			print_all(l, json);
		r = 1;
	} else {
		r = run(l, json);
	}
	for (i = 0; i < l->n; i++) {
		free(l->v[i].path);
		free(l->v[i].error);
		if (l->v[i].diag != NULL)
			fwfleet__diag__free_unpacked(l->v[i].diag, NULL);
	}
	free(l);
	return r;
}
