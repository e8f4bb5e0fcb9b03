/*
 * The static engine in an empty chroot holding only the binary and its
 * bootstrap file: it starts, detaches, prints READY, serves Hello,
 * Inventory, Diag and Shutdown over mutual TLS, refuses clients from the
 * wrong CA or session or with an engine's certificate, and removes its work directory on Shutdown and
 * when its idle watchdog fires. Needs root (chroot).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "err.h"
#include "frame.h"
#include "pki.h"
#include "proto.h"
#include "tls.h"
#include "util.h"

#define SID "0123456789abcdef"

struct fixture {
	char root[256];		/* the chroot */
	char workdir[64];	/* inside the chroot */
	char *ca_pem, *ctl_cert, *ctl_key;
	size_t ca_len, ctl_cert_len, ctl_key_len;
	EVP_PKEY *ca_key;
	X509 *ca;
	uint16_t port;
};

static char *pem_cert(X509 *c, size_t *len)
{
	char *p;

	assert_int_equal(pki_cert_to_pem(c, &p, len), 0);
	return p;
}

static char *pem_key(EVP_PKEY *k, size_t *len)
{
	char *p;

	assert_int_equal(pki_key_to_pem(k, &p, len), 0);
	return p;
}

/* Issues a leaf from ca/ca_key for the given role and session. */
static void issue(EVP_PKEY *ca_key, X509 *ca, const char *role,
    const char *sid, const char *host_san, long validity, char **cert,
    size_t *cert_len, char **key, size_t *key_len)
{
	char uri[128], role_uri[96], err[256];
	const char *sans[4] = { uri, host_san, role_uri, NULL };
	EVP_PKEY *k;
	X509 *c;

	snprintf(uri, sizeof(uri), "URI:%s%s", TLS_SESSION_URI_PREFIX, sid);
	snprintf(role_uri, sizeof(role_uri), "URI:%s%s", TLS_ROLE_URI_PREFIX,
	    role);
	assert_int_equal(pki_issue(ca_key, ca, "test", sans, validity, &k, &c,
	    err, sizeof(err)), 0);
	*cert = pem_cert(c, cert_len);
	*key = pem_key(k, key_len);
	EVP_PKEY_free(k);
	X509_free(c);
}

static void write_bootstrap(struct fixture *fx, unsigned idle)
{
	Fwfleet__Bootstrap bs = FWFLEET__BOOTSTRAP__INIT;
	char *cert, *key, path[512];
	size_t cert_len, key_len, len;
	uint8_t *buf;

	issue(fx->ca_key, fx->ca, TLS_ROLE_ENGINE, SID, "IP:127.0.0.1", 3600,
	    &cert, &cert_len, &key, &key_len);
	bs.session_id = (char *)SID;
	bs.ca_cert_pem.data = (uint8_t *)fx->ca_pem;
	bs.ca_cert_pem.len = fx->ca_len;
	bs.cert_pem.data = (uint8_t *)cert;
	bs.cert_pem.len = cert_len;
	bs.key_pem.data = (uint8_t *)key;
	bs.key_pem.len = key_len;
	bs.port = 41000 + (uint32_t)(getpid() % 1000);
	bs.idle_timeout_s = idle;
	bs.workdir = fx->workdir;
	len = fwfleet__bootstrap__get_packed_size(&bs);
	buf = xmalloc(len);
	fwfleet__bootstrap__pack(&bs, buf);
	snprintf(path, sizeof(path), "%s%s/bootstrap", fx->root, fx->workdir);
	assert_int_equal(fw_write_file(path, buf, len, 0600), 0);
	free(buf);
	free(cert);
	free(key);
}

static void copy_engine(struct fixture *fx)
{
	const char *engine = getenv("FWFLEET_ENGINE");
	char *data, dst[512];
	size_t len;

	assert_non_null(engine);
	assert_int_equal(fw_read_file(engine, 256u << 20, &data, &len), 0);
	snprintf(dst, sizeof(dst), "%s%s/fwfleet-engine", fx->root,
	    fx->workdir);
	assert_int_equal(fw_write_file(dst, data, len, 0700), 0);
	free(data);
}

/* Counts the entries of the chroot, recursively, via find. */
static int chroot_entries(struct fixture *fx)
{
	char cmd[600], out[32] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "find %s -mindepth 1 | wc -l", fx->root);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(out, sizeof(out), p));
	pclose(p);
	return atoi(out);
}

static int setup(void **state)
{
	struct fixture *fx = xcalloc(1, sizeof(*fx));
	char err[256], dir[512];

	if (geteuid() != 0)
		fail_msg("this test needs root (chroot); run it as root");
	snprintf(fx->root, sizeof(fx->root), "/tmp/fwfleet-chroot-XXXXXX");
	assert_non_null(mkdtemp(fx->root));
	snprintf(fx->workdir, sizeof(fx->workdir), "/fwfleet-" SID "-0");
	snprintf(dir, sizeof(dir), "%s%s", fx->root, fx->workdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(pki_ca_create("test CA", 1, &fx->ca_key, &fx->ca,
	    err, sizeof(err)), 0);
	fx->ca_pem = pem_cert(fx->ca, &fx->ca_len);
	issue(fx->ca_key, fx->ca, TLS_ROLE_CONTROLLER, SID, "DNS:controller", 3600,
	    &fx->ctl_cert, &fx->ctl_cert_len, &fx->ctl_key, &fx->ctl_key_len);
	*state = fx;
	return 0;
}

/* Stops any engine still running in our chroot (a failed test's). */
static void kill_chroot_engines(const char *root)
{
	char link[300], target[512];
	struct dirent *de;
	DIR *d = opendir("/proc");
	ssize_t n;

	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(link, sizeof(link), "/proc/%s/root", de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, root, strlen(root)) == 0)
			kill((pid_t)strtol(de->d_name, NULL, 10), SIGKILL);
	}
	if (d != NULL)
		closedir(d);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[600];

	kill_chroot_engines(fx->root);
	snprintf(cmd, sizeof(cmd), "rm -rf -- %s", fx->root);
	(void)!system(cmd);
	free(fx->ca_pem);
	free(fx->ctl_cert);
	free(fx->ctl_key);
	EVP_PKEY_free(fx->ca_key);
	X509_free(fx->ca);
	free(fx);
	return 0;
}

static const char *engine_sha256(void)
{
	static char hex[65];
	char *data;
	size_t len;

	assert_int_equal(fw_read_file(getenv("FWFLEET_ENGINE"), 256u << 20,
	    &data, &len), 0);
	fw_sha256_hex(data, len, hex);
	free(data);
	return hex;
}

/* Starts the engine in the chroot; returns its READY port. */
static uint16_t start_engine(struct fixture *fx)
{
	char boot[256], exe[256], line[160] = "", *sha;
	int pfd[2], status;
	pid_t pid;
	ssize_t n;
	long port;

	snprintf(exe, sizeof(exe), "%s/fwfleet-engine", fx->workdir);
	snprintf(boot, sizeof(boot), "%s/bootstrap", fx->workdir);
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		if (chroot(fx->root) != 0 || chdir("/") != 0)
			_exit(90);
		/* An empty environment: nothing from the host. */
		execle(exe, exe, "start", "--bootstrap", boot, (char *)NULL,
		    (char *[]){ NULL });
		_exit(91);
	}
	close(pfd[1]);
	n = read(pfd[0], line, sizeof(line) - 1);
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(n > 6);
	assert_memory_equal(line, "READY ", 6);
	fw_rtrim(line);
	/* "READY <port> sha256=<hash of the engine's own binary>" */
	sha = strstr(line, " sha256=");
	assert_non_null(sha);
	*sha = '\0';
	assert_string_equal(sha + 8, engine_sha256());
	assert_int_equal(fw_parse_long(line + 6, 1, 65535, &port), 0);
	return (uint16_t)port;
}

static SSL *tls_connect(struct fixture *fx, const char *cert, size_t cl,
    const char *key, size_t kl, const char *ca, size_t cal, uint16_t port,
    int *fd_out)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
	    .sin_port = htons(port) };
	char err[256];
	SSL_CTX *ctx;
	SSL *ssl;
	int fd;

	ctx = tls_ctx_new(TLS_ROLE_CLIENT, ca, cal, cert, cl, key, kl, err,
	    sizeof(err));
	assert_non_null(ctx);
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);
	assert_int_equal(tls_expect_host(ssl, "127.0.0.1"), 0);
	SSL_set_fd(ssl, fd);
	*fd_out = fd;
	return ssl;
}

static void tls_close(SSL *ssl, int fd)
{
	SSL_free(ssl);
	close(fd);
}

/* Returns 1 if the whole frame was written. */
static int send_msg(SSL *ssl, Fwfleet__ControllerMsg *m)
{
	int ok;

	size_t len = fwfleet__controller_msg__get_packed_size(m);
	uint8_t *buf = xmalloc(len + 4);

	frame_encode_header(len, FW_MSG_MAX, buf);
	fwfleet__controller_msg__pack(m, buf + 4);
	ok = SSL_write(ssl, buf, (int)len + 4) == (int)len + 4;
	free(buf);
	return ok;
}

/* Reads one reply; NULL if the engine closed the connection. */
static Fwfleet__EngineMsg *recv_msg(SSL *ssl)
{
	uint8_t hdr[4], *buf;
	const uint8_t *p;
	size_t plen, used, got = 0;
	Fwfleet__EngineMsg *m;
	int n;

	while (got < 4) {
		if ((n = SSL_read(ssl, hdr + got, (int)(4 - got))) <= 0)
			return NULL;
		got += (size_t)n;
	}
	if (frame_decode(hdr, 4, FW_MSG_MAX, &p, &plen, &used) != FW_ERR_AGAIN)
		return NULL;
	plen = (size_t)hdr[0] << 24 | (size_t)hdr[1] << 16 |
	    (size_t)hdr[2] << 8 | hdr[3];
	buf = xmalloc(plen);
	for (got = 0; got < plen; got += (size_t)n)
		if ((n = SSL_read(ssl, buf + got, (int)(plen - got))) <= 0) {
			free(buf);
			return NULL;
		}
	m = fwfleet__engine_msg__unpack(NULL, plen, buf);
	free(buf);
	return m;
}

static Fwfleet__EngineMsg *hello(SSL *ssl, const char *sid)
{
	Fwfleet__ControllerMsg m = FWFLEET__CONTROLLER_MSG__INIT;
	Fwfleet__Hello h = FWFLEET__HELLO__INIT;

	h.protocol_version = FW_PROTOCOL_VERSION;
	h.session_id = (char *)sid;
	m.msg_case = FWFLEET__CONTROLLER_MSG__MSG_HELLO;
	m.hello = &h;
	m.id = 1;
	if (!send_msg(ssl, &m))
		return NULL;
	return recv_msg(ssl);
}

static void request(SSL *ssl, int which)
{
	Fwfleet__ControllerMsg m = FWFLEET__CONTROLLER_MSG__INIT;
	Fwfleet__InventoryRequest inv = FWFLEET__INVENTORY_REQUEST__INIT;
	Fwfleet__DiagRequest dg = FWFLEET__DIAG_REQUEST__INIT;
	Fwfleet__ShutdownRequest sd = FWFLEET__SHUTDOWN_REQUEST__INIT;

	m.id = 2;
	m.msg_case = (Fwfleet__ControllerMsg__MsgCase)which;
	if (which == FWFLEET__CONTROLLER_MSG__MSG_INVENTORY)
		m.inventory = &inv;
	else if (which == FWFLEET__CONTROLLER_MSG__MSG_DIAG)
		m.diag = &dg;
	else {
		sd.remove_workdir = 1;
		m.shutdown = &sd;
	}
	assert_true(send_msg(ssl, &m));
}

static int engine_gone(struct fixture *fx)
{
	char dir[512];
	struct stat st;
	int i;

	snprintf(dir, sizeof(dir), "%s%s", fx->root, fx->workdir);
	for (i = 0; i < 100; i++) {	/* bounded: 10 s */
		if (stat(dir, &st) != 0 && errno == ENOENT)
			return 1;
		usleep(100000);
	}
	return 0;
}

static int port_closed(uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
	    .sin_port = htons(port) };
	int fd, i, r = 0;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	for (i = 0; i < 50 && !r; i++) {	/* bounded: 5 s */
		fd = socket(AF_INET, SOCK_STREAM, 0);
		r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0;
		close(fd);
		if (!r)
			usleep(100000);
	}
	return r;
}

static void test_full_session(void **state)
{
	struct fixture *fx = *state;
	Fwfleet__EngineMsg *r;
	uint16_t port;
	SSL *ssl;
	int fd;

	copy_engine(fx);
	write_bootstrap(fx, 60);
	assert_int_equal(chroot_entries(fx), 3);	/* dir, engine, bootstrap */
	port = start_engine(fx);
	ssl = tls_connect(fx, fx->ctl_cert, fx->ctl_cert_len, fx->ctl_key,
	    fx->ctl_key_len, fx->ca_pem, fx->ca_len, port, &fd);
	assert_int_equal(SSL_connect(ssl), 1);
	r = hello(ssl, SID);
	assert_non_null(r);
	assert_int_equal(r->msg_case, FWFLEET__ENGINE_MSG__MSG_HELLO);
	assert_int_equal(r->hello->protocol_version, FW_PROTOCOL_VERSION);
	assert_string_equal(r->hello->session_id, SID);
	fwfleet__engine_msg__free_unpacked(r, NULL);

	request(ssl, FWFLEET__CONTROLLER_MSG__MSG_INVENTORY);
	r = recv_msg(ssl);
	assert_non_null(r);
	assert_int_equal(r->msg_case, FWFLEET__ENGINE_MSG__MSG_INVENTORY);
	/* No sysfs in the chroot: an empty but valid inventory. */
	assert_int_equal(r->inventory->n_pci, 0);
	fwfleet__engine_msg__free_unpacked(r, NULL);

	request(ssl, FWFLEET__CONTROLLER_MSG__MSG_DIAG);
	r = recv_msg(ssl);
	assert_non_null(r);
	assert_int_equal(r->msg_case, FWFLEET__ENGINE_MSG__MSG_DIAG);
	assert_string_equal(r->diag->session_id, SID);
	assert_string_equal(r->diag->workdir, fx->workdir);
	assert_int_equal(r->diag->port, port);
	assert_int_equal(r->diag->idle_timeout_s, 60);
	assert_true(r->diag->pid > 1);
	assert_true(r->diag->cert_not_after_unix > 0);
	fwfleet__engine_msg__free_unpacked(r, NULL);

	request(ssl, FWFLEET__CONTROLLER_MSG__MSG_SHUTDOWN);
	r = recv_msg(ssl);
	assert_non_null(r);
	assert_int_equal(r->msg_case, FWFLEET__ENGINE_MSG__MSG_SHUTDOWN);
	assert_true(r->shutdown->workdir_removed);
	fwfleet__engine_msg__free_unpacked(r, NULL);
	tls_close(ssl, fd);
	assert_true(engine_gone(fx));
	assert_true(port_closed(port));
	assert_int_equal(chroot_entries(fx), 0);
}

/* A client whose certificate is not from the session CA is refused. */
static void test_wrong_ca_refused(void **state)
{
	struct fixture *fx = *state;
	EVP_PKEY *k2;
	X509 *ca2;
	char err[256], *cert, *key, *ca2_pem;
	size_t cl, kl, cal;
	uint16_t port;
	SSL *ssl;
	int fd, ok;

	copy_engine(fx);
	write_bootstrap(fx, 60);
	port = start_engine(fx);
	assert_int_equal(pki_ca_create("other CA", 1, &k2, &ca2, err,
	    sizeof(err)), 0);
	issue(k2, ca2, TLS_ROLE_CONTROLLER, SID, "DNS:controller", 3600, &cert, &cl,
	    &key, &kl);
	ca2_pem = pem_cert(ca2, &cal);
	/* Trusts the real CA, so only the engine's check can refuse. */
	ssl = tls_connect(fx, cert, cl, key, kl, fx->ca_pem, fx->ca_len, port,
	    &fd);
	ok = SSL_connect(ssl) == 1 && hello(ssl, SID) != NULL;
	assert_false(ok);
	tls_close(ssl, fd);

	/* Right CA, wrong session: handshake completes, then refused. */
	free(cert);
	free(key);
	issue(fx->ca_key, fx->ca, TLS_ROLE_CONTROLLER, "fedcba9876543210",
	    "DNS:controller", 3600, &cert, &cl, &key, &kl);
	ssl = tls_connect(fx, cert, cl, key, kl, fx->ca_pem, fx->ca_len, port,
	    &fd);
	ok = SSL_connect(ssl) == 1 && hello(ssl, SID) != NULL;
	assert_false(ok);
	tls_close(ssl, fd);

	/* Right CA and session, but an engine's certificate, as another
	 * node's engine would hold: refused. */
	free(cert);
	free(key);
	issue(fx->ca_key, fx->ca, TLS_ROLE_ENGINE, SID, "IP:198.18.0.99", 3600,
	    &cert, &cl, &key, &kl);
	ssl = tls_connect(fx, cert, cl, key, kl, fx->ca_pem, fx->ca_len, port,
	    &fd);
	ok = SSL_connect(ssl) == 1 && hello(ssl, SID) != NULL;
	assert_false(ok);
	tls_close(ssl, fd);

	/* The engine still serves the right controller afterwards. */
	ssl = tls_connect(fx, fx->ctl_cert, fx->ctl_cert_len, fx->ctl_key,
	    fx->ctl_key_len, fx->ca_pem, fx->ca_len, port, &fd);
	assert_int_equal(SSL_connect(ssl), 1);
	request(ssl, FWFLEET__CONTROLLER_MSG__MSG_INVENTORY);
	{
		/* Before Hello, requests are refused with an error. */
		Fwfleet__EngineMsg *r = recv_msg(ssl);

		assert_non_null(r);
		assert_int_equal(r->msg_case, FWFLEET__ENGINE_MSG__MSG_ERROR);
		fwfleet__engine_msg__free_unpacked(r, NULL);
	}
	tls_close(ssl, fd);
	ssl = tls_connect(fx, fx->ctl_cert, fx->ctl_cert_len, fx->ctl_key,
	    fx->ctl_key_len, fx->ca_pem, fx->ca_len, port, &fd);
	assert_int_equal(SSL_connect(ssl), 1);
	fwfleet__engine_msg__free_unpacked(hello(ssl, SID), NULL);
	request(ssl, FWFLEET__CONTROLLER_MSG__MSG_SHUTDOWN);
	fwfleet__engine_msg__free_unpacked(recv_msg(ssl), NULL);
	tls_close(ssl, fd);
	assert_true(engine_gone(fx));
	free(cert);
	free(key);
	free(ca2_pem);
	EVP_PKEY_free(k2);
	X509_free(ca2);
}

/* Without the controller, the watchdog removes everything and exits. */
static void test_watchdog(void **state)
{
	struct fixture *fx = *state;
	uint16_t port;

	copy_engine(fx);
	write_bootstrap(fx, 2);
	port = start_engine(fx);
	assert_true(engine_gone(fx));
	assert_true(port_closed(port));
	assert_int_equal(chroot_entries(fx), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full_session, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_wrong_ca_refused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_watchdog, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
