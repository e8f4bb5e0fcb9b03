/*
 * The SSH transport: libssh 0.10 in blocking mode, one session per node.
 *
 * Threads: many sessions run at once, each used by one worker thread at a
 * time; nothing in a session is shared. libssh initialises itself when it
 * is loaded and ssh_init() is reference counted: main() should call
 * ssh_init() before it starts the workers (and ssh_finalize() after they
 * are joined); transport_ssh_connect() also calls it once through
 * pthread_once, so a forgotten call does not break the workers. Reads and
 * updates of known_hosts files are serialised by one process-wide mutex.
 *
 * Exec: stdin is written, never more than the remote window at a time, so
 * a write never waits for the peer; between writes, whatever output has
 * arrived is read without blocking. When nothing can move, the thread
 * sleeps in ssh_event_dopoll() until a packet arrives or the deadline
 * passes. Exit status and channel close come through channel callbacks.
 */
#include "transport.h"
#include "transport_ssh.h"

#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>

#include "err.h"
#include "log.h"
#include "secret.h"
#include "util.h"

#define SSH_DEFAULT_TIMEOUT_S	10
#define EXEC_OUT_MAX		(1024 * 1024)	/* kept per stream */
#define EXEC_WRITE_CHUNK	(256 * 1024)	/* output is read between */
#define EXEC_READ_CHUNK		(32 * 1024)
#define EXEC_WAIT_MAX_MS	1000		/* longest single sleep */
#define SUDO_PROBE_TIMEOUT_MS	10000

enum sudo_mode {
	SUDO_NONE,	/* not asked for, or already root */
	SUDO_NOPASS,	/* sudo -n */
	SUDO_PASS,	/* sudo -S, the password first on stdin */
	SUDO_PROBE,	/* password set: first ask whether sudo wants it */
};

struct transport {
	ssh_session session;
	char *user;
	char *host;		/* for messages: "node1:22", "[::1]:2222" */
	char *password;		/* kept only for sudo -S */
	enum sudo_mode sudo;
};

struct outbuf {
	char *p;
	size_t len;
	size_t cap;
};

/* One command's I/O state; the callbacks write closed and status. */
struct exec_io {
	ssh_channel ch;
	struct ssh_channel_callbacks_struct cb;
	/* stdin: the sudo password, then the caller's buffers */
	const unsigned char *seg[1 + TRANSPORT_MAX_IOV];
	size_t seglen[1 + TRANSPORT_MAX_IOV];
	int nseg;
	int cur;
	size_t off;
	int eof_sent;
	int eof[2];			/* stdout, stderr read to EOF */
	struct outbuf buf[2];
	int closed;			/* the remote closed the channel */
	int status;			/* exit status, -1 until known */
};

static pthread_once_t ssh_once = PTHREAD_ONCE_INIT;
static pthread_mutex_t known_hosts_lock = PTHREAD_MUTEX_INITIALIZER;

/* Error messages may be cut short by errlen; that is acceptable. */
static void __attribute__((format(printf, 3, 4)))
errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void ssh_lib_init(void)
{
	if (ssh_init() != SSH_OK)
		fatal("cannot initialise libssh");
}

static char *home_dir_path(const char *rest)
{
	struct passwd pw, *res = NULL;
	const char *home = getenv("HOME");
	char buf[4096];

	if ((home == NULL || home[0] == '\0') &&
	    getpwuid_r(getuid(), &pw, buf, sizeof(buf), &res) == 0 &&
	    res != NULL)
		home = res->pw_dir;
	if (home == NULL || home[0] == '\0')
		return NULL;
	return xasprintf("%s/%s", home, rest);
}

/* opts->known_hosts with a leading "~/" expanded, or the default. */
static char *known_hosts_path(const struct transport_opts *opts)
{
	if (opts->known_hosts == NULL)
		return home_dir_path(".ssh/known_hosts");
	if (strncmp(opts->known_hosts, "~/", 2) == 0)
		return home_dir_path(opts->known_hosts + 2);
	return xstrdup(opts->known_hosts);
}

/* The host as libssh writes it in known_hosts: "h" or "[h]:port". */
static char *known_hosts_name(const char *hostzone, uint16_t port)
{
	if (port == 22)
		return xstrdup(hostzone);
	return xasprintf("[%s]:%u", hostzone, port);
}

static struct transport *transport_new(const struct node_spec *spec,
    const struct transport_opts *opts, const char *target)
{
	struct transport *t = xcalloc(1, sizeof(*t));
	const char *user = spec->user;

	if (user == NULL)
		user = opts->default_user != NULL ? opts->default_user : "root";
	t->user = xstrdup(user);
	t->host = xstrdup(target);
	if (!opts->use_sudo || strcmp(user, "root") == 0) {
		t->sudo = SUDO_NONE;
	} else if (opts->password == NULL) {
		t->sudo = SUDO_NOPASS;
	} else {
		t->sudo = SUDO_PROBE;
		t->password = xstrdup(opts->password);
	}
	return t;
}

static int session_setup(struct transport *t, const char *hostzone,
    uint16_t port16, const char *known_hosts, long timeout_s, int verbose,
    char *err, size_t errlen)
{
	unsigned int port = port16;
	int verbosity = verbose < 0 ? 0 : verbose > 4 ? 4 : verbose;
	bool process_config = false;
	int nodelay = 1;
	ssh_session s;

	if ((s = t->session = ssh_new()) == NULL) {
		errf(err, errlen, "cannot create an SSH session for %s",
		    t->host);
		return FW_ERR_NOMEM;
	}
	/* ~/.ssh/config is not read: the same inventory acts the same. */
	if (ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG,
	    &process_config) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_HOST, hostzone) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_PORT, &port) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_USER, t->user) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout_s) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, known_hosts) < 0 ||
	    ssh_options_set(s, SSH_OPTIONS_NODELAY, &nodelay) < 0) {
		const char *why = ssh_get_error(s);

		/* libssh gives no text for a zone naming no interface. */
		errf(err, errlen, "cannot set SSH options for %s: %s",
		    t->host, why[0] ? why : "bad host, or a %zone that names "
		    "no interface on this machine");
		return FW_ERR_SSH;
	}
	return 0;
}

static int session_connect(struct transport *t, long timeout_s,
    char *err, size_t errlen)
{
	uint64_t start = fw_now_ms();
	const char *msg;

	if (ssh_connect(t->session) == SSH_OK)
		return 0;
	msg = ssh_get_error(t->session);
	log_debug("%s: ssh_connect: %s", t->host, msg);
	/* libssh says "Timeout connecting to ..."; slow DNS counts too. */
	if (strstr(msg, "Timeout") != NULL ||
	    fw_now_ms() - start >= (uint64_t)timeout_s * 1000) {
		errf(err, errlen, "cannot connect to %s: timed out after %lds",
		    t->host, timeout_s);
		return FW_ERR_TIMEOUT;
	}
	errf(err, errlen, "cannot connect to %s: %s", t->host, msg);
	return FW_ERR_SSH;
}

/* "SHA256:..." of the server's host key (malloc'd). */
static char *hostkey_fingerprint(ssh_session s)
{
	ssh_key key = NULL;
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp = NULL, *out;

	if (ssh_get_server_publickey(s, &key) == SSH_OK &&
	    ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash,
	    &hlen) == SSH_OK)
		fp = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash,
		    hlen);
	out = xstrdup(fp != NULL ? fp : "SHA256:(unavailable)");
	ssh_string_free_char(fp);
	ssh_clean_pubkey_hash(&hash);
	ssh_key_free(key);
	return out;
}

/* Called with known_hosts_lock held. */
static int hostkey_unknown(struct transport *t, int accept_new,
    const char *name, const char *fp, const char *known_hosts,
    char *err, size_t errlen)
{
	if (!accept_new) {
		errf(err, errlen, "unknown host key for %s (%s); verify it "
		    "and add it to %s, or rerun with --accept-new-host-keys",
		    name, fp, known_hosts);
		return FW_ERR_HOSTKEY_UNKNOWN;
	}
	if (ssh_session_update_known_hosts(t->session) != SSH_OK) {
		errf(err, errlen, "cannot add the host key of %s to %s: %s",
		    name, known_hosts, ssh_get_error(t->session));
		return FW_ERR_SSH;
	}
	log_warn("%s: added new host key %s to %s", name, fp, known_hosts);
	return 0;
}

static int hostkey_verify(struct transport *t, int accept_new,
    const char *name, const char *known_hosts, char *err, size_t errlen)
{
	enum ssh_known_hosts_e state;
	char *fp = hostkey_fingerprint(t->session);
	int r = FW_ERR_INTERNAL;

	/* Another worker may be appending to the same file. */
	pthread_mutex_lock(&known_hosts_lock);
	state = ssh_session_is_known_server(t->session);
	switch (state) {
	case SSH_KNOWN_HOSTS_OK:
		r = 0;
		break;
	case SSH_KNOWN_HOSTS_CHANGED:
	case SSH_KNOWN_HOSTS_OTHER:	/* known with another key type */
		errf(err, errlen, "host key for %s has CHANGED (now %s); if "
		    "the node was reinstalled, remove the old key with: "
		    "ssh-keygen -R '%s' -f %s", name, fp, name, known_hosts);
		r = FW_ERR_HOSTKEY_CHANGED;
		break;
	case SSH_KNOWN_HOSTS_NOT_FOUND:
	case SSH_KNOWN_HOSTS_UNKNOWN:
		r = hostkey_unknown(t, accept_new, name, fp, known_hosts,
		    err, errlen);
		break;
	case SSH_KNOWN_HOSTS_ERROR:
	default:
		errf(err, errlen, "cannot check the host key of %s in %s: %s",
		    name, known_hosts, ssh_get_error(t->session));
		r = FW_ERR_SSH;
		break;
	}
	pthread_mutex_unlock(&known_hosts_lock);
	free(fp);
	return r;
}

static void tried_add(char *tried, size_t len, const char *method)
{
	size_t n = strlen(tried);

	(void)fw_snprintf(tried + n, len - n, "%s%s", n ? ", " : "", method);
}

static int is_password_prompt(const char *prompt)
{
	return prompt != NULL && (strcasestr(prompt, "password") != NULL ||
	    strcasestr(prompt, "passphrase") != NULL);
}

/* Answers "Password:"-style prompts once; anything else is refused. */
static int auth_kbdint(ssh_session s, const char *password)
{
	int rc, i, n, round, answered = 0;
	const char *prompt;
	char echo;

	for (round = 0; round < 8; round++) {
		if ((rc = ssh_userauth_kbdint(s, NULL, NULL)) != SSH_AUTH_INFO)
			return rc;
		n = ssh_userauth_kbdint_getnprompts(s);
		for (i = 0; i < n; i++) {
			prompt = ssh_userauth_kbdint_getprompt(s, i, &echo);
			if (answered || n != 1 || echo ||
			    !is_password_prompt(prompt))
				return SSH_AUTH_DENIED;
			if (ssh_userauth_kbdint_setanswer(s, i, password) < 0)
				return SSH_AUTH_ERROR;
			answered = 1;
		}
	}
	return SSH_AUTH_DENIED;
}

static int auth_password(ssh_session s, const char *password, char *tried,
    size_t triedlen)
{
	int methods = ssh_userauth_list(s, NULL);
	int rc = SSH_AUTH_DENIED;

	if (methods & SSH_AUTH_METHOD_PASSWORD) {
		tried_add(tried, triedlen, "password");
		rc = ssh_userauth_password(s, NULL, password);
		if (rc == SSH_AUTH_SUCCESS || rc == SSH_AUTH_ERROR)
			return rc;
		methods = ssh_userauth_list(s, NULL);
	}
	if (methods & SSH_AUTH_METHOD_INTERACTIVE) {
		tried_add(tried, triedlen, "keyboard-interactive");
		rc = auth_kbdint(s, password);
	}
	return rc;
}

/*
 * Public key (the given key, else ssh-agent and ~/.ssh/id_*), then the
 * password if there is one. SSH_AUTH_ERROR means the session broke.
 */
static int auth_run(struct transport *t, ssh_key key, const char *password,
    char *err, size_t errlen)
{
	char tried[64] = "";
	int rc;

	rc = ssh_userauth_none(t->session, NULL);
	if (rc == SSH_AUTH_DENIED &&
	    (ssh_userauth_list(t->session, NULL) & SSH_AUTH_METHOD_PUBLICKEY)) {
		tried_add(tried, sizeof(tried), "publickey");
		if (key != NULL)
			rc = ssh_userauth_publickey(t->session, NULL, key);
		else
			rc = ssh_userauth_publickey_auto(t->session, NULL,
			    NULL);
	}
	if ((rc == SSH_AUTH_DENIED || rc == SSH_AUTH_PARTIAL) &&
	    password != NULL)
		rc = auth_password(t->session, password, tried,
		    sizeof(tried));
	if (rc == SSH_AUTH_SUCCESS)
		return 0;
	if (rc == SSH_AUTH_ERROR) {
		errf(err, errlen, "authentication as %s on %s failed: %s",
		    t->user, t->host, ssh_get_error(t->session));
		return FW_ERR_SSH;
	}
	errf(err, errlen, "authentication as %s failed (tried: %s); check "
	    "the user, key or password", t->user, tried[0] ? tried : "none");
	return FW_ERR_AUTH;
}

static int key_load(const char *path, ssh_key *key, char *err, size_t errlen)
{
	*key = NULL;
	if (path == NULL)
		return 0;
	if (ssh_pki_import_privkey_file(path, NULL, NULL, NULL, key) !=
	    SSH_OK) {
		errf(err, errlen, "cannot load the private key %s (missing, "
		    "unreadable or protected by a passphrase)", path);
		return FW_ERR_AUTH;
	}
	return 0;
}

int transport_ssh_connect(const struct node_spec *spec,
    const struct transport_opts *opts, struct transport **out,
    char *err, size_t errlen)
{
	struct transport *t = NULL;
	char hostzone[300], target[320];
	char *known_hosts = NULL, *name = NULL;
	ssh_key key = NULL;
	long timeout_s;
	int r = FW_ERR_INVALID;

	if (out != NULL)
		*out = NULL;
	if (spec == NULL || opts == NULL || out == NULL) {
		errf(err, errlen, "transport_ssh_connect: invalid arguments");
		goto out;
	}
	pthread_once(&ssh_once, ssh_lib_init);
	if (addr_host_zone(&spec->addr, hostzone, sizeof(hostzone)) != 0 ||
	    addr_format(&spec->addr, target, sizeof(target)) != 0) {
		errf(err, errlen, "invalid address for node %s",
		    spec->name != NULL ? spec->name : "(unnamed)");
		goto out;
	}
	if ((known_hosts = known_hosts_path(opts)) == NULL) {
		errf(err, errlen, "cannot find the home directory for "
		    "~/.ssh/known_hosts; name a known_hosts file");
		goto out;
	}
	name = known_hosts_name(hostzone, spec->addr.port);
	timeout_s = opts->connect_timeout_s > 0 ? opts->connect_timeout_s :
	    SSH_DEFAULT_TIMEOUT_S;
	t = transport_new(spec, opts, target);
	if ((r = key_load(spec->key_file != NULL ? spec->key_file :
	    opts->key_file, &key, err, errlen)) != 0 ||
	    (r = session_setup(t, hostzone, spec->addr.port, known_hosts,
	    timeout_s, opts->verbose, err, errlen)) != 0 ||
	    (r = session_connect(t, timeout_s, err, errlen)) != 0 ||
	    (r = hostkey_verify(t, opts->accept_new_host_keys, name,
	    known_hosts, err, errlen)) != 0 ||
	    (r = auth_run(t, key, opts->password, err, errlen)) != 0)
		goto out;
	*out = t;
	t = NULL;
	r = 0;
out:
	transport_close(t);
	ssh_key_free(key);
	free(known_hosts);
	free(name);
	return r;
}

/* One end of the SSH socket: the node's (peer) or ours (local). */
static int socket_end(struct transport *t, int peer,
    struct sockaddr_storage *addr, socklen_t *len)
{
	socket_t fd;
	int r;

	if (t == NULL || addr == NULL || len == NULL ||
	    (fd = ssh_get_fd(t->session)) == SSH_INVALID_SOCKET)
		return FW_ERR_INVALID;
	memset(addr, 0, sizeof(*addr));
	*len = sizeof(*addr);
	r = peer ? getpeername(fd, (struct sockaddr *)addr, len) :
	    getsockname(fd, (struct sockaddr *)addr, len);
	return r == 0 ? 0 : FW_ERR_SYSTEM;
}

int transport_peer_addr(struct transport *t, struct sockaddr_storage *addr,
    socklen_t *len)
{
	return socket_end(t, 1, addr, len);
}

int transport_local_addr(struct transport *t, struct sockaddr_storage *addr,
    socklen_t *len)
{
	return socket_end(t, 0, addr, len);
}

ssh_session transport_ssh_session(struct transport *t)
{
	return t->session;
}

const char *transport_ssh_host(struct transport *t)
{
	return t->host;
}

int transport_fd(struct transport *t)
{
	return t != NULL ? ssh_get_fd(t->session) : -1;
}

void transport_close(struct transport *t)
{
	if (t == NULL)
		return;
	if (t->session != NULL) {
		ssh_disconnect(t->session);
		ssh_free(t->session);
	}
	secret_free(t->password);
	free(t->user);
	free(t->host);
	free(t);
}

/* --- exec ------------------------------------------------------------- */

static void outbuf_add(struct outbuf *b, const char *data, size_t n)
{
	size_t want;

	if (n > EXEC_OUT_MAX - b->len)
		n = EXEC_OUT_MAX - b->len;	/* over the cap: dropped */
	if (n == 0)
		return;
	if (b->len + n + 1 > b->cap) {
		want = b->cap != 0 ? b->cap : 4096;
		while (want < b->len + n + 1)
			want *= 2;
		if (want > EXEC_OUT_MAX + 1)
			want = EXEC_OUT_MAX + 1;
		b->p = xrealloc(b->p, want, 1);
		b->cap = want;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static char *outbuf_take(struct outbuf *b, size_t *len)
{
	char *p = b->p != NULL ? b->p : xcalloc(1, 1);

	*len = b->len;
	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

static void on_close(ssh_session s, ssh_channel ch, void *userdata)
{
	struct exec_io *io = userdata;

	io->closed = 1;
}

static void on_exit_status(ssh_session s, ssh_channel ch, int status,
    void *userdata)
{
	struct exec_io *io = userdata;

	io->status = status;
}

static void exec_io_init(struct exec_io *io)
{
	memset(io, 0, sizeof(*io));
	io->status = -1;
	io->cb.userdata = io;
	io->cb.channel_close_function = on_close;
	io->cb.channel_exit_status_function = on_exit_status;
	ssh_callbacks_init(&io->cb);
}

static void exec_io_input(struct exec_io *io, const void *data, size_t len)
{
	if (len == 0)
		return;
	io->seg[io->nseg] = data;
	io->seglen[io->nseg] = len;
	io->nseg++;
}

static void exec_io_free(struct exec_io *io)
{
	if (io->ch != NULL) {
		ssh_remove_channel_callbacks(io->ch, &io->cb);
		ssh_channel_free(io->ch);
		io->ch = NULL;
	}
	free(io->buf[0].p);
	free(io->buf[1].p);
	io->buf[0].p = io->buf[1].p = NULL;
}

static int exec_can_write(struct exec_io *io)
{
	if (io->closed)
		return 0;	/* command gone: unread input is dropped */
	if (io->cur == io->nseg)
		return !io->eof_sent;
	return ssh_channel_window_size(io->ch) > 0;
}

/*
 * Writes what the remote window takes now, or sends EOF after the last
 * byte. Returns 1 if it did something, 0 if not, or FW_ERR_SSH.
 */
static int exec_write(struct exec_io *io)
{
	size_t n;
	int w;

	if (!exec_can_write(io))
		return 0;
	if (io->cur == io->nseg) {
		io->eof_sent = 1;
		return ssh_channel_send_eof(io->ch) == SSH_OK ? 1 : FW_ERR_SSH;
	}
	n = io->seglen[io->cur] - io->off;
	if (n > ssh_channel_window_size(io->ch))
		n = ssh_channel_window_size(io->ch);
	if (n > EXEC_WRITE_CHUNK)
		n = EXEC_WRITE_CHUNK;
	if ((w = ssh_channel_write(io->ch, io->seg[io->cur] + io->off,
	    (uint32_t)n)) < 0)
		return io->closed ? 0 : FW_ERR_SSH;
	io->off += (size_t)w;
	if (io->off == io->seglen[io->cur]) {
		io->cur++;
		io->off = 0;
	}
	return w > 0;
}

/*
 * Reads all output that is buffered or readable now from both streams.
 * Returns 1 if it got something, 0 if not, or FW_ERR_SSH.
 */
static int exec_read(struct exec_io *io)
{
	char buf[EXEC_READ_CHUNK];
	int s, n, more, got = 0;

	do {
		more = 0;
		for (s = 0; s < 2; s++) {
			if (io->eof[s])
				continue;
			n = ssh_channel_read_nonblocking(io->ch, buf,
			    sizeof(buf), s);
			if (n == SSH_EOF) {
				io->eof[s] = 1;
			} else if (n < 0) {
				return FW_ERR_SSH;
			} else if (n > 0) {
				outbuf_add(&io->buf[s], buf, (size_t)n);
				more = 1;
			}
		}
		got |= more;
	} while (more);
	return got;
}

/* Sleeps until a packet arrives, the deadline (0: none) or a while. */
static int exec_wait(ssh_event ev, uint64_t deadline)
{
	uint64_t now = fw_now_ms();
	int ms = EXEC_WAIT_MAX_MS;

	if (deadline != 0 && deadline - now < (uint64_t)ms)
		ms = deadline > now ? (int)(deadline - now) : 0;
	errno = 0;
	if (ssh_event_dopoll(ev, ms) == SSH_ERROR && errno != EINTR)
		return FW_ERR_SSH;
	return 0;
}

static int exec_loop(struct exec_io *io, ssh_event ev, uint64_t deadline)
{
	int w, rd, r;

	for (;;) {
		if ((w = exec_write(io)) < 0 || (rd = exec_read(io)) < 0)
			return FW_ERR_SSH;
		if (io->eof[0] && io->eof[1] && io->closed)
			return 0;
		if (deadline != 0 && fw_now_ms() >= deadline)
			return FW_ERR_TIMEOUT;
		if (w == 0 && rd == 0 && !exec_can_write(io) &&
		    (r = exec_wait(ev, deadline)) != 0)
			return r;
	}
}

static int exec_start(struct transport *t, struct exec_io *io,
    const char *cmdline, char *err, size_t errlen)
{
	if ((io->ch = ssh_channel_new(t->session)) == NULL ||
	    ssh_set_channel_callbacks(io->ch, &io->cb) != SSH_OK ||
	    ssh_channel_open_session(io->ch) != SSH_OK ||
	    ssh_channel_request_exec(io->ch, cmdline) != SSH_OK) {
		errf(err, errlen, "cannot start a command on %s: %s",
		    t->host, ssh_get_error(t->session));
		return FW_ERR_SSH;
	}
	return 0;
}

/* Stops the command: a TERM signal (if sshd takes it), then close. */
static void exec_abort(struct exec_io *io)
{
	if (!io->closed) {
		(void)ssh_channel_request_send_signal(io->ch, "TERM");
		(void)ssh_channel_close(io->ch);
	}
}

static int exec_run(struct transport *t, struct exec_io *io,
    const char *cmdline, int timeout_ms, char *err, size_t errlen)
{
	uint64_t deadline = timeout_ms > 0 ? fw_now_ms() + timeout_ms : 0;
	ssh_event ev = NULL;
	int r;

	if ((r = exec_start(t, io, cmdline, err, errlen)) != 0)
		goto out;
	if ((ev = ssh_event_new()) == NULL ||
	    ssh_event_add_session(ev, t->session) != SSH_OK) {
		errf(err, errlen, "cannot wait for %s: %s", t->host,
		    ssh_get_error(t->session));
		r = FW_ERR_SSH;
		goto out;
	}
	r = exec_loop(io, ev, deadline);
	if (r == FW_ERR_TIMEOUT) {
		errf(err, errlen, "command on %s timed out after %d ms",
		    t->host, timeout_ms);
		exec_abort(io);
	} else if (r != 0) {
		errf(err, errlen, "command on %s failed: %s", t->host,
		    ssh_get_error(t->session));
	}
out:
	if (ev != NULL) {
		ssh_event_remove_session(ev, t->session);
		ssh_event_free(ev);
	}
	return r;
}

static char *sudo_wrap(enum sudo_mode mode, const char *cmd)
{
	char *q, *line;

	if (mode == SUDO_NONE)
		return xstrdup(cmd);
	q = fw_sh_quote(cmd);
	/* -k: sudo must read the password even with cached credentials. */
	if (mode == SUDO_PASS)
		line = xasprintf("sudo -S -k -p '' -- sh -c %s", q);
	else
		line = xasprintf("sudo -n -- sh -c %s", q);
	free(q);
	return line;
}

/*
 * With a password, sudo -S reads it from stdin only if it needs one; if
 * it does not, the password line would reach the command. So ask once per
 * session whether sudo works without one.
 */
/*
 * Checks the sudo password with nothing else on stdin: a wrong one must
 * fail here, once, and not make sudo read the command's input (the engine)
 * as further password attempts.
 */
static int sudo_check_password(struct transport *t, int timeout_ms,
    char *err, size_t errlen)
{
	struct exec_io io;
	char *line = sudo_wrap(SUDO_PASS, "true");
	char *pwline = xasprintf("%s\n", t->password);
	int r;

	exec_io_init(&io);
	exec_io_input(&io, pwline, strlen(pwline));
	if ((r = exec_run(t, &io, line, timeout_ms, err, errlen)) == 0 &&
	    io.status != 0) {
		errf(err, errlen, "sudo refused the password for %s on %s "
		    "(or %s may not use sudo there)", t->user, t->host,
		    t->user);
		r = FW_ERR_AUTH;
	}
	exec_io_free(&io);
	secret_free(pwline);
	free(line);
	return r;
}

static int sudo_probe(struct transport *t, int timeout_ms, char *err,
    size_t errlen)
{
	struct exec_io io;
	char *line = sudo_wrap(SUDO_NOPASS, "true");
	int r;

	if (timeout_ms <= 0 || timeout_ms > SUDO_PROBE_TIMEOUT_MS)
		timeout_ms = SUDO_PROBE_TIMEOUT_MS;
	exec_io_init(&io);
	if ((r = exec_run(t, &io, line, timeout_ms, err, errlen)) == 0) {
		t->sudo = io.status == 0 ? SUDO_NOPASS : SUDO_PASS;
		log_debug("%s: sudo %s a password", t->host,
		    io.status == 0 ? "does not need" : "needs");
	}
	exec_io_free(&io);
	free(line);
	if (r == 0 && t->sudo == SUDO_PASS)
		r = sudo_check_password(t, timeout_ms, err, errlen);
	return r;
}

void exec_result_free(struct exec_result *res)
{
	if (res == NULL)
		return;
	free(res->out);
	free(res->err);
	memset(res, 0, sizeof(*res));
	res->exit_status = -1;
}

int transport_exec(struct transport *t, const char *cmd, const void *in,
    size_t inlen, int timeout_ms, struct exec_result *res,
    char *err, size_t errlen)
{
	struct iovec iov = { .iov_base = (void *)(uintptr_t)in,
	    .iov_len = inlen };

	return transport_execv(t, cmd, &iov, 1, timeout_ms, res, err, errlen);
}

int transport_execv(struct transport *t, const char *cmd,
    const struct iovec *in, int niov, int timeout_ms,
    struct exec_result *res, char *err, size_t errlen)
{
	struct exec_io io;
	char *cmdline = NULL, *pwline = NULL;
	int r = FW_ERR_INVALID, i;

	exec_io_init(&io);
	if (res != NULL) {
		memset(res, 0, sizeof(*res));
		res->exit_status = -1;
	}
	if (t == NULL || cmd == NULL || res == NULL || niov < 0 ||
	    niov > TRANSPORT_MAX_IOV || (in == NULL && niov > 0)) {
		errf(err, errlen, "transport_exec: invalid arguments");
		goto out;
	}
	if (t->sudo == SUDO_PROBE &&
	    (r = sudo_probe(t, timeout_ms, err, errlen)) != 0)
		goto out;
	cmdline = sudo_wrap(t->sudo, cmd);
	if (t->sudo == SUDO_PASS) {
		pwline = xasprintf("%s\n", t->password);
		exec_io_input(&io, pwline, strlen(pwline));
	}
	for (i = 0; i < niov; i++) {
		if (in[i].iov_base == NULL && in[i].iov_len > 0) {
			errf(err, errlen, "transport_exec: invalid arguments");
			r = FW_ERR_INVALID;
			goto out;
		}
		exec_io_input(&io, in[i].iov_base, in[i].iov_len);
	}
	if ((r = exec_run(t, &io, cmdline, timeout_ms, err, errlen)) != 0)
		goto out;
	res->exit_status = io.status;
	res->out = outbuf_take(&io.buf[0], &res->out_len);
	res->err = outbuf_take(&io.buf[1], &res->err_len);
	r = 0;
out:
	exec_io_free(&io);
	secret_free(pwline);
	free(cmdline);
	return r;
}
