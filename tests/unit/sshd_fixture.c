/*
 * Private OpenSSH sshds for unit tests (see sshd_fixture.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sshd_fixture.h"
#include "util.h"

#define SSHD		"/usr/sbin/sshd"
#define SSH_KEYGEN	"/usr/bin/ssh-keygen"

/* --- files and keys ------------------------------------------------------ */

static int run(const char *const argv[])
{
	pid_t pid;
	int st, fd;

	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		if ((fd = open("/dev/null", O_WRONLY)) >= 0)
			dup2(fd, STDOUT_FILENO);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int sshd_fixture_keygen(const char *path, const char *type)
{
	const char *argv[] = { SSH_KEYGEN, "-q", "-t", type, "-N", "", "-f",
	    path, NULL };

	unlink(path);
	return run(argv) == 0 ? 0 : -1;
}

int sshd_fixture_pub_line(const char *pubpath, char *out, size_t len)
{
	char *text = NULL, *sp;
	size_t n;
	int r = -1;

	if (fw_read_file(pubpath, 4096, &text, &n) != 0)
		goto out;
	if ((sp = strchr(text, ' ')) != NULL)
		sp = strchr(sp + 1, ' ');
	if (sp != NULL)
		*sp = '\0';
	fw_rtrim(text);
	r = fw_snprintf(out, len, "%s", text) == 0 ? 0 : -1;
out:
	free(text);
	return r;
}

int sshd_fixture_write(const char *path, const char *text)
{
	return fw_write_file(path, text, strlen(text), 0600);
}

void sshd_fixture_path(const struct sshd_fixture *fx, char *buf,
    size_t len, const char *name)
{
	if (fw_snprintf(buf, len, "%s/%s", fx->dir, name) != 0)
		abort();
}

/* "<dir>/<prefix><d->name><suffix>" */
static void server_path(const struct sshd_fixture *fx,
    const struct sshd_server *d, const char *prefix, const char *suffix,
    char *buf, size_t len)
{
	char *name = xasprintf("%s%s%s", prefix, d->name, suffix);

	sshd_fixture_path(fx, buf, len, name);
	free(name);
}

void sshd_fixture_log_path(const struct sshd_fixture *fx,
    const struct sshd_server *d, char *buf, size_t len)
{
	server_path(fx, d, "sshd.", ".log", buf, len);
}

/* The host key, the client key and authorized_keys with it. */
static int keys_make(struct sshd_fixture *fx)
{
	char hostkey[128], pub[128], auth[128], line[256];
	char *text;
	int r;

	sshd_fixture_path(fx, hostkey, sizeof(hostkey), "hostkey");
	sshd_fixture_path(fx, pub, sizeof(pub), "hostkey.pub");
	sshd_fixture_path(fx, auth, sizeof(auth), "authorized_keys");
	sshd_fixture_path(fx, fx->client_key, sizeof(fx->client_key),
	    "client_key");
	if (sshd_fixture_keygen(hostkey, "ed25519") != 0 ||
	    sshd_fixture_keygen(fx->client_key, "ed25519") != 0 ||
	    sshd_fixture_pub_line(pub, fx->hostkey_line,
	    sizeof(fx->hostkey_line)) != 0 ||
	    fw_snprintf(pub, sizeof(pub), "%s.pub", fx->client_key) != 0 ||
	    sshd_fixture_pub_line(pub, line, sizeof(line)) != 0)
		return -1;
	text = xasprintf("%s\n", line);
	r = sshd_fixture_write(auth, text);
	free(text);
	return r;
}

/*
 * One line per address d listens on, "<before>[addr]:port<after>", in
 * the form both sshd_config and known_hosts take. Caller frees.
 */
static char *addr_lines(const struct sshd_server *d, const char *before,
    const char *after)
{
	char *text, *more;

	text = xasprintf("%s[127.0.0.1]:%u%s", before, d->port, after);
	if (d->ipv6) {
		more = xasprintf("%s%s[::1]:%u%s", text, before, d->port,
		    after);
		free(text);
		text = more;
	}
	if (d->ll_host[0] != '\0') {
		more = xasprintf("%s%s[%s%%%s]:%u%s", text, before, d->ll_host,
		    d->ll_zone, d->port, after);
		free(text);
		text = more;
	}
	return text;
}

static int known_hosts_write(struct sshd_fixture *fx)
{
	char *after, *text = xstrdup(""), *lines, *all;
	size_t i;
	int r;

	after = xasprintf(" %s\n", fx->hostkey_line);
	for (i = 0; i < fx->nsshd; i++) {
		lines = addr_lines(&fx->sshd[i], "", after);
		all = xasprintf("%s%s", text, lines);
		free(lines);
		free(text);
		text = all;
	}
	sshd_fixture_path(fx, fx->known_hosts, sizeof(fx->known_hosts),
	    "known_hosts");
	r = sshd_fixture_write(fx->known_hosts, text);
	free(text);
	free(after);
	return r;
}

/* --- sockets ------------------------------------------------------------- */

uint16_t sshd_fixture_free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	int fd;
	uint16_t port = 0;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return 0;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* 0 if port can be bound on the IPv6 address host in zone (or NULL). */
static int can_bind6(const char *host, const char *zone, uint16_t port)
{
	struct sockaddr_in6 sin6;
	int fd, r, one = 1;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(port);
	if (zone != NULL)
		sin6.sin6_scope_id = if_nametoindex(zone);
	if (inet_pton(AF_INET6, host, &sin6.sin6_addr) != 1 ||
	    (fd = socket(AF_INET6, SOCK_STREAM, 0)) < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	r = bind(fd, (struct sockaddr *)&sin6, sizeof(sin6));
	close(fd);
	return r;
}

/* 0 if 127.0.0.1:port accepts a connection. */
static int can_connect(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	    .sin_port = htons(port) };
	int fd, r;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	r = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	close(fd);
	return r;
}

/* --- the sshds ----------------------------------------------------------- */

struct sshd_server *sshd_fixture_add(struct sshd_fixture *fx,
    const char *name, const char *extra)
{
	struct sshd_server *d;

	if (fx->nsshd == SSHD_FIXTURE_MAX)
		abort();
	d = &fx->sshd[fx->nsshd++];
	memset(d, 0, sizeof(*d));
	d->name = name;
	d->extra = extra != NULL ? extra : "";
	return d;
}

static int sshd_config(const struct sshd_fixture *fx,
    const struct sshd_server *d, const char *path)
{
	char *listen, *text;
	int r;

	listen = addr_lines(d, "ListenAddress ", "\n");
	/* The first value of an option wins: extra first. */
	text = xasprintf("%s%s"
	    "HostKey %s/hostkey\n"
	    "AuthorizedKeysFile %s/authorized_keys\n"
	    "PidFile %s/sshd-%s.pid\n"
	    "PermitRootLogin yes\n"
	    "UsePAM no\n"
	    "StrictModes no\n"
	    "PasswordAuthentication no\n"
	    "KbdInteractiveAuthentication no\n"
	    "MaxStartups 64\n"
	    "MaxSessions 64\n"
	    "LogLevel VERBOSE\n", d->extra, listen, fx->dir, fx->dir,
	    fx->dir, d->name);
	r = sshd_fixture_write(path, text);
	free(text);
	free(listen);
	return r;
}

static pid_t sshd_spawn(const char *config, const char *logpath)
{
	pid_t pid;
	int fd;

	if ((pid = fork()) != 0)
		return pid;
	if ((fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600)) >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
	}
	execl(SSHD, SSHD, "-D", "-e", "-f", config, (char *)NULL);
	_exit(127);
}

/* Waits (50 x 100 ms) until the port accepts; 0, or -1 if sshd died. */
static int sshd_wait(pid_t pid, uint16_t port)
{
	struct timespec ts = { 0, 100 * 1000 * 1000 };
	int i, st;

	for (i = 0; i < 50; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return -1;
		if (can_connect(port) == 0)
			return 0;
		nanosleep(&ts, NULL);
	}
	return -1;
}

static void sshd_log_dump(const char *logpath)
{
	char *text = NULL;
	size_t n;

	if (fw_read_file(logpath, 65536, &text, &n) == 0)
		fprintf(stderr, "--- sshd log ---\n%s----------------\n", text);
	free(text);
}

static int sshd_start(const struct sshd_fixture *fx, struct sshd_server *d)
{
	char config[128], logpath[128];
	int attempt;

	server_path(fx, d, "sshd_config.", "", config, sizeof(config));
	sshd_fixture_log_path(fx, d, logpath, sizeof(logpath));
	for (attempt = 0; attempt < 20; attempt++) {
		if ((d->port = sshd_fixture_free_port()) == 0)
			return -1;
		if (d->ipv6 && can_bind6("::1", NULL, d->port) != 0)
			continue;
		/* Use the link-local address only if it can be bound. */
		if (d->ll_host[0] != '\0' &&
		    can_bind6(d->ll_host, d->ll_zone, d->port) != 0)
			d->ll_host[0] = '\0';
		if (sshd_config(fx, d, config) != 0 ||
		    (d->pid = sshd_spawn(config, logpath)) < 0)
			return -1;
		if (sshd_wait(d->pid, d->port) == 0)
			return 0;
		kill(d->pid, SIGTERM);
		waitpid(d->pid, NULL, 0);
		d->pid = 0;
	}
	sshd_log_dump(logpath);
	return -1;
}

static int dir_make(struct sshd_fixture *fx, const char *tmpl)
{
	if (fw_snprintf(fx->dir, sizeof(fx->dir), "%s", tmpl) != 0 ||
	    mkdtemp(fx->dir) == NULL) {
		fprintf(stderr, "mkdtemp %s: %s\n", tmpl, strerror(errno));
		fx->dir[0] = '\0';
		return -1;
	}
	if (mkdir("/run/sshd", 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "mkdir /run/sshd: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

int sshd_fixture_start(struct sshd_fixture *fx, const char *tmpl)
{
	size_t i;

	if (dir_make(fx, tmpl) != 0)
		return -1;
	if (access(SSHD, X_OK) != 0) {
		fprintf(stderr, "%s is missing: install openssh-server\n",
		    SSHD);
		return -1;
	}
	if (keys_make(fx) != 0) {
		fprintf(stderr, "cannot generate keys with ssh-keygen\n");
		return -1;
	}
	for (i = 0; i < fx->nsshd; i++) {
		if (sshd_start(fx, &fx->sshd[i]) != 0) {
			fprintf(stderr, "cannot start %s (%s)\n", SSHD,
			    fx->sshd[i].name);
			return -1;
		}
	}
	if (known_hosts_write(fx) != 0) {
		fprintf(stderr, "cannot write %s\n", fx->known_hosts);
		return -1;
	}
	return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	return remove(path);
}

void sshd_fixture_stop(struct sshd_fixture *fx)
{
	struct sshd_server *d;
	size_t i;

	for (i = 0; i < fx->nsshd; i++) {
		d = &fx->sshd[i];
		if (d->pid > 0) {
			kill(d->pid, SIGTERM);
			waitpid(d->pid, NULL, 0);
			d->pid = 0;
		}
	}
	if (fx->dir[0] != '\0')
		nftw(fx->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
