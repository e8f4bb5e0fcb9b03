/*
 * tunnel_ssh against two private sshds on 127.0.0.1, started here with
 * their own config, keys and known_hosts in a temporary directory
 * (sshd_fixture.c, as for test_transport_ssh.c): one allows TCP
 * forwarding, one does not. The "node" is this machine, so the test
 * plays both the engine (a server on 127.0.0.1 that the control channel
 * reaches) and the node-side clients of the forwarded port. Runs as
 * root; never skips.
 * FWFLEET_TUNNEL_MB=256 makes the throughput test send that much.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "err.h"
#include "sshd_fixture.h"
#include "transport.h"
#include "transport_ssh.h"
#include "tunnel.h"
#include "util.h"

#define ECHO_LEN	(8 * 1024 * 1024)
#define FWD_CLIENTS	4
#define FWD_LEN		(4 * 1024 * 1024)
#define IO_TIMEOUT_S	20
#define MAX_SERVED	64
#define LIMIT_CLIENTS	40	/* more than the tunnel serves at once */
#define LIMIT_SERVED	32

static struct {
	struct sshd_fixture fx;
	struct sshd_server *fwd;	/* forwarding allowed (the default) */
	struct sshd_server *rekey;	/* the same, frequent key exchanges */
	struct sshd_server *nofwd;	/* AllowTcpForwarding no */
} g;

/* --- the private sshds --------------------------------------------------- */

static int fixture_start(void)
{
	g.fwd = sshd_fixture_add(&g.fx, "fwd", NULL);
	/* A key re-exchange every 1 MB each way: the pump must carry on
	 * through them (OpenSSH's default is every 1 GB, within a deploy). */
	g.rekey = sshd_fixture_add(&g.fx, "rekey",
	    "RekeyLimit 1M\nLogLevel DEBUG\n");
	g.nofwd = sshd_fixture_add(&g.fx, "nofwd", "AllowTcpForwarding no\n");
	return sshd_fixture_start(&g.fx, "/tmp/fwtun.XXXXXX");
}

static int tcp_connect(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	    .sin_port = htons(port) };
	struct timeval tv = { IO_TIMEOUT_S, 0 };
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static struct transport *ssh_to(const struct sshd_server *d)
{
	struct node_spec spec;
	struct transport_opts opts;
	struct transport *t = NULL;
	char err[512] = "";
	int r;

	memset(&spec, 0, sizeof(spec));
	spec.name = (char *)(uintptr_t)"127.0.0.1";
	spec.addr.kind = ADDR_IPV4;
	memcpy(spec.addr.host, "127.0.0.1", sizeof("127.0.0.1"));
	spec.addr.port = d->port;
	spec.user = (char *)(uintptr_t)"root";
	spec.key_file = g.fx.client_key;
	memset(&opts, 0, sizeof(opts));
	opts.known_hosts = g.fx.known_hosts;
	opts.connect_timeout_s = 5;
	if ((r = transport_ssh_connect(&spec, &opts, &t, err,
	    sizeof(err))) != 0)
		fprintf(stderr, "connect to sshd %s: %s\n", d->name, err);
	assert_int_equal(r, 0);
	return t;
}

/* transport_exec works (again): the session is the caller's. */
static void exec_echo_ok(struct transport *t)
{
	struct exec_result res;
	char err[512] = "";
	int r;

	r = transport_exec(t, "echo ok", NULL, 0, 10000, &res, err,
	    sizeof(err));
	if (r != 0)
		fprintf(stderr, "exec: %s\n", err);
	assert_int_equal(r, 0);
	assert_string_equal(res.out, "ok\n");
	exec_result_free(&res);
}

/* --- local servers: the engine and our HTTPS server ---------------------- */

enum serve_mode {
	SERVE_ECHO,	/* echo to EOF, then EOF back */
	SERVE_BYE,	/* send "bye", close without reading */
	SERVE_SINK,	/* read to EOF, count the EOFs */
};

struct server {
	enum serve_mode mode;
	int lfd;
	uint16_t port;
	pthread_t tid;
	pthread_t conn_tid[MAX_SERVED];
	int conn_fd[MAX_SERVED];
	atomic_int nconns;
	atomic_int eofs;
};

struct served {
	struct server *srv;
	int fd;
};

static void serve_echo(int fd)
{
	static __thread char buf[64 * 1024];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (fw_write_all(fd, buf, (size_t)n) != 0)
			return;
	if (n == 0)
		shutdown(fd, SHUT_WR);
}

static void *serve_conn(void *arg)
{
	struct server *srv = ((struct served *)arg)->srv;
	int fd = ((struct served *)arg)->fd;
	char buf[4096];
	ssize_t n;

	free(arg);
	switch (srv->mode) {
	case SERVE_ECHO:
		serve_echo(fd);
		break;
	case SERVE_BYE:
		(void)fw_write_all(fd, "bye", 3);
		break;
	case SERVE_SINK:
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			;
		if (n == 0)
			atomic_fetch_add(&srv->eofs, 1);
		break;
	}
	/* As good as close() for the peer; server_stop closes. */
	shutdown(fd, SHUT_RDWR);
	return NULL;
}

static void *server_main(void *arg)
{
	struct server *srv = arg;
	struct served *sv;
	int fd, i;

	while ((fd = accept4(srv->lfd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		if ((i = atomic_load(&srv->nconns)) == MAX_SERVED) {
			close(fd);
			continue;
		}
		sv = xmalloc(sizeof(*sv));
		sv->srv = srv;
		sv->fd = srv->conn_fd[i] = fd;
		if (pthread_create(&srv->conn_tid[i], NULL, serve_conn,
		    sv) != 0)
			abort();
		atomic_store(&srv->nconns, i + 1);
	}
	return NULL;
}

static void server_start(struct server *srv, enum serve_mode mode)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
	    .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);

	memset(srv, 0, sizeof(*srv));
	srv->mode = mode;
	assert_true((srv->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC,
	    0)) >= 0);
	assert_int_equal(bind(srv->lfd, (struct sockaddr *)&sin,
	    sizeof(sin)), 0);
	assert_int_equal(listen(srv->lfd, 128), 0);
	assert_int_equal(getsockname(srv->lfd, (struct sockaddr *)&sin,
	    &sl), 0);
	srv->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&srv->tid, NULL, server_main, srv),
	    0);
}

/*
 * Stops accepting and ends every connection. (An echo blocked writing to
 * an sshd that has stopped reading would otherwise wait for ever: sshd
 * drains what it holds for the engine before closing, and a real engine
 * reads while it writes.)
 */
static void server_stop(struct server *srv)
{
	int i;

	shutdown(srv->lfd, SHUT_RDWR);	/* accept() returns EINVAL */
	pthread_join(srv->tid, NULL);
	close(srv->lfd);
	for (i = 0; i < atomic_load(&srv->nconns); i++) {
		shutdown(srv->conn_fd[i], SHUT_RDWR);
		pthread_join(srv->conn_tid[i], NULL);
		close(srv->conn_fd[i]);
	}
}

static void server_addr(const struct server *srv, struct sockaddr_in *sin)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin->sin_port = htons(srv->port);
}

/* Waits up to ms for *v to reach want. */
static int wait_for(atomic_int *v, int want, int ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	uint64_t end = fw_now_ms() + (uint64_t)ms;

	while (atomic_load(v) < want && fw_now_ms() < end)
		nanosleep(&ts, NULL);
	return atomic_load(v) >= want ? 0 : -1;
}

/* --- streams ------------------------------------------------------------- */

static unsigned char *pattern(size_t len, uint64_t seed)
{
	unsigned char *p = xmalloc(len);
	uint64_t x = 0x9e3779b97f4a7c15ULL ^ seed;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, 8);
	}
	for (; i < len; i++)
		p[i] = (unsigned char)i;
	return p;
}

/* Reads until len bytes or EOF; returns the count, -1 on error. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		if ((n = read(fd, (char *)buf + got, len - got)) < 0 &&
		    errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "read: %s\n", strerror(errno));
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* 0 when the next read sees EOF (or a reset) within IO_TIMEOUT_S. */
static int read_eof(int fd)
{
	char c;
	ssize_t n = read(fd, &c, 1);

	return n == 0 || (n < 0 && errno == ECONNRESET) ? 0 : -1;
}

struct writer {
	pthread_t tid;
	int fd;
	const unsigned char *p;
	size_t len;
	int shut;		/* shutdown(SHUT_WR) after */
	int forever;		/* repeat p until a write fails */
	int r;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	do {
		w->r = fw_write_all(w->fd, w->p, w->len);
	} while (w->forever && w->r == 0);
	if (w->shut && w->r == 0)
		shutdown(w->fd, SHUT_WR);
	return NULL;
}

static void writer_start(struct writer *w, int fd, const void *p,
    size_t len, int shut, int forever)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->p = p;
	w->len = len;
	w->shut = shut;
	w->forever = forever;
	assert_int_equal(pthread_create(&w->tid, NULL, writer_main, w), 0);
}

/* Sends p through fd while reading it back: returns 0 if identical. */
static int round_trip(int fd, const unsigned char *p, size_t len)
{
	unsigned char *back = xmalloc(len);
	struct writer w;
	ssize_t n;
	int r;

	writer_start(&w, fd, p, len, 1, 0);
	n = read_full(fd, back, len);
	pthread_join(w.tid, NULL);
	r = w.r == 0 && n == (ssize_t)len && memcmp(back, p, len) == 0 &&
	    read_eof(fd) == 0 ? 0 : -1;
	if (r != 0)
		fprintf(stderr, "round trip: wrote %d, read %zd of %zu\n",
		    w.r, n, len);
	free(back);
	return r;
}

/* A few bytes there and back through an echoing peer. */
static int ping(int fd)
{
	char buf[4];

	return fw_write_all(fd, "ping", 4) == 0 &&
	    read_full(fd, buf, 4) == 4 && memcmp(buf, "ping", 4) == 0 ? 0 : -1;
}

static struct tunnel *tunnel_ok(struct transport *t,
    const struct server *https, uint16_t *rport)
{
	struct sockaddr_in sin;
	struct tunnel *tn = NULL;
	char err[512] = "";
	int r;

	if (https != NULL)
		server_addr(https, &sin);
	r = tunnel_open(t, https != NULL ? (struct sockaddr *)&sin : NULL,
	    sizeof(sin), rport, &tn, err, sizeof(err));
	if (r != 0)
		fprintf(stderr, "tunnel_open: %s\n", err);
	assert_int_equal(r, 0);
	assert_non_null(tn);
	if (https != NULL)
		assert_true(*rport > 0);
	else
		assert_int_equal(*rport, 0);
	return tn;
}

static int start_ok(struct tunnel *tn, uint16_t port)
{
	struct timeval tv = { IO_TIMEOUT_S, 0 };
	char err[512] = "";
	int fd = -1, r;

	if ((r = tunnel_start(tn, port, &fd, err, sizeof(err))) != 0)
		fprintf(stderr, "tunnel_start: %s\n", err);
	assert_int_equal(r, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

/* --- (a) the control channel -------------------------------------------- */

static void test_control_echo(void **state)
{
	struct transport *t = ssh_to(g.fwd);
	struct server engine;
	struct tunnel_stats st;
	struct tunnel *tn;
	const char *env = getenv("FWFLEET_TUNNEL_MB");
	size_t len = ECHO_LEN;
	unsigned char *p;
	uint16_t rport;
	uint64_t t0, ms;
	long mb;
	int fd;

	if (env != NULL && fw_parse_long(env, 1, 4096, &mb) == 0)
		len = (size_t)mb << 20;
	p = pattern(len, 1);
	server_start(&engine, SERVE_ECHO);
	tn = tunnel_ok(t, NULL, &rport);
	fd = start_ok(tn, engine.port);
	t0 = fw_now_ms();
	assert_int_equal(round_trip(fd, p, len), 0);
	ms = fw_now_ms() - t0;
	fprintf(stderr, "control channel: %zu MiB each way in %llu ms = "
	    "%.1f MB/s\n", len >> 20, (unsigned long long)ms,
	    (double)len / 1e6 / ((double)(ms ? ms : 1) / 1000.0));
	tunnel_get_stats(tn, &st);
	assert_int_equal(st.to_node, len);
	assert_int_equal(st.from_node, len);
	assert_int_equal(st.dead, 0);
	close(fd);
	tunnel_close(tn);
	exec_echo_ok(t);
	server_stop(&engine);
	transport_close(t);
	free(p);
}

/* --- (b) forwarded connections ------------------------------------------- */

struct fwd_client {
	pthread_t tid;
	uint16_t port;
	int seed;
	int r;
};

static void *fwd_client_main(void *arg)
{
	struct fwd_client *c = arg;
	unsigned char *p = pattern(FWD_LEN, (uint64_t)c->seed);
	int fd;

	c->r = -1;
	if ((fd = tcp_connect(c->port)) >= 0) {
		c->r = round_trip(fd, p, FWD_LEN);
		close(fd);
	}
	free(p);
	return NULL;
}

/* How many key re-exchanges the sshd has logged (LogLevel DEBUG). */
static int sshd_rekeys(const struct sshd_server *d)
{
	char path[128], *text = NULL, *p;
	size_t n;
	int count = 0;

	sshd_fixture_log_path(&g.fx, d, path, sizeof(path));
	if (fw_read_file(path, 16 * 1024 * 1024, &text, &n) != 0)
		return -1;
	for (p = text; (p = strstr(p, "rekeying out")) != NULL; p++)
		count++;
	free(text);
	return count;
}

static void test_forward_parallel(void **state)
{
	struct transport *t = ssh_to(g.rekey);
	struct server engine, https;
	struct fwd_client c[FWD_CLIENTS];
	struct tunnel_stats st;
	struct tunnel *tn;
	uint16_t rport;
	uint64_t t0;
	int fd, i;

	server_start(&engine, SERVE_ECHO);
	server_start(&https, SERVE_ECHO);
	tn = tunnel_ok(t, &https, &rport);
	fd = start_ok(tn, engine.port);
	t0 = fw_now_ms();
	for (i = 0; i < FWD_CLIENTS; i++) {
		c[i].port = rport;
		c[i].seed = 100 + i;
		assert_int_equal(pthread_create(&c[i].tid, NULL,
		    fwd_client_main, &c[i]), 0);
	}
	/* The control channel works meanwhile. */
	assert_int_equal(ping(fd), 0);
	for (i = 0; i < FWD_CLIENTS; i++) {
		pthread_join(c[i].tid, NULL);
		assert_int_equal(c[i].r, 0);
	}
	fprintf(stderr, "forwarded: %d x %d MiB each way in %llu ms, %d key "
	    "exchanges meanwhile\n", FWD_CLIENTS, FWD_LEN >> 20,
	    (unsigned long long)(fw_now_ms() - t0), sshd_rekeys(g.rekey));
	assert_true(sshd_rekeys(g.rekey) >= 8);
	assert_int_equal(atomic_load(&https.nconns), FWD_CLIENTS);
	tunnel_get_stats(tn, &st);
	assert_int_equal(st.accepted, FWD_CLIENTS);
	assert_int_equal(st.refused, 0);
	close(fd);
	tunnel_close(tn);
	exec_echo_ok(t);
	server_stop(&https);
	server_stop(&engine);
	transport_close(t);
}

/* --- (c) EOF and close, both ways ---------------------------------------- */

/* The engine sends and closes: we read it, then EOF. */
static void test_control_closed_by_node(void **state)
{
	struct transport *t = ssh_to(g.fwd);
	struct server engine;
	struct tunnel *tn;
	uint16_t rport;
	char buf[8];
	int fd;

	server_start(&engine, SERVE_BYE);
	tn = tunnel_ok(t, NULL, &rport);
	fd = start_ok(tn, engine.port);
	assert_int_equal(read_full(fd, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "bye", 3);
	assert_int_equal(read_eof(fd), 0);
	close(fd);
	tunnel_close(tn);
	server_stop(&engine);
	transport_close(t);
}

/* We close our socket: the engine sees EOF after our bytes. */
static void test_control_closed_by_us(void **state)
{
	struct transport *t = ssh_to(g.fwd);
	struct server engine;
	struct tunnel *tn;
	uint16_t rport;
	int fd;

	server_start(&engine, SERVE_SINK);
	tn = tunnel_ok(t, NULL, &rport);
	fd = start_ok(tn, engine.port);
	assert_int_equal(fw_write_all(fd, "hello", 5), 0);
	close(fd);
	assert_int_equal(wait_for(&engine.eofs, 1, 5000), 0);
	tunnel_close(tn);
	exec_echo_ok(t);
	server_stop(&engine);
	transport_close(t);
}

/* Our HTTPS server closes; then a node-side client closes. */
static void test_forward_close_both_ways(void **state)
{
	struct transport *t = ssh_to(g.fwd);
	struct server engine, bye, sink;
	struct tunnel *tn1, *tn2;
	uint16_t rport1, rport2;
	char buf[8];
	int fd1, fd2, c;

	server_start(&engine, SERVE_SINK);
	server_start(&bye, SERVE_BYE);
	server_start(&sink, SERVE_SINK);
	/* Two tunnels on one session, one after the other. */
	tn1 = tunnel_ok(t, &bye, &rport1);
	fd1 = start_ok(tn1, engine.port);
	assert_true((c = tcp_connect(rport1)) >= 0);
	assert_int_equal(read_full(c, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "bye", 3);
	assert_int_equal(read_eof(c), 0);
	close(c);
	close(fd1);
	tunnel_close(tn1);

	tn2 = tunnel_ok(t, &sink, &rport2);
	fd2 = start_ok(tn2, engine.port);
	assert_true((c = tcp_connect(rport2)) >= 0);
	assert_int_equal(fw_write_all(c, "data", 4), 0);
	shutdown(c, SHUT_WR);
	assert_int_equal(wait_for(&sink.eofs, 1, 5000), 0);
	/* The server closed after EOF: so does the client's connection. */
	assert_int_equal(read_eof(c), 0);
	close(c);
	close(fd2);
	tunnel_close(tn2);
	/* The forward is gone with its tunnel. */
	assert_true((c = tcp_connect(rport1)) < 0);
	exec_echo_ok(t);
	server_stop(&sink);
	server_stop(&bye);
	server_stop(&engine);
	transport_close(t);
}

/* --- (d) tunnel_close under load ----------------------------------------- */

struct drain {
	pthread_t tid;
	int fd;
};

static void *drain_main(void *arg)
{
	static __thread char buf[64 * 1024];
	struct drain *d = arg;

	while (read(d->fd, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

static void test_close_under_load(void **state)
{
	struct transport *t = ssh_to(g.fwd);
	struct server engine, https;
	struct writer w[3];
	struct drain d[3];
	struct tunnel *tn;
	unsigned char *p = pattern(1 << 20, 7);
	uint16_t rport;
	uint64_t t0, ms;
	int fd[3], i;

	server_start(&engine, SERVE_ECHO);
	server_start(&https, SERVE_ECHO);
	tn = tunnel_ok(t, &https, &rport);
	fd[0] = start_ok(tn, engine.port);
	assert_true((fd[1] = tcp_connect(rport)) >= 0);
	assert_true((fd[2] = tcp_connect(rport)) >= 0);
	for (i = 0; i < 3; i++) {
		writer_start(&w[i], fd[i], p, 1 << 20, 0, 1);
		d[i].fd = fd[i];
		assert_int_equal(pthread_create(&d[i].tid, NULL, drain_main,
		    &d[i]), 0);
	}
	usleep(300 * 1000);
	t0 = fw_now_ms();
	tunnel_close(tn);
	ms = fw_now_ms() - t0;
	fprintf(stderr, "tunnel_close under load: %llu ms\n",
	    (unsigned long long)ms);
	assert_true(ms < 1000);
	/* Every stream ends: writes fail, reads see EOF. */
	for (i = 0; i < 3; i++) {
		pthread_join(w[i].tid, NULL);
		assert_int_not_equal(w[i].r, 0);
		pthread_join(d[i].tid, NULL);
		close(fd[i]);
	}
	exec_echo_ok(t);
	server_stop(&https);
	server_stop(&engine);
	transport_close(t);
	free(p);
}

/* --- limits and failures -------------------------------------------------- */

/* How many of fds see EOF within 5 s (waiting for want of them). */
static int count_closed(const int *fds, int n, int want)
{
	struct pollfd pfd[LIMIT_CLIENTS];
	uint64_t end = fw_now_ms() + 5000;
	int i, closed = 0;
	char ch;

	for (i = 0; i < n; i++) {
		pfd[i].fd = fds[i];
		pfd[i].events = POLLIN;
	}
	while (closed < want && fw_now_ms() < end) {
		if (poll(pfd, (nfds_t)n, 100) <= 0)
			continue;
		for (i = 0; i < n; i++) {
			if (pfd[i].revents == 0)
				continue;
			if (read(pfd[i].fd, &ch, 1) <= 0)
				closed++;
			pfd[i].fd = -1;
		}
	}
	return closed;
}

/* More clients than the tunnel serves at once: the rest are closed. */
static void test_forward_limit(void **state)
{
	struct transport *t = ssh_to(g.fwd);
	struct server engine, https;
	struct tunnel_stats st;
	struct tunnel *tn;
	uint16_t rport;
	int fd, c[LIMIT_CLIENTS], i, closed;

	server_start(&engine, SERVE_SINK);
	server_start(&https, SERVE_SINK);
	tn = tunnel_ok(t, &https, &rport);
	fd = start_ok(tn, engine.port);
	for (i = 0; i < LIMIT_CLIENTS; i++)
		assert_true((c[i] = tcp_connect(rport)) >= 0);
	assert_int_equal(wait_for(&https.nconns, LIMIT_SERVED, 5000), 0);
	closed = count_closed(c, LIMIT_CLIENTS, LIMIT_CLIENTS - LIMIT_SERVED);
	tunnel_get_stats(tn, &st);
	fprintf(stderr, "limit: served %d, refused %u, closed %d\n",
	    atomic_load(&https.nconns), st.refused, closed);
	assert_int_equal(atomic_load(&https.nconns), LIMIT_SERVED);
	assert_int_equal(st.refused, LIMIT_CLIENTS - LIMIT_SERVED);
	assert_int_equal(closed, LIMIT_CLIENTS - LIMIT_SERVED);
	for (i = 0; i < LIMIT_CLIENTS; i++)
		close(c[i]);
	close(fd);
	tunnel_close(tn);
	exec_echo_ok(t);
	server_stop(&https);
	server_stop(&engine);
	transport_close(t);
}

/* Nothing listens on the engine's port yet: an error, then a retry. */
static void test_start_refused_then_retry(void **state)
{
	struct transport *t = ssh_to(g.fwd);
	struct server engine;
	struct tunnel *tn;
	char err[512] = "";
	uint16_t rport, port = sshd_fixture_free_port();
	int fd = 5;

	tn = tunnel_ok(t, NULL, &rport);
	assert_int_equal(tunnel_start(tn, port, &fd, err, sizeof(err)),
	    FW_ERR_SSH);
	fprintf(stderr, "no engine: %s\n", err);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(err, "is it running?"));
	server_start(&engine, SERVE_ECHO);
	fd = start_ok(tn, engine.port);
	assert_int_equal(round_trip(fd, (const unsigned char *)"x", 1), 0);
	assert_int_equal(tunnel_start(tn, engine.port, &fd, err,
	    sizeof(err)), FW_ERR_INVALID);
	close(fd);
	tunnel_close(tn);
	server_stop(&engine);
	transport_close(t);
}

/* (e) sshd with AllowTcpForwarding no. */
static void test_forwarding_refused(void **state)
{
	struct transport *t = ssh_to(g.nofwd);
	struct server https;
	struct sockaddr_in sin;
	struct tunnel *tn = NULL;
	char err[512] = "";
	uint16_t rport = 7;
	int fd = 5;

	server_start(&https, SERVE_SINK);
	server_addr(&https, &sin);
	assert_int_equal(tunnel_open(t, (struct sockaddr *)&sin, sizeof(sin),
	    &rport, &tn, err, sizeof(err)), FW_ERR_UNSUPPORTED);
	fprintf(stderr, "remote forward: %s\n", err);
	assert_null(tn);
	assert_int_equal(rport, 0);
	assert_non_null(strstr(err, "AllowTcpForwarding"));
	assert_non_null(strstr(err, "--tunnel needs it"));

	/* The control channel alone is refused too. */
	tn = tunnel_ok(t, NULL, &rport);
	err[0] = '\0';
	assert_int_equal(tunnel_start(tn, https.port, &fd, err, sizeof(err)),
	    FW_ERR_UNSUPPORTED);
	fprintf(stderr, "direct-tcpip: %s\n", err);
	assert_int_equal(fd, -1);
	assert_non_null(strstr(err, "AllowTcpForwarding"));
	tunnel_close(tn);
	exec_echo_ok(t);
	server_stop(&https);
	transport_close(t);
}

/* The SSH connection dies under the pump: every socket sees the end. */
static void test_connection_dies(void **state)
{
	struct transport *t = ssh_to(g.fwd);
	struct server engine, https;
	struct tunnel_stats st;
	struct exec_result res;
	struct tunnel *tn;
	char err[512] = "";
	uint16_t rport;
	uint64_t t0;
	int fd, c, sshfd;

	/* Taken now: once the pump runs, the session is its alone. */
	sshfd = ssh_get_fd(transport_ssh_session(t));
	server_start(&engine, SERVE_ECHO);
	server_start(&https, SERVE_ECHO);
	tn = tunnel_ok(t, &https, &rport);
	fd = start_ok(tn, engine.port);
	assert_true((c = tcp_connect(rport)) >= 0);
	assert_int_equal(ping(fd), 0);
	assert_int_equal(wait_for(&https.nconns, 1, 5000), 0);
	t0 = fw_now_ms();
	shutdown(sshfd, SHUT_RDWR);	/* as if sshd died */
	assert_int_equal(read_eof(fd), 0);
	assert_int_equal(read_eof(c), 0);
	fprintf(stderr, "connection lost: sockets ended after %llu ms\n",
	    (unsigned long long)(fw_now_ms() - t0));
	tunnel_get_stats(tn, &st);
	assert_int_equal(st.dead, 1);
	t0 = fw_now_ms();
	tunnel_close(tn);
	assert_true(fw_now_ms() - t0 < 1000);
	assert_int_equal(transport_exec(t, "true", NULL, 0, 5000, &res, err,
	    sizeof(err)), FW_ERR_SSH);
	close(c);
	close(fd);
	server_stop(&https);
	server_stop(&engine);
	transport_close(t);
}

static void test_close_null(void **state)
{
	struct tunnel_stats st;

	tunnel_close(NULL);
	tunnel_get_stats(NULL, &st);
	assert_int_equal(st.to_node, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_control_echo),
		cmocka_unit_test(test_forward_parallel),
		cmocka_unit_test(test_control_closed_by_node),
		cmocka_unit_test(test_control_closed_by_us),
		cmocka_unit_test(test_forward_close_both_ways),
		cmocka_unit_test(test_close_under_load),
		cmocka_unit_test(test_forward_limit),
		cmocka_unit_test(test_start_refused_then_retry),
		cmocka_unit_test(test_forwarding_refused),
		cmocka_unit_test(test_connection_dies),
		cmocka_unit_test(test_close_null),
	};
	int r;

	unsetenv("SSH_AUTH_SOCK");
	signal(SIGPIPE, SIG_IGN);
	if (geteuid() != 0) {
		fprintf(stderr, "FAIL: test_tunnel must run as root (it "
		    "starts private sshds)\n");
		return 1;
	}
	if (fixture_start() != 0) {
		fprintf(stderr, "FAIL: cannot start the private sshds\n");
		sshd_fixture_stop(&g.fx);
		return 1;
	}
	ssh_init();
	r = cmocka_run_group_tests(tests, NULL, NULL);
	ssh_finalize();
	sshd_fixture_stop(&g.fx);
	return r;
}
