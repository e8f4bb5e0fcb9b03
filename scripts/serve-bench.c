/*
 * Driver for scripts/bench-serve.sh (not installed, not built by CMake;
 * the script compiles it against the build's static libraries):
 *
 *   serve-bench pki DIR          a CA, a server certificate (IP 127.0.0.1,
 *                                ::1) and an engine client certificate of
 *                                session "bench", all ECDSA P-256, as PEM
 *                                files in DIR: ca.crt server.{crt,key}
 *                                client.{crt,key}
 *   serve-bench serve DIR FILE [THREADS]
 *                                the controller's HTTPS server on
 *                                127.0.0.1, an ephemeral port written to
 *                                DIR/fw.port, serving FILE at /big.bin,
 *                                until SIGTERM or SIGINT; THREADS is
 *                                opts.threads (default 0: one loop)
 *   serve-bench freeport         prints a free TCP port on 127.0.0.1
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/ssl.h>

#include "err.h"
#include "https_server.h"
#include "log.h"
#include "pki.h"
#include "tls.h"
#include "util.h"

#define BENCH_SID	"bench"

static int write_pem(const char *dir, const char *name, const char *pem,
    size_t len, int mode)
{
	char path[4096];

	if (fw_snprintf(path, sizeof(path), "%s/%s", dir, name) != 0 ||
	    fw_write_file(path, pem, len, mode) != 0) {
		fprintf(stderr, "cannot write %s/%s\n", dir, name);
		return 1;
	}
	return 0;
}

static int cmd_pki(const char *dir)
{
	const char *server_sans[] = { "IP:127.0.0.1", "IP:::1",
		"URI:" TLS_SESSION_URI_PREFIX BENCH_SID,
		"URI:" TLS_ROLE_URI_PREFIX TLS_ROLE_CONTROLLER, NULL };
	const char *client_sans[] = {
		"URI:" TLS_SESSION_URI_PREFIX BENCH_SID,
		"URI:" TLS_ROLE_URI_PREFIX TLS_ROLE_ENGINE, NULL };
	struct pki_pem server = { 0 }, client = { 0 };
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char err[256], *ca = NULL;
	size_t calen = 0;
	int r = 1;

	if (pki_ca_create("bench CA", 2, &key, &cert, err, sizeof(err)) != 0 ||
	    pki_issue_pem(key, cert, "bench server", server_sans, 86400,
	    &server, err, sizeof(err)) != 0 ||
	    pki_issue_pem(key, cert, "bench engine", client_sans, 86400,
	    &client, err, sizeof(err)) != 0) {
		fprintf(stderr, "pki: %s\n", err);
		goto out;
	}
	if (pki_cert_to_pem(cert, &ca, &calen) != 0)
		goto out;
	if (write_pem(dir, "ca.crt", ca, calen, 0644) ||
	    write_pem(dir, "server.crt", server.cert, server.cert_len, 0644) ||
	    write_pem(dir, "server.key", server.key, server.key_len, 0600) ||
	    write_pem(dir, "client.crt", client.cert, client.cert_len, 0644) ||
	    write_pem(dir, "client.key", client.key, client.key_len, 0600))
		goto out;
	r = 0;
out:
	free(ca);
	pki_pem_clear(&server);
	pki_pem_clear(&client);
	EVP_PKEY_free(key);
	X509_free(cert);
	return r;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static SSL_CTX *load_ctx(const char *dir)
{
	char path[4096], err[256];
	char *ca = NULL, *crt = NULL, *key = NULL;
	size_t calen = 0, crtlen = 0, keylen = 0;
	SSL_CTX *ctx = NULL;

	if (fw_snprintf(path, sizeof(path), "%s/ca.crt", dir) != 0 ||
	    fw_read_file(path, 1 << 20, &ca, &calen) != 0 ||
	    fw_snprintf(path, sizeof(path), "%s/server.crt", dir) != 0 ||
	    fw_read_file(path, 1 << 20, &crt, &crtlen) != 0 ||
	    fw_snprintf(path, sizeof(path), "%s/server.key", dir) != 0 ||
	    fw_read_file(path, 1 << 20, &key, &keylen) != 0) {
		fprintf(stderr, "cannot read the PEM files in %s\n", dir);
		goto out;
	}
	ctx = tls_ctx_new(TLS_ROLE_SERVER, ca, calen, crt, crtlen, key,
	    keylen, err, sizeof(err));
	if (ctx == NULL)
		fprintf(stderr, "tls: %s\n", err);
out:
	free(ca);
	free(crt);
	if (key != NULL)
		OPENSSL_clear_free(key, keylen);
	return ctx;
}

static int cmd_serve(const char *dir, const char *file, const char *threads)
{
	const char *addrs[] = { "127.0.0.1", NULL };
	struct https_server_opts o = { .session_id = BENCH_SID,
		.bind_addrs = addrs };
	struct https_server_stats st;
	struct https_server *s = NULL;
	struct event_base *base = NULL;
	struct event *sigterm = NULL, *sigint = NULL;
	char err[256], path[4096], port[16];
	long n = 0;
	int r = 1;

	signal(SIGPIPE, SIG_IGN);
	if (threads != NULL && fw_parse_long(threads, 0, 64, &n) != 0) {
		fprintf(stderr, "serve: bad thread count %s\n", threads);
		return 2;
	}
	o.threads = (unsigned int)n;
	if ((o.ctx = load_ctx(dir)) == NULL ||
	    (base = event_base_new()) == NULL)
		goto out;
	if (https_server_start(base, &o, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, "serve: %s\n", err);
		goto out;
	}
	if (https_server_add_file(s, "/big.bin", file) != 0 ||
	    fw_snprintf(port, sizeof(port), "%u\n",
	    (unsigned)https_server_port(s)) != 0 ||
	    fw_snprintf(path, sizeof(path), "%s/fw.port", dir) != 0 ||
	    fw_write_file(path, port, strlen(port), 0644) != 0)
		goto out;
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	if (sigterm == NULL || sigint == NULL || evsignal_add(sigterm, NULL) ||
	    evsignal_add(sigint, NULL))
		goto out;
	event_base_dispatch(base);
	https_server_get_stats(s, &st);
	fprintf(stderr, "serve-bench: %llu requests, %llu MB sent, %llu "
	    "refused\n", (unsigned long long)st.requests,
	    (unsigned long long)(st.bytes_sent / 1000000),
	    (unsigned long long)st.refused);
	r = 0;
out:
	https_server_free(s);
	if (sigterm != NULL)
		event_free(sigterm);
	if (sigint != NULL)
		event_free(sigint);
	if (base != NULL)
		event_base_free(base);
	SSL_CTX_free(o.ctx);
	return r;
}

static int cmd_freeport(void)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &sl) != 0) {
		perror("freeport");
		return 1;
	}
	printf("%u\n", (unsigned)ntohs(sin.sin_port));
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	log_init("serve-bench", LOG_LVL_WARN);
	if (argc == 3 && strcmp(argv[1], "pki") == 0)
		return cmd_pki(argv[2]);
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "serve") == 0)
		return cmd_serve(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
	if (argc == 2 && strcmp(argv[1], "freeport") == 0)
		return cmd_freeport();
	fprintf(stderr, "usage: serve-bench pki DIR | serve DIR FILE [THREADS] "
	    "| freeport\n");
	return 2;
}
