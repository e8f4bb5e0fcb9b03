/*
 * transport_ssh against a private sshd on 127.0.0.1 and [::1], started
 * here with its own config, keys and known_hosts in a temporary
 * directory (sshd_fixture.c). Runs as root (as in CI). If sshd cannot
 * be started the test fails; it never skips.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libssh/libssh.h>

#include "err.h"
#include "sshd_fixture.h"
#include "transport.h"
#include "util.h"

#define BIG_LEN		(4 * 1024 * 1024)
#define OUT_MAX		(1024 * 1024)
#define NTHREADS	8

static struct {
	struct sshd_fixture fx;	/* its client_key is in authorized_keys */
	struct sshd_server *sshd;	/* on 127.0.0.1, [::1], link-local */
	char wrong_key[128];	/* not in authorized_keys */
} g;

/* --- helpers ------------------------------------------------------------ */

/* Finds a link-local address on an up, non-loopback interface for d to
 * listen on too. */
static void link_local_find(struct sshd_server *d)
{
	struct ifaddrs *ifa0, *ifa;
	struct sockaddr_in6 *sin6;

	if (getifaddrs(&ifa0) != 0)
		return;
	for (ifa = ifa0; ifa != NULL; ifa = ifa->ifa_next) {
		if (ifa->ifa_addr == NULL ||
		    ifa->ifa_addr->sa_family != AF_INET6 ||
		    (ifa->ifa_flags & IFF_LOOPBACK) ||
		    !(ifa->ifa_flags & IFF_UP))
			continue;
		sin6 = (struct sockaddr_in6 *)ifa->ifa_addr;
		if (!IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) ||
		    strlen(ifa->ifa_name) >= sizeof(d->ll_zone))
			continue;
		inet_ntop(AF_INET6, &sin6->sin6_addr, d->ll_host,
		    sizeof(d->ll_host));
		memcpy(d->ll_zone, ifa->ifa_name, strlen(ifa->ifa_name) + 1);
		break;
	}
	freeifaddrs(ifa0);
}

/* A listening socket on 127.0.0.1 that never answers; returns its fd. */
static int silent_listener(uint16_t *port)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    listen(fd, 8) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) != 0)
		return -1;
	*port = ntohs(sin.sin_port);
	return fd;
}

/* --- the private sshd --------------------------------------------------- */

/* One sshd on 127.0.0.1, [::1] and link-local, password auth allowed. */
static int fixture_start(void)
{
	g.sshd = sshd_fixture_add(&g.fx, "main",
	    "PasswordAuthentication yes\n");
	g.sshd->ipv6 = 1;
	link_local_find(g.sshd);
	if (sshd_fixture_start(&g.fx, "/tmp/fwssh.XXXXXX") != 0)
		return -1;
	sshd_fixture_path(&g.fx, g.wrong_key, sizeof(g.wrong_key),
	    "wrong_key");
	if (sshd_fixture_keygen(g.wrong_key, "ed25519") != 0) {
		fprintf(stderr, "cannot generate keys with ssh-keygen\n");
		return -1;
	}
	return 0;
}

/* --- per-test setup ----------------------------------------------------- */

static void spec_init(struct node_spec *spec, const char *host,
    enum addr_kind kind, uint16_t port)
{
	memset(spec, 0, sizeof(*spec));
	spec->name = (char *)(uintptr_t)host;
	spec->addr.kind = kind;
	if (fw_snprintf(spec->addr.host, sizeof(spec->addr.host), "%s",
	    host) != 0)
		abort();
	spec->addr.port = port;
	spec->user = (char *)(uintptr_t)"root";
	spec->key_file = g.fx.client_key;
}

static void opts_init(struct transport_opts *opts, const char *known_hosts)
{
	memset(opts, 0, sizeof(*opts));
	opts->known_hosts = known_hosts;
	opts->connect_timeout_s = 5;
}

static struct transport *connect_ok(const char *host, enum addr_kind kind)
{
	struct node_spec spec;
	struct transport_opts opts;
	struct transport *t = NULL;
	char err[512] = "";
	int r;

	spec_init(&spec, host, kind, g.sshd->port);
	opts_init(&opts, g.fx.known_hosts);
	r = transport_ssh_connect(&spec, &opts, &t, err, sizeof(err));
	if (r != 0)
		fprintf(stderr, "connect %s: %s\n", host, err);
	assert_int_equal(r, 0);
	assert_non_null(t);
	return t;
}

static int setup_conn(void **state)
{
	*state = connect_ok("127.0.0.1", ADDR_IPV4);
	return 0;
}

static int teardown_conn(void **state)
{
	transport_close(*state);
	return 0;
}

static unsigned char *big_data(size_t len)
{
	unsigned char *p = xmalloc(len);
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)x;
	}
	return p;
}

static int exec_ok(struct transport *t, const char *cmd, const void *in,
    size_t inlen, struct exec_result *res)
{
	char err[512] = "";
	int r;

	r = transport_exec(t, cmd, in, inlen, 30000, res, err, sizeof(err));
	if (r != 0)
		fprintf(stderr, "exec %s: %s\n", cmd, err);
	return r;
}

/* --- exec --------------------------------------------------------------- */

static void test_exec_basic(void **state)
{
	struct exec_result res;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	socklen_t sl;

	assert_int_equal(transport_peer_addr(*state, &ss, &sl), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(sl, sizeof(*sin));
	assert_int_equal(ntohl(sin->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(ntohs(sin->sin_port), g.sshd->port);

	assert_int_equal(exec_ok(*state, "echo hi; echo err >&2; exit 3",
	    NULL, 0, &res), 0);
	assert_string_equal(res.out, "hi\n");
	assert_int_equal(res.out_len, 3);
	assert_string_equal(res.err, "err\n");
	assert_int_equal(res.err_len, 4);
	assert_int_equal(res.exit_status, 3);
	exec_result_free(&res);

	/* Several commands on one session, empty output. */
	assert_int_equal(exec_ok(*state, "true", NULL, 0, &res), 0);
	assert_string_equal(res.out, "");
	assert_int_equal(res.exit_status, 0);
	exec_result_free(&res);
}

static void test_exec_signal(void **state)
{
	struct exec_result res;

	assert_int_equal(exec_ok(*state, "kill -KILL $$", NULL, 0, &res), 0);
	assert_int_equal(res.exit_status, -1);
	exec_result_free(&res);
}

static void test_exec_stdin_sha256(void **state)
{
	unsigned char *data = big_data(BIG_LEN);
	struct exec_result res;
	char hex[65], *expect;
	uint64_t t0, ms, base;

	fw_sha256_hex(data, BIG_LEN, hex);
	expect = xasprintf("%s  -\n", hex);
	assert_int_equal(exec_ok(*state, "sha256sum", data, BIG_LEN, &res),
	    0);
	assert_string_equal(res.out, expect);
	assert_int_equal(res.exit_status, 0);
	exec_result_free(&res);

	/* The remote shell's start-up (its rc files) is not ours to time. */
	t0 = fw_now_ms();
	assert_int_equal(exec_ok(*state, "true", NULL, 0, &res), 0);
	base = fw_now_ms() - t0;
	exec_result_free(&res);
	t0 = fw_now_ms();
	assert_int_equal(exec_ok(*state, "cat > /dev/null", data, BIG_LEN,
	    &res), 0);
	ms = fw_now_ms() - t0;
	fprintf(stderr, "4 MiB to cat > /dev/null: %llu ms (an empty "
	    "command: %llu ms)\n", (unsigned long long)ms,
	    (unsigned long long)base);
	assert_int_equal(res.exit_status, 0);
	assert_true(ms < 5000);
	exec_result_free(&res);
	free(expect);
	free(data);
}

/* 4 MiB in and out at once: no deadlock, output capped at 1 MiB. */
static void test_exec_echo_back(void **state)
{
	unsigned char *data = big_data(BIG_LEN);
	struct exec_result res;

	assert_int_equal(exec_ok(*state, "cat; echo done >&2", data, BIG_LEN,
	    &res), 0);
	assert_int_equal(res.exit_status, 0);
	assert_int_equal(res.out_len, OUT_MAX);
	assert_memory_equal(res.out, data, OUT_MAX);
	assert_int_equal(res.out[OUT_MAX], '\0');
	assert_string_equal(res.err, "done\n");
	exec_result_free(&res);
	free(data);
}

/* The command exits without reading its 4 MiB of stdin. */
static void test_exec_unread_stdin(void **state)
{
	unsigned char *data = big_data(BIG_LEN);
	struct exec_result res;

	assert_int_equal(exec_ok(*state, "exit 7", data, BIG_LEN, &res), 0);
	assert_int_equal(res.exit_status, 7);
	exec_result_free(&res);
	free(data);
}

static void test_exec_quotes(void **state)
{
	struct exec_result res;

	assert_int_equal(exec_ok(*state, "printf '%s\\n' \"it's\" 'a b'",
	    NULL, 0, &res), 0);
	assert_string_equal(res.out, "it's\na b\n");
	exec_result_free(&res);
}

/* sudo is not needed (nor maybe installed) when logged in as root. */
static void test_exec_sudo_as_root(void **state)
{
	struct node_spec spec;
	struct transport_opts opts;
	struct transport *t = NULL;
	struct exec_result res;
	char err[512] = "";

	spec_init(&spec, "127.0.0.1", ADDR_IPV4, g.sshd->port);
	opts_init(&opts, g.fx.known_hosts);
	opts.use_sudo = 1;
	opts.password = "unused";
	assert_int_equal(transport_ssh_connect(&spec, &opts, &t, err,
	    sizeof(err)), 0);
	assert_int_equal(exec_ok(t, "id -u; cat", "in", 2, &res), 0);
	assert_string_equal(res.out, "0\nin");
	exec_result_free(&res);
	transport_close(t);
}

/* The connection dies under a running command: an error, not a hang. */
static void test_exec_connection_lost(void **state)
{
	struct exec_result res;
	char err[512] = "";
	uint64_t t0 = fw_now_ms();
	int r;

	r = transport_exec(*state, "kill -KILL $PPID; sleep 10", NULL, 0,
	    20000, &res, err, sizeof(err));
	fprintf(stderr, "connection lost: %d %s\n", r, err);
	assert_int_equal(r, FW_ERR_SSH);
	assert_true(fw_now_ms() - t0 < 5000);
	r = transport_exec(*state, "true", NULL, 0, 5000, &res, err,
	    sizeof(err));
	assert_int_equal(r, FW_ERR_SSH);
}

static void test_exec_timeout(void **state)
{
	struct exec_result res;
	char err[512] = "";
	uint64_t t0 = fw_now_ms(), ms;
	int r;

	r = transport_exec(*state, "sleep 5", NULL, 0, 500, &res, err,
	    sizeof(err));
	ms = fw_now_ms() - t0;
	fprintf(stderr, "timeout after %llu ms: %s\n",
	    (unsigned long long)ms, err);
	assert_int_equal(r, FW_ERR_TIMEOUT);
	assert_true(ms >= 450 && ms < 2000);
	assert_null(res.out);

	/* The session is still usable. */
	assert_int_equal(exec_ok(*state, "echo ok", NULL, 0, &res), 0);
	assert_string_equal(res.out, "ok\n");
	exec_result_free(&res);
}

/* --- connect ------------------------------------------------------------ */

static int connect_with(const char *host, enum addr_kind kind,
    uint16_t port, struct transport_opts *opts, const char *key,
    char *err, size_t errlen)
{
	struct node_spec spec;
	struct transport *t = NULL;
	int r;

	spec_init(&spec, host, kind, port);
	spec.key_file = (char *)(uintptr_t)key;
	r = transport_ssh_connect(&spec, opts, &t, err, errlen);
	fprintf(stderr, "connect %s:%u -> %d %s\n", host, port, r, err);
	if (r == 0)
		assert_non_null(t);
	else
		assert_null(t);
	transport_close(t);
	return r;
}

static void test_ipv6(void **state)
{
	struct transport *t = connect_ok("::1", ADDR_IPV6);
	struct exec_result res;
	struct sockaddr_storage ss;
	socklen_t sl;

	assert_int_equal(exec_ok(t, "echo v6", NULL, 0, &res), 0);
	assert_string_equal(res.out, "v6\n");
	exec_result_free(&res);
	assert_int_equal(transport_peer_addr(t, &ss, &sl), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	transport_close(t);
}

/* fe80::x%zone: libssh takes the zone in the host name as it is. */
static void test_link_local(void **state)
{
	struct node_spec spec;
	struct transport_opts opts;
	struct transport *t = NULL;
	struct exec_result res;
	struct sockaddr_storage ss;
	socklen_t sl;
	char err[512] = "";

	if (g.sshd->ll_host[0] == '\0') {
		fprintf(stderr, "no usable link-local address here\n");
		skip();
	}
	spec_init(&spec, g.sshd->ll_host, ADDR_IPV6, g.sshd->port);
	memcpy(spec.addr.zone, g.sshd->ll_zone, strlen(g.sshd->ll_zone) + 1);
	opts_init(&opts, g.fx.known_hosts);
	assert_int_equal(transport_ssh_connect(&spec, &opts, &t, err,
	    sizeof(err)), 0);
	assert_int_equal(exec_ok(t, "echo ll", NULL, 0, &res), 0);
	assert_string_equal(res.out, "ll\n");
	exec_result_free(&res);
	assert_int_equal(transport_peer_addr(t, &ss, &sl), 0);
	assert_int_equal(((struct sockaddr_in6 *)&ss)->sin6_scope_id,
	    if_nametoindex(g.sshd->ll_zone));
	transport_close(t);
}

static void test_hostkey_unknown(void **state)
{
	struct transport_opts opts;
	char kh[128], err[512] = "";

	sshd_fixture_path(&g.fx, kh, sizeof(kh), "kh_empty");
	assert_int_equal(sshd_fixture_write(kh, ""), 0);
	opts_init(&opts, kh);
	assert_int_equal(connect_with("127.0.0.1", ADDR_IPV4, g.sshd->port,
	    &opts, g.fx.client_key, err, sizeof(err)), FW_ERR_HOSTKEY_UNKNOWN);
	assert_non_null(strstr(err, "--accept-new-host-keys"));
	assert_non_null(strstr(err, "SHA256:"));
	assert_non_null(strstr(err, kh));
}

static void test_hostkey_accept_new(void **state)
{
	struct transport_opts opts;
	char kh[128], err[512] = "", *text = NULL, *entry;
	size_t n;

	sshd_fixture_path(&g.fx, kh, sizeof(kh), "kh_new");
	unlink(kh);
	opts_init(&opts, kh);
	opts.accept_new_host_keys = 1;
	assert_int_equal(connect_with("127.0.0.1", ADDR_IPV4, g.sshd->port,
	    &opts, g.fx.client_key, err, sizeof(err)), 0);
	assert_int_equal(fw_read_file(kh, 65536, &text, &n), 0);
	entry = xasprintf("[127.0.0.1]:%u ", g.sshd->port);
	assert_non_null(strstr(text, entry));
	free(entry);
	free(text);

	opts.accept_new_host_keys = 0;
	assert_int_equal(connect_with("127.0.0.1", ADDR_IPV4, g.sshd->port,
	    &opts, g.fx.client_key, err, sizeof(err)), 0);
}

/* known_hosts with another key for the same host: never accepted. */
static void check_changed(const char *keytype)
{
	struct transport_opts opts;
	char kh[128], other[128], line[256], err[512] = "", *text;

	sshd_fixture_path(&g.fx, other, sizeof(other), "other_hostkey");
	assert_int_equal(sshd_fixture_keygen(other, keytype), 0);
	assert_int_equal(fw_snprintf(line, sizeof(line), "%s.pub", other), 0);
	assert_int_equal(sshd_fixture_pub_line(line, line, sizeof(line)), 0);
	sshd_fixture_path(&g.fx, kh, sizeof(kh), "kh_changed");
	text = xasprintf("[127.0.0.1]:%u %s\n", g.sshd->port, line);
	assert_int_equal(sshd_fixture_write(kh, text), 0);
	free(text);

	opts_init(&opts, kh);
	opts.accept_new_host_keys = 1;
	assert_int_equal(connect_with("127.0.0.1", ADDR_IPV4, g.sshd->port,
	    &opts, g.fx.client_key, err, sizeof(err)), FW_ERR_HOSTKEY_CHANGED);
	assert_non_null(strstr(err, "CHANGED"));
	text = xasprintf("ssh-keygen -R '[127.0.0.1]:%u' -f %s", g.sshd->port,
	    kh);
	assert_non_null(strstr(err, text));
	free(text);
}

static void test_hostkey_changed(void **state)
{
	check_changed("ed25519");
}

static void test_hostkey_other_type(void **state)
{
	check_changed("ecdsa");
}

static void test_auth_wrong_key(void **state)
{
	struct transport_opts opts;
	char err[512] = "";

	opts_init(&opts, g.fx.known_hosts);
	assert_int_equal(connect_with("127.0.0.1", ADDR_IPV4, g.sshd->port,
	    &opts, g.wrong_key, err, sizeof(err)), FW_ERR_AUTH);
	assert_non_null(strstr(err, "authentication as root failed"));
	assert_non_null(strstr(err, "publickey"));
}

static void test_auth_missing_key(void **state)
{
	struct transport_opts opts;
	char err[512] = "";

	opts_init(&opts, g.fx.known_hosts);
	assert_int_equal(connect_with("127.0.0.1", ADDR_IPV4, g.sshd->port,
	    &opts, "/nonexistent/key", err, sizeof(err)), FW_ERR_AUTH);
	assert_non_null(strstr(err, "/nonexistent/key"));
}

static void test_auth_wrong_password(void **state)
{
	struct transport_opts opts;
	char err[512] = "";

	opts_init(&opts, g.fx.known_hosts);
	opts.password = "not-the-password";
	assert_int_equal(connect_with("127.0.0.1", ADDR_IPV4, g.sshd->port,
	    &opts, NULL, err, sizeof(err)), FW_ERR_AUTH);
	assert_non_null(strstr(err, "password"));
	assert_null(strstr(err, "not-the-password"));
}

static void test_closed_port(void **state)
{
	struct transport_opts opts;
	char err[512] = "";
	uint16_t port;
	uint64_t t0;
	int fd;

	/* A port that was just free: bind, learn it, close. */
	assert_true((fd = silent_listener(&port)) >= 0);
	close(fd);
	opts_init(&opts, g.fx.known_hosts);
	t0 = fw_now_ms();
	assert_int_equal(connect_with("127.0.0.1", ADDR_IPV4, port, &opts,
	    g.fx.client_key, err, sizeof(err)), FW_ERR_SSH);
	assert_true(fw_now_ms() - t0 < 1000);
	assert_non_null(strstr(err, "cannot connect to 127.0.0.1:"));
}

static void test_connect_timeout(void **state)
{
	struct transport_opts opts;
	char err[512] = "";
	uint16_t port;
	uint64_t t0, ms;
	int fd;

	/* Accepts TCP (the backlog) but never sends a banner. */
	assert_true((fd = silent_listener(&port)) >= 0);
	opts_init(&opts, g.fx.known_hosts);
	opts.connect_timeout_s = 1;
	t0 = fw_now_ms();
	assert_int_equal(connect_with("127.0.0.1", ADDR_IPV4, port, &opts,
	    g.fx.client_key, err, sizeof(err)), FW_ERR_TIMEOUT);
	ms = fw_now_ms() - t0;
	close(fd);
	assert_true(ms < 3000);
	assert_non_null(strstr(err, "timed out after 1s"));
}

struct worker {
	pthread_t tid;
	const char *known_hosts;
	int r;
	char out[16];
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct node_spec spec;
	struct transport_opts opts;
	struct transport *t = NULL;
	struct exec_result res;
	char err[512] = "";

	spec_init(&spec, "127.0.0.1", ADDR_IPV4, g.sshd->port);
	opts_init(&opts, w->known_hosts);
	opts.accept_new_host_keys = 1;
	if ((w->r = transport_ssh_connect(&spec, &opts, &t, err,
	    sizeof(err))) == 0 &&
	    (w->r = transport_exec(t, "echo $((6*7))", NULL, 0, 30000, &res,
	    err, sizeof(err))) == 0) {
		(void)fw_snprintf(w->out, sizeof(w->out), "%s", res.out);
		exec_result_free(&res);
	}
	if (w->r != 0)
		fprintf(stderr, "worker: %s\n", err);
	transport_close(t);
	return NULL;
}

/* Workers adding the same new key at once: one entry, all connected. */
static void test_concurrent(void **state)
{
	struct worker w[NTHREADS];
	char kh[128], *text = NULL, *entry, *p;
	size_t n;
	int i, count = 0;

	sshd_fixture_path(&g.fx, kh, sizeof(kh), "kh_concurrent");
	unlink(kh);
	for (i = 0; i < NTHREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].known_hosts = kh;
		assert_int_equal(pthread_create(&w[i].tid, NULL, worker_main,
		    &w[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(w[i].tid, NULL);
		assert_int_equal(w[i].r, 0);
		assert_string_equal(w[i].out, "42\n");
	}
	assert_int_equal(fw_read_file(kh, 65536, &text, &n), 0);
	entry = xasprintf("[127.0.0.1]:%u ", g.sshd->port);
	for (p = text; (p = strstr(p, entry)) != NULL; p++)
		count++;
	assert_int_equal(count, 1);
	free(entry);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exec_basic, setup_conn,
		    teardown_conn),
		cmocka_unit_test_setup_teardown(test_exec_signal, setup_conn,
		    teardown_conn),
		cmocka_unit_test_setup_teardown(test_exec_stdin_sha256,
		    setup_conn, teardown_conn),
		cmocka_unit_test_setup_teardown(test_exec_echo_back,
		    setup_conn, teardown_conn),
		cmocka_unit_test_setup_teardown(test_exec_unread_stdin,
		    setup_conn, teardown_conn),
		cmocka_unit_test_setup_teardown(test_exec_quotes, setup_conn,
		    teardown_conn),
		cmocka_unit_test_setup_teardown(test_exec_timeout, setup_conn,
		    teardown_conn),
		cmocka_unit_test(test_exec_sudo_as_root),
		cmocka_unit_test_setup_teardown(test_exec_connection_lost,
		    setup_conn, teardown_conn),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_link_local),
		cmocka_unit_test(test_hostkey_unknown),
		cmocka_unit_test(test_hostkey_accept_new),
		cmocka_unit_test(test_hostkey_changed),
		cmocka_unit_test(test_hostkey_other_type),
		cmocka_unit_test(test_auth_wrong_key),
		cmocka_unit_test(test_auth_missing_key),
		cmocka_unit_test(test_auth_wrong_password),
		cmocka_unit_test(test_closed_port),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_concurrent),
	};
	int r;

	/* No ssh-agent: authentication must use only what we give it. */
	unsetenv("SSH_AUTH_SOCK");
	signal(SIGPIPE, SIG_IGN);
	if (geteuid() != 0) {
		fprintf(stderr, "FAIL: test_transport_ssh must run as root "
		    "(it starts a private sshd)\n");
		return 1;
	}
	if (fixture_start() != 0) {
		fprintf(stderr, "FAIL: cannot start a private sshd for the "
		    "test (see above)\n");
		sshd_fixture_stop(&g.fx);
		return 1;
	}
	ssh_init();
	r = cmocka_run_group_tests(tests, NULL, NULL);
	ssh_finalize();
	sshd_fixture_stop(&g.fx);
	return r;
}
