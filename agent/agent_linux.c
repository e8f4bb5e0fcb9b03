/*
 * The persistent agent on Linux: enrollment, the foreground server, and
 * the supervisor that keeps it running where systemd does not.
 */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "agent_journal.h"
#include "diag.h"
#include "engine.h"
#include "err.h"
#include "firewall.h"
#include "log.h"
#include "pki.h"
#include "platform.h"
#include "proto.h"
#include "util.h"

#define AGENT_IO_MAX		(64 * 1024)
#define AGENT_READY_MS		10000
#define AGENT_STOP_MS		10000
#define AGENT_BACKOFF_MAX_S	30
#define AGENT_LOG_MAX		(1024 * 1024)

struct agent_paths {
	char root[1024];
	char bin[1200];
	char conf[1200];
	char state[1200];
	char key[1300];
	char key_new[1300];
	char crt[1300];
	char ca[1300];
	char pid[1300];
	char child_pid[1300];
	char log[1300];
	char run[1300];
	char repo_pub[1300];
};

struct agent_opts {
	struct agent_paths p;
	const char *name;		/* enroll: the node's name */
	long port;
	int ready_fd;
	int open_firewall;		/* enroll: agent.conf open_firewall=1 */
};

/* Joins root and rel: "/" + "var/lib/x" is "/var/lib/x". */
static void join(char *out, size_t len, const char *root, const char *rel)
{
	size_t n = strlen(root);

	fw_snprintf(out, len, "%.*s/%s", (int)(n > 0 && root[n - 1] == '/' ?
	    n - 1 : n), root, rel);
}

static void agent_paths(const char *root, struct agent_paths *p)
{
	fw_snprintf(p->root, sizeof(p->root), "%s", root);
	join(p->bin, sizeof(p->bin), root, AGENT_BIN);
	join(p->conf, sizeof(p->conf), root, AGENT_CONF);
	join(p->state, sizeof(p->state), root, AGENT_STATE);
	fw_snprintf(p->key, sizeof(p->key), "%s/agent.key", p->state);
	fw_snprintf(p->key_new, sizeof(p->key_new), "%s/agent.key.new",
	    p->state);
	fw_snprintf(p->crt, sizeof(p->crt), "%s/agent.crt", p->state);
	fw_snprintf(p->ca, sizeof(p->ca), "%s/ca.crt", p->state);
	fw_snprintf(p->pid, sizeof(p->pid), "%s/supervisor.pid", p->state);
	fw_snprintf(p->child_pid, sizeof(p->child_pid), "%s/agent.pid",
	    p->state);
	fw_snprintf(p->log, sizeof(p->log), "%s/agent.log", p->state);
	fw_snprintf(p->run, sizeof(p->run), "%s/fwfleet-run", p->state);
	fw_snprintf(p->repo_pub, sizeof(p->repo_pub), "%s/repo.pub", p->state);
}

static int parse_opts(int argc, char **argv, struct agent_opts *o)
{
	static const struct option longopts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "port", required_argument, NULL, 'p' },
		{ "ready-fd", required_argument, NULL, 'f' },
		{ "name", required_argument, NULL, 'n' },
		{ "open-firewall", no_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *root = getenv("FWFLEET_SYSROOT");
	long fd;
	int ch;

	memset(o, 0, sizeof(*o));
	o->port = FW_ENGINE_PORT;
	o->ready_fd = -1;
	o->name = "";
	if (root == NULL || root[0] == '\0')
		root = "/";
	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'r': root = optarg; break;
		case 'n': o->name = optarg; break;
		case 'o': o->open_firewall = 1; break;
		case 'p':
			if (fw_parse_long(optarg, 1, 65535, &o->port) != 0)
				return -1;
			break;
		case 'f':
			if (fw_parse_long(optarg, 3, 1024, &fd) != 0)
				return -1;
			o->ready_fd = (int)fd;
			break;
		default: return -1;
		}
	}
	if (root[0] != '/' || optind != argc)
		return -1;
	agent_paths(root, &o->p);
	return 0;
}

/* --- enrollment ---------------------------------------------------------- */

static int cmd_csr(struct agent_opts *o)
{
	EVP_PKEY *key = NULL;
	char err[256], *csr = NULL, *pem = NULL;
	size_t csr_len, pem_len;
	int r;

	if ((r = fw_mkdirs(o->p.state, 0700)) != 0) {
		fprintf(stderr, "fwfleet-engine: cannot create %s: %s\n",
		    o->p.state, strerror(errno));
		return 1;
	}
	if ((r = pki_csr_new(&key, &csr, &csr_len, err, sizeof(err))) != 0 ||
	    (r = pki_key_to_pem(key, &pem, &pem_len)) != 0 ||
	    (r = fw_write_file(o->p.key_new, pem, pem_len, 0600)) != 0) {
		fprintf(stderr, "fwfleet-engine: cannot make a key and "
		    "certificate request: %s\n", r == FW_ERR_TLS ? err :
		    strerror(errno));
	} else {
		fwrite(csr, 1, csr_len, stdout);
	}
	if (pem != NULL)
		OPENSSL_clear_free(pem, pem_len);
	free(csr);
	EVP_PKEY_free(key);
	return r == 0 ? 0 : 1;
}

/* Reads all of stdin (at most AGENT_IO_MAX bytes). */
static char *read_stdin(size_t *len)
{
	char *buf = xmalloc(AGENT_IO_MAX + 1);
	ssize_t n;

	*len = 0;
	while (*len < AGENT_IO_MAX &&
	    (n = read(0, buf + *len, AGENT_IO_MAX - *len)) > 0)
		*len += (size_t)n;
	buf[*len] = '\0';
	return buf;
}

/* The agent certificate, then the CA certificate, from pem. */
static int two_certs(const char *pem, size_t len, X509 **crt, X509 **ca)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);

	*crt = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	*ca = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	return *crt != NULL && *ca != NULL ? 0 : FW_ERR_PARSE;
}

/* Checks crt against the pending key and the CA. */
static int check_enrollment(const struct agent_paths *p, X509 *crt, X509 *ca,
    char *err, size_t errlen)
{
	EVP_PKEY *key = NULL;
	char *pem = NULL;
	size_t len;
	int r = FW_ERR_CERT;

	if (fw_read_file(p->key_new, AGENT_IO_MAX, &pem, &len) != 0 ||
	    pki_key_from_pem(pem, len, &key) != 0)
		fw_snprintf(err, errlen, "no pending key in %s: run `agent "
		    "csr` first", p->key_new);
	else if (X509_check_private_key(crt, key) != 1)
		fw_snprintf(err, errlen, "the certificate is not for the "
		    "pending key");
	else if (X509_verify(crt, X509_get0_pubkey(ca)) != 1)
		fw_snprintf(err, errlen, "the certificate is not signed by the "
		    "CA that came with it");
	else
		r = 0;
	if (pem != NULL)
		OPENSSL_clear_free(pem, len);
	EVP_PKEY_free(key);
	return r;
}

static int write_cert(const char *path, X509 *cert)
{
	char *pem = NULL;
	size_t len;
	int r;

	if ((r = pki_cert_to_pem(cert, &pem, &len)) == 0)
		r = fw_write_file(path, pem, len, 0644);
	free(pem);
	return r;
}

/*
 * --require-signed: the repository key that came after the certificates
 * (PEM) is pinned; without one, a key pinned before is dropped.
 */
static int pin_repo_key(const struct agent_paths *p, const char *in,
    int *pinned)
{
	const char *b = strstr(in, "-----BEGIN PUBLIC KEY-----"), *e;

	*pinned = 0;
	if (b == NULL || (e = strstr(b, "-----END PUBLIC KEY-----")) == NULL)
		return unlink(p->repo_pub) != 0 && errno != ENOENT ?
		    FW_ERR_SYSTEM : 0;
	e += strlen("-----END PUBLIC KEY-----");
	*pinned = 1;
	return fw_write_file(p->repo_pub, b, (size_t)(e - b), 0644) != 0 ?
	    FW_ERR_SYSTEM : 0;
}

/* Makes the pending key (and crt, ca) the agent's. */
static int install_identity(const struct agent_opts *o, X509 *crt, X509 *ca,
    int pinned)
{
	char conf[400];
	char *dir = xstrdup(o->p.conf), *slash = strrchr(dir, '/');
	int r;

	*slash = '\0';
	fw_snprintf(conf, sizeof(conf), "port=%ld\nname=%s\nrequire_signed=%d\n"
	    "open_firewall=%d\n", o->port, o->name, pinned, o->open_firewall);
	r = write_cert(o->p.crt, crt) != 0 || write_cert(o->p.ca, ca) != 0 ||
	    rename(o->p.key_new, o->p.key) != 0 || fw_mkdirs(dir, 0755) != 0 ||
	    fw_write_file(o->p.conf, conf, strlen(conf), 0644) != 0;
	free(dir);
	return r ? FW_ERR_SYSTEM : 0;
}

static int cmd_enroll(struct agent_opts *o)
{
	X509 *crt = NULL, *ca = NULL;
	char err[256], *pem;
	size_t len;
	int r, pinned = 0;

	pem = read_stdin(&len);
	if ((r = two_certs(pem, len, &crt, &ca)) != 0)
		fw_snprintf(err, sizeof(err), "stdin holds no certificate and "
		    "CA certificate (PEM)");
	else if ((r = check_enrollment(&o->p, crt, ca, err, sizeof(err))) == 0 &&
	    ((r = pin_repo_key(&o->p, pem, &pinned)) != 0 ||
	    (r = install_identity(o, crt, ca, pinned)) != 0))
		fw_snprintf(err, sizeof(err), "cannot write to %s: %s",
		    o->p.state, strerror(errno));
	if (r != 0)
		fprintf(stderr, "fwfleet-engine: agent enroll: %s\n", err);
	free(pem);
	X509_free(crt);
	X509_free(ca);
	return r == 0 ? 0 : 1;
}

/* --- serving ------------------------------------------------------------- */

/* The value of the "key=value" line of agent.conf into buf ("" if none). */
static const char *conf_get(const struct agent_paths *p, const char *key,
    char *buf, size_t len)
{
	char *text = NULL, *line, *save = NULL;
	size_t n, kl = strlen(key);

	buf[0] = '\0';
	if (fw_read_file(p->conf, 4096, &text, &n) != 0)
		return buf;
	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, key, kl) == 0 && line[kl] == '=')
			fw_snprintf(buf, len, "%s", line + kl + 1);
	free(text);
	return buf;
}

/* Whether agent.conf says key=1. */
static int conf_on(const struct agent_paths *p, const char *key)
{
	char buf[8];

	return strcmp(conf_get(p, key, buf, sizeof(buf)), "1") == 0;
}

/* The agent's port (62286 if agent.conf has none). */
static long conf_port(const struct agent_paths *p)
{
	char buf[16];
	long port;

	if (fw_parse_long(conf_get(p, "port", buf, sizeof(buf)), 1, 65535,
	    &port) != 0)
		port = FW_ENGINE_PORT;
	return port;
}

static int load_pem(const char *path, ProtobufCBinaryData *out)
{
	char *data = NULL;
	size_t len;

	if (fw_read_file(path, AGENT_IO_MAX, &data, &len) != 0)
		return -1;
	out->data = (uint8_t *)data;
	out->len = len;
	return 0;
}

/* The engine's configuration, as a bootstrap built from the state dir. */
static Fwfleet__Bootstrap *agent_bootstrap(const struct agent_paths *p)
{
	Fwfleet__Bootstrap *bs = xcalloc(1, sizeof(*bs));
	char name[300];

	fwfleet__bootstrap__init(bs);
	bs->session_id = xstrdup("");
	bs->workdir = xstrdup(p->run);
	bs->node_name = xstrdup(conf_get(p, "name", name, sizeof(name)));
	bs->node_address = xstrdup("");
	bs->port = (uint32_t)conf_port(p);
	if (load_pem(p->ca, &bs->ca_cert_pem) != 0 ||
	    load_pem(p->crt, &bs->cert_pem) != 0 ||
	    load_pem(p->key, &bs->key_pem) != 0) {
		fwfleet__bootstrap__free_unpacked(bs, NULL);
		return NULL;
	}
	return bs;
}

/* --require-signed: the pinned repository key, which must be there. */
static int load_repo_key(const struct agent_paths *p, struct engine *e)
{
	if (!conf_on(p, "require_signed"))
		return 0;
	if (fw_read_file(p->repo_pub, 64 * 1024, &e->repo_pub,
	    &e->repo_pub_len) != 0) {
		fprintf(stderr, "fwfleet-engine: agent run: signed components "
		    "are required but %s cannot be read (%s): reinstall the "
		    "agent with --require-signed --pubkey\n", p->repo_pub,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* What a restart cut short shows in Diag's recent errors too. */
static void note_interrupted(struct engine *e)
{
	char **v;
	size_t n, i;

	v = agent_journal_interrupted(e->journal, &n);
	for (i = 0; i < n; i++)
		engine_note_error(e, "%s", v[i]);
}

/*
 * Installed with --open-firewall: the agent's port, open while it runs
 * (rules tagged FIREWALL_AGENT_TAG, closed by engine_free). Rules a killed
 * agent left go first.
 */
static int open_firewall(const struct agent_paths *p, struct engine *e)
{
	char err[512];
	size_t i, swept = 0;

	if (!conf_on(p, "open_firewall"))
		return 0;
	if (firewall_sweep_agent(&swept, err, sizeof(err)) != 0 ||
	    firewall_open(e->port, FIREWALL_AGENT_TAG, &e->fw, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet-engine: agent run: cannot open port "
		    "%u in the firewall (installed with --open-firewall): %s\n",
		    e->port, err);
		return -1;
	}
	if (swept > 0)
		log_info("removed %zu firewall rule(s) an earlier run of the "
		    "agent left", swept);
	for (i = 0; i < firewall_count(e->fw); i++)
		log_info("opened: %s", firewall_rule(e->fw, i));
	return 0;
}

/* Stopped: rules a killed agent could not close. */
static void sweep_left_rules(const struct agent_paths *p)
{
	char err[512];
	size_t swept = 0;

	if (conf_on(p, "open_firewall") &&
	    firewall_sweep_agent(&swept, err, sizeof(err)) != 0)
		fprintf(stderr, "fwfleet-engine: agent stop: cannot remove the "
		    "agent's firewall rules: %s\n", err);
}

static int cmd_run(struct agent_opts *o)
{
	Fwfleet__Bootstrap *bs;
	struct engine *e = NULL;
	char err[512];
	int r;

	if ((bs = agent_bootstrap(&o->p)) == NULL) {
		fprintf(stderr, "fwfleet-engine: agent run: not enrolled (%s: "
		    "%s): install it with `fwfleet agent install`\n", o->p.state,
		    strerror(errno));
		return 1;
	}
	if (engine_new(bs, o->p.root, &e, err, sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet-engine: agent run: %s\n", err);
		fwfleet__bootstrap__free_unpacked(bs, NULL);
		return 1;
	}
	if (load_repo_key(&o->p, e) != 0 || open_firewall(&o->p, e) != 0) {
		engine_free(e);
		return 1;
	}
	e->mode = "persistent";
	e->state_dir = o->p.state;
	engine_self_sha256(o->p.bin, e->sha256);
	if ((e->journal = agent_journal_open(o->p.state)) != NULL)
		note_interrupted(e);
	fw_mkdirs(o->p.run, 0700);
	platform_write_pidfile(o->p.child_pid);
	r = engine_run(e, o->ready_fd);
	unlink(o->p.child_pid);
	engine_free(e);
	return r;
}

/* --- the supervisor ------------------------------------------------------ */

static volatile sig_atomic_t stop_requested;

static void on_stop(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static pid_t read_pid(const char *path)
{
	char *text = NULL;
	size_t len;
	long pid = 0;

	if (fw_read_file(path, 64, &text, &len) == 0) {
		fw_rtrim(text);
		if (fw_parse_long(text, 1, 1L << 30, &pid) != 0)
			pid = 0;
	}
	free(text);
	return (pid_t)pid;
}

static int pid_alive(pid_t pid)
{
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

/* Keeps the log to its last run once it grew past AGENT_LOG_MAX. */
static int open_log(const struct agent_paths *p)
{
	struct stat st;
	int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;

	if (stat(p->log, &st) == 0 && st.st_size > AGENT_LOG_MAX)
		flags |= O_TRUNC;
	return open(p->log, flags, 0600);
}

static pid_t spawn_agent(const struct agent_opts *o, int ready_fd)
{
	char fdarg[16];
	pid_t pid;
	int log;

	if ((pid = fork()) != 0)
		return pid;
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	if ((log = open_log(&o->p)) >= 0) {
		dup2(log, 1);
		dup2(log, 2);
	}
	if (ready_fd >= 0)
		fcntl(ready_fd, F_SETFD, 0);
	fw_snprintf(fdarg, sizeof(fdarg), "%d", ready_fd);
	if (ready_fd >= 0)
		execl(o->p.bin, o->p.bin, "agent", "run", "--root", o->p.root,
		    "--ready-fd", fdarg, (char *)NULL);
	else
		execl(o->p.bin, o->p.bin, "agent", "run", "--root", o->p.root,
		    (char *)NULL);
	_exit(127);
}

/* Restarts the agent whenever it exits, backing off up to 30 s, until
 * SIGTERM; then stops it. */
static int supervise(const struct agent_opts *o, int ready_fd)
{
	struct sigaction sa = { .sa_handler = on_stop };
	unsigned backoff = 1;
	time_t started;
	pid_t child;
	int status = 0, log;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if ((log = open_log(&o->p)) >= 0)
		log_set_fd(log);
	platform_write_pidfile(o->p.pid);
	while (!stop_requested) {
		started = time(NULL);
		if ((child = spawn_agent(o, ready_fd)) < 0)
			break;
		if (ready_fd >= 0)
			close(ready_fd);	/* the first agent reports */
		ready_fd = -1;
		while (waitpid(child, &status, 0) < 0 && errno == EINTR)
			if (stop_requested)
				kill(child, SIGTERM);
		if (stop_requested)
			break;
		backoff = time(NULL) - started > 60 ? 1 :
		    backoff * 2 > AGENT_BACKOFF_MAX_S ? AGENT_BACKOFF_MAX_S :
		    backoff * 2;
		log_warn("agent exited (status %d); restarting in %u s",
		    status, backoff);
		sleep(backoff);
	}
	unlink(o->p.pid);
	return 0;
}

static int cmd_start(struct agent_opts *o)
{
	char ready[64];
	int ready_fd = -1;

	if (pid_alive(read_pid(o->p.pid))) {
		printf("READY %ld already running\n", conf_port(&o->p));
		return 0;
	}
	fw_snprintf(ready, sizeof(ready), "READY %ld\n", conf_port(&o->p));
	if (platform_detach(ready, AGENT_READY_MS, &ready_fd) != 0) {
		fprintf(stderr, "fwfleet-engine: cannot detach\n");
		return 1;
	}
	return supervise(o, ready_fd);
}

/* Stops pid (SIGTERM, then SIGKILL after AGENT_STOP_MS). */
static void stop_pid(pid_t pid)
{
	uint64_t end = fw_now_ms() + AGENT_STOP_MS;

	if (!pid_alive(pid) || kill(pid, SIGTERM) != 0)
		return;
	while (pid_alive(pid) && fw_now_ms() < end)
		usleep(20 * 1000);
	if (pid_alive(pid))
		kill(pid, SIGKILL);
}

static int cmd_stop(struct agent_opts *o)
{
	pid_t child = read_pid(o->p.child_pid);

	stop_pid(read_pid(o->p.pid));
	stop_pid(child);	/* if its supervisor was gone */
	unlink(o->p.pid);
	unlink(o->p.child_pid);
	sweep_left_rules(&o->p);
	return 0;
}

static int cmd_status(struct agent_opts *o)
{
	char subject[256] = "", *pem = NULL;
	long long not_after = 0;
	X509 *crt = NULL;
	size_t len;
	pid_t pid = read_pid(o->p.child_pid);

	if (access(o->p.bin, X_OK) != 0) {
		printf("installed=no\n");
		return 0;
	}
	if (fw_read_file(o->p.crt, AGENT_IO_MAX, &pem, &len) == 0 &&
	    pki_cert_from_pem(pem, len, &crt) == 0)
		pki_cert_info(crt, subject, sizeof(subject), &not_after);
	printf("installed=yes\nversion=%s\nport=%ld\nrunning=%s\npid=%ld\n"
	    "cert_subject=%s\ncert_not_after=%lld\n", FWFLEET_VERSION,
	    conf_port(&o->p), pid_alive(pid) ? "yes" : "no",
	    pid_alive(pid) ? (long)pid : 0L, subject, not_after);
	X509_free(crt);
	free(pem);
	return 0;
}

int agent_main(const char *self, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*fn)(struct agent_opts *);
	} cmds[] = {
		{ "csr", cmd_csr }, { "enroll", cmd_enroll },
		{ "run", cmd_run }, { "start", cmd_start },
		{ "stop", cmd_stop }, { "status", cmd_status },
	};
	struct agent_opts o;
	size_t i;

	(void)self;
	for (i = 0; argc >= 2 && i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name) != 0)
			continue;
		if (parse_opts(argc - 1, argv + 1, &o) != 0)
			break;
		return cmds[i].fn(&o);
	}
	fputs("usage: fwfleet-engine agent csr|enroll|run|start|stop|status "
	    "[--root DIR] [--port N]\n", stderr);
	return 2;
}
