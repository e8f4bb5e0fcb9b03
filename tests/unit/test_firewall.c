/*
 * Unit tests for common/firewall_linux.c, against the real kernel and the
 * host's own nft and iptables: each test runs in a child process in a
 * network namespace of its own (unshare(CLONE_NEWNET): only lo), so the
 * host's firewall is never touched. The child reports a failure (or a
 * reason to skip) to the parent through a pipe and its exit status.
 * Needs root; skipped otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "err.h"
#include "firewall.h"

#define PORT		62286
#define PORT_S		"62286"
#define PORT2		62287
#define SKIP_CODE	77
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* ---- the child's side: report and exit --------------------------------- */

static int report_fd = -1;

static void child_end(int code, const char *fmt, va_list ap)
    __attribute__((noreturn, format(printf, 2, 0)));

static void child_end(int code, const char *fmt, va_list ap)
{
	char msg[4096];
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);

	if (n > 0 && write(report_fd, msg, strnlen(msg, sizeof(msg))) < 0)
		_exit(2);
	_exit(code);
}

static void die(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	child_end(1, fmt, ap);
}

static void skip_child(const char *fmt, ...)
    __attribute__((noreturn, format(printf, 1, 2)));

static void skip_child(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	child_end(SKIP_CODE, fmt, ap);
}

static void die_at(int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));

static void die_at(int line, const char *cond, const char *fmt, ...)
{
	char msg[3072];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	die("line %d: %s: %s", line, cond, msg);
}

/* CHECK(cond, fmt, ...): fails the test unless cond. */
#define CHECK(cond, ...) do {						\
	if (!(cond))							\
		die_at(__LINE__, #cond, __VA_ARGS__);			\
} while (0)

/* ---- commands ---------------------------------------------------------- */

static char *fd_text(int fd)
{
	char *s = NULL;
	size_t len = 0;
	char chunk[4096];
	ssize_t n;

	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		s = realloc(s, len + (size_t)n + 1);
		CHECK(s != NULL, "out of memory");
		memcpy(s + len, chunk, (size_t)n);
		len += (size_t)n;
	}
	if (s == NULL && (s = calloc(1, 1)) == NULL)
		die("out of memory");
	s[len] = '\0';
	close(fd);
	return s;
}

/* Runs argv (found in PATH); its stdout and stderr go to *out and *err
 * when not NULL (caller frees). Returns its exit status, -1 if killed. */
static int run_argv(const char *const argv[], char **out, char **err)
{
	int o = memfd_create("out", 0), e = memfd_create("err", 0), status;
	char *text;
	pid_t pid;

	CHECK(o >= 0 && e >= 0, "memfd_create: %s", strerror(errno));
	if ((pid = fork()) == 0) {
		dup2(o, 1);
		dup2(e, 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	CHECK(pid > 0, "fork: %s", strerror(errno));
	CHECK(waitpid(pid, &status, 0) == pid, "waitpid");
	text = fd_text(o);
	if (out != NULL)
		*out = text;
	else
		free(text);
	text = fd_text(e);
	if (err != NULL)
		*err = text;
	else
		free(text);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

#define RUN(out, err, ...) \
	run_argv((const char *const[]){ __VA_ARGS__, NULL }, out, err)

/* Runs a command that has to succeed. */
static void must(const char *const argv[])
{
	char *err = NULL;
	int status = run_argv(argv, NULL, &err);

	if (status != 0)
		die("`%s %s ...` exited with %d: %s", argv[0], argv[1],
		    status, err);
	free(err);
}

#define MUST(...)	must((const char *const[]){ __VA_ARGS__, NULL })

/* Removes every run of digits that follows word in s. */
static void strip_digits_after(char *s, const char *word)
{
	char *p = s, *q;

	while ((p = strstr(p, word)) != NULL) {
		p += strlen(word);
		for (q = p; *q >= '0' && *q <= '9'; q++)
			;
		memmove(p, q, strlen(q) + 1);
	}
}

/* "nft list ruleset" without counter values. */
static char *nft_snapshot(void)
{
	char *out = NULL, *err = NULL;

	if (RUN(&out, &err, "nft", "list", "ruleset") != 0)
		die("nft list ruleset: %s", err);
	strip_digits_after(out, "packets ");
	strip_digits_after(out, "bytes ");
	free(err);
	return out;
}

/* iptables-save output without "#" lines and chain counters. */
static char *xt_snapshot(const char *save)
{
	char *out = NULL, *err = NULL, *p, *q, *res;
	size_t n, len = 0;

	if (RUN(&out, &err, save) != 0)
		die("%s: %s", save, err);
	free(err);
	CHECK((res = calloc(1, strlen(out) + 1)) != NULL, "out of memory");
	for (p = out; *p != '\0'; p += n + (p[n] == '\n')) {
		n = strcspn(p, "\n");
		if (*p == '#')
			continue;
		q = *p == ':' ? memchr(p, '[', n) : NULL;
		memcpy(res + len, p, q != NULL ? (size_t)(q - p) : n);
		len += q != NULL ? (size_t)(q - p) : n;
		res[len++] = '\n';
	}
	res[len] = '\0';
	free(out);
	return res;
}

static char *proc_text(const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return strdup("");
	return fd_text(fd);
}

/* Whether this kernel has legacy ip_tables and ip6_tables (else skip). */
static int legacy_supported(char **why)
{
	char *err = NULL;

	if (RUN(NULL, &err, "iptables-legacy", "-w", "-L", "-n") == 0 &&
	    RUN(NULL, NULL, "ip6tables-legacy", "-w", "-L", "-n") == 0) {
		free(err);
		return 1;
	}
	if (strstr(err, "insmod") == NULL &&
	    strstr(err, "does not exist") == NULL)
		die("iptables-legacy -L: %s", err);
	*why = err;
	return 0;
}

/* ---- network ----------------------------------------------------------- */

static void lo_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM, 0);

	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	CHECK(ioctl(s, SIOCGIFFLAGS, &ifr) == 0, "%s", strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	CHECK(ioctl(s, SIOCSIFFLAGS, &ifr) == 0, "%s", strerror(errno));
	close(s);
}

static socklen_t loopback(int family, uint16_t port,
    struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		return sizeof(*sin);
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	sin6->sin6_addr = in6addr_loopback;
	return sizeof(*sin6);
}

static int listen_on(int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(family, port, &ss);
	int s = socket(family, SOCK_STREAM, 0), one = 1;

	CHECK(s >= 0, "%s", strerror(errno));
	if (family == AF_INET6)
		setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	CHECK(bind(s, (struct sockaddr *)&ss, len) == 0 && listen(s, 64) == 0,
	    "%s", strerror(errno));
	return s;
}

/* Whether a TCP connect to loopback port completes within 300 ms. */
static int can_connect(int family, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = loopback(family, port, &ss);
	int s = socket(family, SOCK_STREAM | SOCK_NONBLOCK, 0), e = -1;
	struct pollfd p = { s, POLLOUT, 0 };
	socklen_t elen = sizeof(e);

	CHECK(s >= 0, "%s", strerror(errno));
	if (connect(s, (struct sockaddr *)&ss, len) == 0)
		e = 0;
	else if (errno == EINPROGRESS && poll(&p, 1, 300) == 1)
		getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &elen);
	close(s);
	return e == 0;
}

/* ---- the parent's side ------------------------------------------------- */

/* Runs fn in a child in a fresh network namespace; fails or skips the
 * test as the child says. */
static void in_netns(void (*fn)(void))
{
	char msg[4096];
	size_t len = 0;
	ssize_t n;
	int p[2], status;
	pid_t pid;

	if (geteuid() != 0) {
		print_message("needs root\n");
		skip();
	}
	assert_int_equal(pipe(p), 0);
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == 0) {
		close(p[0]);
		report_fd = p[1];
		if (unshare(CLONE_NEWNET) != 0)
			skip_child("unshare(CLONE_NEWNET): %s",
			    strerror(errno));
		setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
		lo_up();
		fn();
		exit(0);	/* not _exit: a sanitizer checks for leaks */
	}
	assert_true(pid > 0);
	close(p[1]);
	while (len < sizeof(msg) - 1 &&
	    (n = read(p[0], msg + len, sizeof(msg) - 1 - len)) > 0)
		len += (size_t)n;
	msg[len] = '\0';
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFEXITED(status) && WEXITSTATUS(status) == SKIP_CODE) {
		print_message("skipped: %s\n", msg);
		skip();
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s (child status %d)", len > 0 ? msg : "no message",
		    status);
}

/* ---- the tests --------------------------------------------------------- */

static void want_rule(const struct firewall *fw, const char *desc)
{
	size_t i;

	for (i = 0; i < firewall_count(fw); i++)
		if (strcmp(firewall_rule(fw, i), desc) == 0)
			return;
	die("no rule \"%s\" among the %zu opened", desc, firewall_count(fw));
}

/* Both listeners up, connects fail; firewall_open; connects work. */
static struct firewall *open_and_connect(size_t want)
{
	struct firewall *fw = NULL;
	char err[1024];
	size_t i;
	int r;

	listen_on(AF_INET, PORT);
	listen_on(AF_INET6, PORT);
	CHECK(!can_connect(AF_INET, PORT), "IPv4 got through before");
	CHECK(!can_connect(AF_INET6, PORT), "IPv6 got through before");
	r = firewall_open(PORT, "t-1", &fw, err, sizeof(err));
	CHECK(r == 0 && fw != NULL, "%d: %s", r, err);
	for (i = 0; i < firewall_count(fw); i++)
		print_message("  opened: %s\n", firewall_rule(fw, i));
	CHECK(firewall_count(fw) == want, "%zu rules", firewall_count(fw));
	CHECK(can_connect(AF_INET, PORT), "IPv4 still blocked");
	CHECK(can_connect(AF_INET6, PORT), "IPv6 still blocked");
	return fw;
}

static void close_ok(struct firewall *fw)
{
	char err[1024];
	int r = firewall_close(fw, err, sizeof(err));

	CHECK(r == 0, "%d: %s", r, err);
}

static void nft_native(void)
{
	struct firewall *fw;
	char *before, *after;

	MUST("nft", "table inet f { chain input { type filter hook input "
	    "priority 0; policy drop; ct state established,related accept; "
	    "iif lo tcp dport 1 accept; }; set s { type ipv4_addr; "
	    "elements = { 10.0.0.1 }; }; chain out { type filter hook output "
	    "priority 0; }; }");
	MUST("nft", "table ip g { chain input { type filter hook input "
	    "priority 10; tcp dport " PORT_S " drop; }; }");
	MUST("nft", "table ip6 h { chain in6 { type filter hook input "
	    "priority -10; policy drop; ct state established,related "
	    "accept; }; }");
	before = nft_snapshot();
	fw = open_and_connect(3);
	want_rule(fw, "nft inet f input tcp dport " PORT_S " accept");
	want_rule(fw, "nft ip g input tcp dport " PORT_S " accept");
	want_rule(fw, "nft ip6 h in6 tcp dport " PORT_S " accept");
	close_ok(fw);
	after = nft_snapshot();
	CHECK(strcmp(before, after) == 0, "before:\n%s\nafter:\n%s", before,
	    after);
	CHECK(!can_connect(AF_INET, PORT), "IPv4 open after close");
	free(before);
	free(after);
}

static void test_nft_native(void **state)
{
	in_netns(nft_native);
}

/* Filter INPUT, v4 and v6: policy DROP, established connections
 * accepted, PORT dropped (so only a rule inserted first opens it). */
static void xt_drop_input(const char *v4, const char *v6)
{
	const char *tool[2] = { v4, v6 };
	int i;

	for (i = 0; i < 2; i++) {
		MUST(tool[i], "-w", "-P", "INPUT", "DROP");
		MUST(tool[i], "-w", "-A", "INPUT", "-m", "conntrack",
		    "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT");
		MUST(tool[i], "-w", "-A", "INPUT", "-p", "tcp", "--dport",
		    PORT_S, "-j", "DROP");
	}
}

struct snap {
	char *nft, *v4, *v6;
};

static void snap_take(struct snap *s, const char *v4save,
    const char *v6save)
{
	s->nft = nft_snapshot();
	s->v4 = xt_snapshot(v4save);
	s->v6 = xt_snapshot(v6save);
}

static void snap_same(const struct snap *a, const struct snap *b)
{
	CHECK(strcmp(a->nft, b->nft) == 0, "nft:\n%s\nthen:\n%s", a->nft,
	    b->nft);
	CHECK(strcmp(a->v4, b->v4) == 0, "v4:\n%s\nthen:\n%s", a->v4, b->v4);
	CHECK(strcmp(a->v6, b->v6) == 0, "v6:\n%s\nthen:\n%s", a->v6, b->v6);
}

static void snap_free(struct snap *s)
{
	free(s->nft);
	free(s->v4);
	free(s->v6);
}

static void iptables_nft(void)
{
	struct snap before, after;
	struct firewall *fw;

	xt_drop_input("iptables-nft", "ip6tables-nft");
	snap_take(&before, "iptables-nft-save", "ip6tables-nft-save");
	fw = open_and_connect(2);
	want_rule(fw, "iptables-nft filter INPUT tcp dport " PORT_S
	    " accept");
	want_rule(fw, "ip6tables-nft filter INPUT tcp dport " PORT_S
	    " accept");
	close_ok(fw);
	snap_take(&after, "iptables-nft-save", "ip6tables-nft-save");
	snap_same(&before, &after);
	snap_free(&before);
	snap_free(&after);
}

static void test_iptables_nft(void **state)
{
	in_netns(iptables_nft);
}

static void iptables_legacy(void)
{
	struct snap before, after;
	struct firewall *fw;
	char *why = NULL;

	if (!legacy_supported(&why))
		skip_child("no legacy ip_tables in this kernel: %s", why);
	xt_drop_input("iptables-legacy", "ip6tables-legacy");
	snap_take(&before, "iptables-legacy-save", "ip6tables-legacy-save");
	CHECK(before.nft[0] == '\0', "nft ruleset: %s", before.nft);
	fw = open_and_connect(2);
	want_rule(fw, "iptables-legacy filter INPUT tcp dport " PORT_S
	    " accept");
	want_rule(fw, "ip6tables-legacy filter INPUT tcp dport " PORT_S
	    " accept");
	close_ok(fw);
	snap_take(&after, "iptables-legacy-save", "ip6tables-legacy-save");
	snap_same(&before, &after);
	snap_free(&before);
	snap_free(&after);
}

static void test_iptables_legacy(void **state)
{
	in_netns(iptables_legacy);
}

/* Opens, expects no rules and no change to the snapshot. */
static void open_expect_none(const char *what)
{
	struct firewall *fw = NULL;
	char err[1024];
	int r = firewall_open(PORT, "t-1", &fw, err, sizeof(err));

	CHECK(r == 0 && fw != NULL, "%s: %d: %s", what, r, err);
	CHECK(firewall_count(fw) == 0 && firewall_rule(fw, 0) == NULL,
	    "%s: %zu rules, the first %s", what, firewall_count(fw),
	    firewall_rule(fw, 0));
	close_ok(fw);
}

static void nothing_filters(void)
{
	char *nft, *t4, *t6, *why = NULL;
	struct snap before, after;

	open_expect_none("empty namespace");
	nft = nft_snapshot();
	t4 = proc_text("/proc/net/ip_tables_names");
	t6 = proc_text("/proc/net/ip6_tables_names");
	CHECK(nft[0] == '\0', "nft ruleset: %s", nft);
	CHECK(t4[0] == '\0' && t6[0] == '\0', "legacy tables: %s / %s", t4,
	    t6);
	free(nft);
	free(t4);
	free(t6);

	/* Input accepted everywhere: an output chain, an empty legacy
	 * filter table. */
	MUST("nft", "table inet o { chain out { type filter hook output "
	    "priority 0; policy accept; }; }");
	if (legacy_supported(&why)) {
		snap_take(&before, "iptables-legacy-save",
		    "ip6tables-legacy-save");
		open_expect_none("nothing filters input");
		snap_take(&after, "iptables-legacy-save",
		    "ip6tables-legacy-save");
		snap_same(&before, &after);
		snap_free(&before);
		snap_free(&after);
	} else
		free(why);
}

static void test_nothing_filters(void **state)
{
	in_netns(nothing_filters);
}

/* What keep() and list() saw. */
struct seen {
	size_t live, dead, other;
};

static int keep_live(const char *tag, void *arg)
{
	struct seen *s = arg;

	if (strcmp(tag, "live1") == 0)
		s->live++;
	else if (strcmp(tag, "dead1") == 0)
		s->dead++;
	else
		s->other++;
	return strcmp(tag, "live1") == 0;
}

static void count_listed(const char *tag, const char *desc, void *arg)
{
	print_message("  listed %s: %s\n", tag, desc);
	keep_live(tag, arg);
}

static char *snap_all(int legacy)
{
	char *nft = nft_snapshot(), *a = xt_snapshot("iptables-nft-save");
	char *b = xt_snapshot("ip6tables-nft-save"), *c = NULL, *d = NULL;
	char *all = NULL;

	if (legacy) {
		c = xt_snapshot("iptables-legacy-save");
		d = xt_snapshot("ip6tables-legacy-save");
	}
	CHECK(asprintf(&all, "%s%s%s%s%s", nft, a, b, c ? c : "",
	    d ? d : "") > 0, "asprintf");
	free(nft);
	free(a);
	free(b);
	free(c);
	free(d);
	return all;
}

/* Every backend filters input, and holds a rule that is not ours. */
static int sweep_setup(void)
{
	char *why = NULL;
	int legacy = legacy_supported(&why);

	free(why);
	MUST("nft", "table inet f { chain input { type filter hook input "
	    "priority 0; policy drop; }; }");
	MUST("nft", "add", "rule", "inet", "f", "input", "tcp", "dport", "9",
	    "accept", "comment", "\"other:dead1\"");
	xt_drop_input("iptables-nft", "ip6tables-nft");
	MUST("iptables-nft", "-w", "-A", "INPUT", "-p", "tcp", "--dport", "9",
	    "-m", "comment", "--comment", "fwfleet:bad tag!", "-j", "ACCEPT");
	if (legacy) {
		xt_drop_input("iptables-legacy", "ip6tables-legacy");
		MUST("iptables-legacy", "-w", "-A", "INPUT", "-m", "comment",
		    "--comment", "fwfleetdead1", "-j", "ACCEPT");
	}
	return legacy;
}

static struct firewall *sweep_live(int legacy)
{
	struct firewall *live = NULL;
	char err[1024];
	int r = firewall_open(PORT2, "live1", &live, err, sizeof(err));

	CHECK(r == 0, "%s", err);
	CHECK(firewall_count(live) == (legacy ? 5u : 3u), "%zu rules",
	    firewall_count(live));
	return live;
}

/* dead1: a session's rules, and one planted by hand in each backend. */
static struct firewall *sweep_dead(int legacy, size_t *n)
{
	struct firewall *dead = NULL;
	char err[1024];
	int r = firewall_open(PORT, "dead1", &dead, err, sizeof(err));

	CHECK(r == 0, "%s", err);
	MUST("nft", "insert", "rule", "inet", "f", "input", "tcp", "dport",
	    "3", "accept", "comment", "\"fwfleet:dead1\"");
	MUST("iptables-nft", "-w", "-A", "INPUT", "-p", "tcp", "--dport", "4",
	    "-m", "comment", "--comment", "fwfleet:dead1", "-j", "ACCEPT");
	*n = firewall_count(dead) + 2;
	if (legacy) {
		MUST("ip6tables-legacy", "-w", "-A", "INPUT", "-p", "tcp",
		    "--dport", "5", "-m", "comment", "--comment",
		    "fwfleet:dead1", "-j", "ACCEPT");
		(*n)++;
	}
	return dead;
}

/* Sweeps the rules of dead1, then checks the ruleset is as before. */
static void sweep_check(struct firewall *live, size_t ndead,
    const char *with_live, int legacy)
{
	struct seen listed = { 0, 0, 0 }, kept = { 0, 0, 0 };
	char err[1024], *now;
	size_t removed = 0;
	int r;

	CHECK(firewall_list(count_listed, &listed, err, sizeof(err)) == 0,
	    "%s", err);
	CHECK(listed.dead == ndead && listed.live == firewall_count(live) &&
	    listed.other == 0, "listed %zu dead, %zu live, %zu other",
	    listed.dead, listed.live, listed.other);
	r = firewall_sweep(keep_live, &kept, &removed, err, sizeof(err));
	CHECK(r == 0, "%d: %s", r, err);
	CHECK(removed == ndead, "removed %zu of %zu", removed, ndead);
	CHECK(kept.live == firewall_count(live) && kept.other == 0,
	    "keep() saw %zu live, %zu other", kept.live, kept.other);
	now = snap_all(legacy);
	CHECK(strcmp(now, with_live) == 0, "before:\n%s\nafter sweep:\n%s",
	    with_live, now);
	free(now);
}

static void sweep(void)
{
	struct firewall *live, *dead;
	char *base, *with_live, *now;
	size_t ndead;
	int legacy;

	legacy = sweep_setup();
	base = snap_all(legacy);
	live = sweep_live(legacy);
	with_live = snap_all(legacy);
	dead = sweep_dead(legacy, &ndead);
	sweep_check(live, ndead, with_live, legacy);
	close_ok(dead);		/* its rules are gone already: fine */
	now = snap_all(legacy);
	CHECK(strcmp(now, with_live) == 0, "after close:\n%s", now);
	free(now);
	close_ok(live);
	now = snap_all(legacy);
	CHECK(strcmp(now, base) == 0, "base:\n%s\nat the end:\n%s", base,
	    now);
	free(now);
	free(base);
	free(with_live);
}

static void test_sweep(void **state)
{
	in_netns(sweep);
}

/* The second rule cannot be added: the first is removed again. */
static void open_fails(void)
{
	struct firewall *fw = (struct firewall *)&fw;
	char err[1024], *before, *after;
	int r;

	MUST("nft", "table inet f { chain input { type filter hook input "
	    "priority 0; policy accept; }; }");
	/* Looks like iptables-nft's, but iptables-nft has no raw INPUT. */
	MUST("nft", "table ip raw { chain INPUT { type filter hook input "
	    "priority -300; policy accept; }; }");
	before = nft_snapshot();
	r = firewall_open(PORT, "t-1", &fw, err, sizeof(err));
	print_message("  %s\n", err);
	CHECK(r == FW_ERR_SYSTEM && fw == NULL, "%d: %s", r, err);
	CHECK(strstr(err, "cannot open port " PORT_S ": `iptables-nft -w -t "
	    "raw -I INPUT 1 -p tcp --dport " PORT_S) == err &&
	    strstr(err, "` failed: iptables: ") != NULL, "%s", err);
	after = nft_snapshot();
	CHECK(strcmp(before, after) == 0, "before:\n%s\nafter:\n%s", before,
	    after);
	free(before);
	free(after);
}

static void test_open_fails(void **state)
{
	in_netns(open_fails);
}

static long children_minflt(void)
{
	struct rusage ru;

	CHECK(getrusage(RUSAGE_CHILDREN, &ru) == 0, "%s", strerror(errno));
	return ru.ru_minflt;
}

static void bad_tag(void)
{
	static const char *const bad[] = { "", "a b", "a\"b", "it's",
	    "fwfleet:x", "a;b", "x\n", "\xc3\xa9t\xc3\xa9",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    NULL };
	const char *good = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
	    "KLMNOPQRSTUVWXYZ--";
	struct firewall *fw;
	char err[1024];
	size_t i;
	int r;

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		fw = (struct firewall *)&fw;	/* must be cleared */
		r = firewall_open(PORT, bad[i], &fw, err, sizeof(err));
		CHECK(r == FW_ERR_INVALID && fw == NULL, "tag %zu: %d", i, r);
		CHECK(strstr(err, "bad tag") != NULL, "tag %zu: %s", i, err);
	}
	r = firewall_open(0, "ok", &fw, err, sizeof(err));
	CHECK(r == FW_ERR_INVALID && fw == NULL, "port 0: %d", r);
	CHECK(children_minflt() == 0, "a command ran for a bad argument");

	CHECK(strlen(good) == FIREWALL_TAG_MAX, "%zu", strlen(good));
	r = firewall_open(PORT, good, &fw, err, sizeof(err));
	CHECK(r == 0, "64-byte tag: %s", err);
	close_ok(fw);
	CHECK(children_minflt() > 0, "no command ran for a good tag");
}

static void test_bad_tag(void **state)
{
	in_netns(bad_tag);
}

static void test_close_null(void **state)
{
	char err[64] = "x";

	assert_int_equal(firewall_close(NULL, err, sizeof(err)), 0);
	assert_int_equal(firewall_count(NULL), 0);
	assert_null(firewall_rule(NULL, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nft_native),
		cmocka_unit_test(test_iptables_nft),
		cmocka_unit_test(test_iptables_legacy),
		cmocka_unit_test(test_nothing_filters),
		cmocka_unit_test(test_sweep),
		cmocka_unit_test(test_open_fails),
		cmocka_unit_test(test_bad_tag),
		cmocka_unit_test(test_close_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
