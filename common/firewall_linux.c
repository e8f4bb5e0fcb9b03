/*
 * The host firewall on Linux, through the host's own tools.
 *
 * Commands. Tools are looked up in /usr/sbin, /sbin, /usr/bin and /bin
 * only; a missing tool means its backend is absent. Each runs by fork and
 * execve (no shell) in a process group of its own, with stdin empty, PATH
 * set to those directories and LC_ALL=C, for at most 10 s (then the group
 * is killed). Its stderr is kept for the error message, which names the
 * command: "`nft insert rule inet filter input ...` failed: Error: ...".
 *
 * Backends, and where input is filtered:
 *  - iptables legacy: iptables-legacy / ip6tables-legacy, or iptables /
 *    ip6tables when "-V" does not say nf_tables (iptables before 1.8 has
 *    no suffixed names), each with its -save tool. Used only when the
 *    kernel already has the legacy filter table (/proc/net/ip_tables_names
 *    or ip6_tables_names lists "filter"; the tools are not even run
 *    otherwise, as that would load modules and create the table) and
 *    its INPUT chain has rules or a policy other than ACCEPT. Rule:
 *    -I INPUT 1.
 *  - nftables, as "nft -a -t list ruleset" shows it: every base chain
 *    with "hook input" in families ip, ip6 and inet. An accept ends only
 *    its own base chain (the others on the hook still see the packet),
 *    so each one gets its rule, inserted first:
 *      nft insert rule FAM TABLE CHAIN tcp dport P counter accept
 *          comment "fwfleet:TAG"
 *    An ip chain covers IPv4 only, ip6 IPv6 only, inet both. If nft fails
 *    with "not supported" the kernel has no nf_tables: absent.
 *  - Tables iptables-nft manages are never changed with nft (iptables-nft
 *    could no longer read them) but with iptables-nft / ip6tables-nft:
 *    -t TABLE -I CHAIN 1. Such a table is one nft warns about on stderr
 *    ("table ip filter is managed by iptables-nft", printed when it holds
 *    xtables matches), or an ip/ip6 table named like an xtables table
 *    (filter, mangle, raw, nat, security) with an upper-case built-in
 *    chain (INPUT, FORWARD, ...).
 *  - Without nft, iptables-nft / ip6tables-nft (and -save) stand for
 *    nftables the way legacy does: filter INPUT, only if it filters.
 * Nothing else is changed, and no table or chain is ever created.
 *
 * Rules. iptables rules are "-p tcp --dport P -m comment --comment
 * fwfleet:TAG -j ACCEPT", always with -w: the xtables lock is shared by
 * every network namespace on the host. Removal: iptables by -D with the
 * same spec (if that fails and -C no longer finds the rule, it is already
 * gone: success); nft by handle, looked up again when removing (a handle
 * kept from the insert could name another rule after a ruleset reload):
 * the rule in that chain that starts "tcp dport P " and has our comment;
 * none means already gone. A failed firewall_open removes what it added.
 *
 * Sweep and list: legacy rules from iptables-legacy-save (all tables;
 * only when the kernel has legacy tables), native nft rules from the
 * listing (any family; tables iptables-nft manages are skipped), then
 * iptables-nft rules from iptables-nft-save when nft shows a managed
 * table of that family, or nft is missing. iptables-save lines become
 * delete commands by turning -A into -D; their words are split on spaces
 * with "..." unquoted (iptables-save quotes some comments).
 */
#include "firewall.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "util.h"

#define CMD_TIMEOUT_MS	10000
#define CMD_OUT_MAX	((size_t)64 << 20)	/* listing a large ruleset */
#define CMD_ERR_MAX	((size_t)16 << 10)
#define NFT_NAME_MAX	256			/* NFT_NAME_MAXLEN - 1 */
#define MSG_MAX		1024
#define PREFIX_LEN	(sizeof(FIREWALL_TAG_PREFIX) - 1)
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

static const char *const bin_dirs[] = { "/usr/sbin", "/sbin", "/usr/bin",
    "/bin" };
static char *const cmd_env[] = { "PATH=/usr/sbin:/sbin:/usr/bin:/bin",
    "LC_ALL=C", NULL };

enum { XT_LEGACY4, XT_LEGACY6, XT_NFT4, XT_NFT6, XT_N };

static const struct xt_info {
	const char *name;	/* the backend, and its tool's name */
	const char *plain;	/* the unsuffixed tool, either variant */
	const char *proc;	/* legacy: the kernel's list of tables */
} xt_info[XT_N] = {
	{ "iptables-legacy", "iptables", "/proc/net/ip_tables_names" },
	{ "ip6tables-legacy", "ip6tables", "/proc/net/ip6_tables_names" },
	{ "iptables-nft", "iptables", NULL },
	{ "ip6tables-nft", "ip6tables", NULL },
};

/* Full paths of the tools found; "" when absent. */
struct tools {
	char nft[64];
	char bin[XT_N][64];
	char save[XT_N][64];
};

/* Where one rule goes: an iptables chain, or a native nft chain. */
struct spot {
	int xt;				/* XT_*, or -1 for native nft */
	char family[8];			/* nft only */
	char table[NFT_NAME_MAX + 1];
	char chain[NFT_NAME_MAX + 1];
};

struct fw_rule {
	struct spot spot;
	char *desc;
};

struct firewall {
	struct tools tools;
	uint16_t port;
	char tag[FIREWALL_TAG_MAX + 1];
	struct fw_rule *rules;
	size_t n;
};

struct buf {
	char *p;			/* always NUL-terminated */
	size_t len, cap, max;
	int over;			/* more came than max */
};

struct cmd {
	char **argv;			/* NULL-terminated */
	size_t argc;
	struct buf out, err;
	int status;			/* from waitpid */
};

struct nft_chain {
	char family[8];
	char table[NFT_NAME_MAX + 1];
	char name[NFT_NAME_MAX + 1];
	int input;			/* a base chain on hook input */
};

/* A rule with our comment in the nft listing. */
struct nft_rule {
	size_t chain;
	long handle;
	char tag[FIREWALL_TAG_MAX + 1];
	char *text;			/* as listed, without the handle */
};

struct nft_view {
	int loaded;
	int absent;			/* no nft, or no nf_tables */
	struct nft_chain *chains;
	size_t nchains;
	struct nft_rule *rules;
	size_t nrules;
	char *warnings;			/* nft's stderr */
};

/* Sweep or list: what to do with each tagged rule, and the outcome. */
struct walk {
	int agent;			/* the agent's rules, not sessions' */
	int (*keep)(const char *tag, void *arg);
	void (*cb)(const char *tag, const char *desc, void *arg);
	void *arg;
	size_t removed;
	int r;
	char *err;
	size_t errlen;
};

/* ---- text helpers ------------------------------------------------------ */

static int tag_valid(const char *tag)
{
	size_t n;
	char c;

	for (n = 0; (c = tag[n]) != '\0'; n++) {
		if (n >= FIREWALL_TAG_MAX)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	return n > 0;
}

/* Copies the tag out of a comment "fwfleet:<tag>" of n bytes; 0 if the
 * comment is not ours. */
static int tag_from_comment(const char *s, size_t n, char *tag)
{
	if (n <= PREFIX_LEN || n - PREFIX_LEN > FIREWALL_TAG_MAX ||
	    strncmp(s, FIREWALL_TAG_PREFIX, PREFIX_LEN) != 0)
		return 0;
	memcpy(tag, s + PREFIX_LEN, n - PREFIX_LEN);
	tag[n - PREFIX_LEN] = '\0';
	return tag_valid(tag);
}

/* An identifier nft reads back unquoted: [A-Za-z_.][A-Za-z0-9_./-]*. */
static int nft_name_valid(const char *s)
{
	const char *p;

	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
	    *s == '_' || *s == '.'))
		return 0;
	for (p = s; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("_./-", *p) != NULL))
			return 0;
	return p - s <= NFT_NAME_MAX;
}

static int in_list(const char *s, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

/* The next line of *s (its newline becomes NUL), or NULL at the end. */
static char *next_line(char **s)
{
	char *line = *s, *nl;

	if (line == NULL || *line == '\0')
		return NULL;
	if ((nl = strchr(line, '\n')) != NULL) {
		*nl = '\0';
		*s = nl + 1;
	} else
		*s = NULL;
	return line;
}

/* Copies the whitespace-separated word at *s into w ("" if longer than
 * NFT_NAME_MAX) and moves *s past it. */
static void next_word(const char **s, char w[NFT_NAME_MAX + 1])
{
	const char *p = *s;
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	n = strcspn(p, " \t");
	if (n > NFT_NAME_MAX)
		n = 0;
	memcpy(w, p, n);
	w[n] = '\0';
	*s = p + strcspn(p, " \t");
}

/* ---- running commands -------------------------------------------------- */

static void buf_init(struct buf *b, size_t max)
{
	b->cap = 256;
	b->p = xmalloc(b->cap);
	b->p[0] = '\0';
	b->len = 0;
	b->max = max;
	b->over = 0;
}

static void buf_add(struct buf *b, const char *d, size_t n)
{
	if (n > b->max - b->len) {
		n = b->max - b->len;
		b->over = 1;
	}
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap *= 2;
		b->p = xrealloc(b->p, b->cap, 1);
	}
	memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void cmd_add(struct cmd *c, const char *arg)
{
	c->argv = xrealloc(c->argv, c->argc + 2, sizeof(*c->argv));
	c->argv[c->argc++] = xstrdup(arg);
	c->argv[c->argc] = NULL;
}

/* Adds the arguments up to a NULL. */
static void cmd_addl(struct cmd *c, ...)
{
	const char *a;
	va_list ap;

	va_start(ap, c);
	while ((a = va_arg(ap, const char *)) != NULL)
		cmd_add(c, a);
	va_end(ap);
}

static void cmd_init(struct cmd *c, const char *bin)
{
	memset(c, 0, sizeof(*c));
	buf_init(&c->out, CMD_OUT_MAX);
	buf_init(&c->err, CMD_ERR_MAX);
	cmd_add(c, bin);
}

static void cmd_free(struct cmd *c)
{
	size_t i;

	for (i = 0; i < c->argc; i++)
		free(c->argv[i]);
	free(c->argv);
	free(c->out.p);
	free(c->err.p);
	memset(c, 0, sizeof(*c));
}

static int cmd_exit_code(const struct cmd *c)
{
	return WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1;
}

/* The command as a user would type it: "nft insert rule ...". */
static void cmd_text(const struct cmd *c, char *buf, size_t len)
{
	const char *base = strrchr(c->argv[0], '/');
	size_t i, used;
	int n;

	snprintf(buf, len, "%s", base != NULL ? base + 1 : c->argv[0]);
	for (i = 1; i < c->argc; i++) {
		used = strlen(buf);
		n = snprintf(buf + used, len - used, " %s", c->argv[i]);
		if (n < 0 || (size_t)n >= len - used) {
			if (len > 4)
				memcpy(buf + len - 4, "...", 4);
			return;
		}
	}
}

/* The first line of stderr worth showing (not a "# Warning"), or "". */
static void cmd_err_line(const struct cmd *c, char *line, size_t len)
{
	const char *p = c->err.p, *end;
	size_t n;

	line[0] = '\0';
	for (; *p != '\0'; p = *end != '\0' ? end + 1 : end) {
		end = p + strcspn(p, "\n");
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (p == end || strncmp(p, "# Warning", 9) == 0)
			continue;
		n = (size_t)(end - p) < len - 1 ? (size_t)(end - p) : len - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		fw_rtrim(line);
		fw_text_clean(line, FW_TEXT_KEEP_TAB);
		return;
	}
}

/* Keeps a pipe end off descriptors 0-2, which the child dup2s over. */
static int fd_above_stdio(int fd)
{
	int nfd;

	if (fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

static int cmd_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	p[0] = fd_above_stdio(p[0]);
	p[1] = fd_above_stdio(p[1]);
	return p[0] >= 0 && p[1] >= 0 ? 0 : -1;
}

static void cmd_child(const struct cmd *c, int in, int out, int err)
    __attribute__((noreturn));

/* In the child: only async-signal-safe calls (the caller may have
 * threads). */
static void cmd_child(const struct cmd *c, int in, int out, int err)
{
	static const char msg[] = "cannot execute\n";
	struct sigaction sa;
	sigset_t none;

	setpgid(0, 0);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		_exit(127);
	close_range(3, ~0U, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(c->argv[0], c->argv, cmd_env);
	if (write(2, msg, sizeof(msg) - 1) < 0)
		_exit(127);
	_exit(127);
}

/* Reads the child's stdout and stderr until both end or the deadline. */
static int cmd_collect(struct cmd *c, int outfd, int errfd, uint64_t deadline)
{
	struct pollfd p[2] = { { outfd, POLLIN, 0 }, { errfd, POLLIN, 0 } };
	struct buf *b[2] = { &c->out, &c->err };
	char chunk[16384];
	uint64_t now;
	ssize_t n;
	int i;

	while (p[0].fd >= 0 || p[1].fd >= 0) {
		if ((now = fw_now_ms()) >= deadline)
			return FW_ERR_TIMEOUT;
		if (poll(p, 2, (int)(deadline - now)) < 0) {
			if (errno == EINTR)
				continue;
			return FW_ERR_SYSTEM;
		}
		for (i = 0; i < 2; i++) {
			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			n = read(p[i].fd, chunk, sizeof(chunk));
			if (n > 0)
				buf_add(b[i], chunk, (size_t)n);
			else if (n == 0 || errno != EINTR)
				p[i].fd = -1;	/* poll skips it */
		}
	}
	return 0;
}

static int cmd_reap(pid_t pid, uint64_t deadline, int *status)
{
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	pid_t w;

	for (;;) {
		w = waitpid(pid, status, WNOHANG);
		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return FW_ERR_SYSTEM;
		if (fw_now_ms() >= deadline)
			return FW_ERR_TIMEOUT;
		nanosleep(&ts, NULL);
	}
}

/* Turns how the command ended into 0 or an error naming it. */
static int cmd_result(const struct cmd *c, int r, int saved_errno,
    char *err, size_t errlen)
{
	char text[512], line[512];

	cmd_text(c, text, sizeof(text));
	if (r == FW_ERR_TIMEOUT) {
		fw_snprintf(err, errlen, "`%s` timed out after %d s", text,
		    CMD_TIMEOUT_MS / 1000);
		return r;
	}
	if (r != 0) {
		fw_snprintf(err, errlen, "`%s`: %s", text,
		    strerror(saved_errno));
		return r;
	}
	if (WIFSIGNALED(c->status)) {
		fw_snprintf(err, errlen, "`%s` was killed by signal %d", text,
		    WTERMSIG(c->status));
		return FW_ERR_SYSTEM;
	}
	if (cmd_exit_code(c) != 0) {
		cmd_err_line(c, line, sizeof(line));
		if (line[0] != '\0')
			fw_snprintf(err, errlen, "`%s` failed: %s", text, line);
		else
			fw_snprintf(err, errlen, "`%s` exited with status %d",
			    text, cmd_exit_code(c));
		return FW_ERR_SYSTEM;
	}
	if (c->out.over) {
		fw_snprintf(err, errlen, "`%s`: output larger than %zu MiB",
		    text, CMD_OUT_MAX >> 20);
		return FW_ERR_FRAME_TOO_BIG;
	}
	return 0;
}

static void close_fds(int *fds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/*
 * Runs c, keeping its stdout and stderr in c. Returns 0 if it exited 0,
 * else an error (FW_ERR_SYSTEM, FW_ERR_TIMEOUT, FW_ERR_FRAME_TOO_BIG)
 * with err naming the command and what it said.
 */
static int cmd_run(struct cmd *c, char *err, size_t errlen)
{
	int fds[6] = { -1, -1, -1, -1, -1, -1 }, r = FW_ERR_SYSTEM, saved;
	uint64_t deadline = fw_now_ms() + CMD_TIMEOUT_MS;
	pid_t pid = -1;

	if (cmd_pipe(fds) != 0 || cmd_pipe(fds + 2) != 0 ||
	    cmd_pipe(fds + 4) != 0 || (pid = fork()) < 0) {
		saved = errno;
		goto out;
	}
	if (pid == 0)
		cmd_child(c, fds[0], fds[3], fds[5]);
	setpgid(pid, pid);	/* also here: the group exists for a kill */
	close_fds(fds, 2);	/* stdin: empty */
	close(fds[3]);
	close(fds[5]);
	fds[3] = fds[5] = -1;
	r = cmd_collect(c, fds[2], fds[4], deadline);
	saved = errno;
	if (r == 0) {
		r = cmd_reap(pid, deadline, &c->status);
		saved = errno;
	}
	if (r != 0) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, &c->status, 0) < 0 && errno == EINTR)
			;
	}
out:
	close_fds(fds, nitems(fds));
	return cmd_result(c, r, saved, err, errlen);
}

/* nft or iptables-nft on a kernel without nf_tables. */
static int nft_unsupported(const struct cmd *c)
{
	return strstr(c->err.p, "Protocol not supported") != NULL ||
	    strstr(c->err.p, "Operation not supported") != NULL;
}

/* ---- finding the tools ------------------------------------------------- */

static int find_bin(const char *name, char path[64])
{
	size_t i;

	for (i = 0; i < nitems(bin_dirs); i++)
		if (fw_snprintf(path, 64, "%s/%s", bin_dirs[i], name) == 0 &&
		    access(path, X_OK) == 0)
			return 1;
	path[0] = '\0';
	return 0;
}

/* Finds name and name-save; both or neither. */
static int find_pair(const char *name, char bin[64], char save[64])
{
	char s[64];

	snprintf(s, sizeof(s), "%s-save", name);
	if (find_bin(name, bin) && find_bin(s, save))
		return 1;
	bin[0] = save[0] = '\0';
	return 0;
}

/* Plain iptables / ip6tables fill in the variant "-V" names, if its
 * suffixed tools are missing. */
static void find_plain(struct tools *t, int legacy, int nft)
{
	char bin[64], save[64], msg[MSG_MAX];
	struct cmd c;
	int i;

	if ((t->bin[legacy][0] != '\0' && t->bin[nft][0] != '\0') ||
	    !find_pair(xt_info[legacy].plain, bin, save))
		return;
	cmd_init(&c, bin);
	cmd_add(&c, "-V");
	if (cmd_run(&c, msg, sizeof(msg)) == 0) {
		i = strstr(c.out.p, "nf_tables") != NULL ? nft : legacy;
		if (t->bin[i][0] == '\0') {
			memcpy(t->bin[i], bin, sizeof(bin));
			memcpy(t->save[i], save, sizeof(save));
		}
	}
	cmd_free(&c);
}

static void tools_find(struct tools *t)
{
	int i;

	memset(t, 0, sizeof(*t));
	find_bin("nft", t->nft);
	for (i = 0; i < XT_N; i++)
		find_pair(xt_info[i].name, t->bin[i], t->save[i]);
	find_plain(t, XT_LEGACY4, XT_NFT4);
	find_plain(t, XT_LEGACY6, XT_NFT6);
}

/* Whether the kernel has legacy tables for xt: table, or any if NULL. */
static int legacy_has(int xt, const char *table)
{
	char *text = NULL, *s, *line;
	size_t len;
	int found = 0;

	if (fw_read_file(xt_info[xt].proc, 1 << 16, &text, &len) != 0)
		return 0;
	s = text;
	while (!found && (line = next_line(&s)) != NULL)
		found = table == NULL ? line[0] != '\0' :
		    strcmp(line, table) == 0;
	free(text);
	return found;
}

/* ---- iptables-save ----------------------------------------------------- */

/* Whether the filter INPUT chain in save output has rules or a policy
 * other than ACCEPT. */
static int xt_filters_input(char *text)
{
	char *s = text, *line;
	int filter = 0;

	while ((line = next_line(&s)) != NULL) {
		if (line[0] == '*')
			filter = strcmp(line, "*filter") == 0;
		else if (!filter)
			continue;
		else if (strncmp(line, ":INPUT ", 7) == 0 &&
		    strncmp(line + 7, "ACCEPT ", 7) != 0)
			return 1;
		else if (strncmp(line, "-A INPUT ", 9) == 0)
			return 1;
	}
	return 0;
}

/*
 * Splits an iptables-save line in place into words (words has room for
 * strlen(s) / 2 + 1); "..." is one word, with \" and \\ unescaped.
 * Returns the number of words.
 */
static size_t xt_split(char *s, char **words)
{
	size_t n = 0;
	char *o, c;

	for (;;) {
		while (*s == ' ')
			s++;
		if (*s == '\0')
			return n;
		words[n++] = o = s;
		if (*s == '"') {
			for (s++; *s != '\0' && *s != '"'; *o++ = *s++)
				if (*s == '\\' && s[1] != '\0')
					s++;
			if (*s == '"')
				s++;
		} else {
			while (*s != '\0' && *s != ' ')
				*o++ = *s++;
		}
		c = *s;
		*o = '\0';
		if (c == '\0')
			return n;
		s++;
	}
}

/* ---- the nft listing --------------------------------------------------- */

/* Net change of brace depth on a listing line, ignoring quoted text and
 * the "# handle" comment. */
static int brace_delta(const char *s)
{
	int d = 0, quoted = 0;

	for (; *s != '\0'; s++) {
		if (quoted) {
			if (*s == '\\' && s[1] != '\0')
				s++;
			else if (*s == '"')
				quoted = 0;
		} else if (*s == '"')
			quoted = 1;
		else if (*s == '#')
			break;
		else if (*s == '{')
			d++;
		else if (*s == '}')
			d--;
	}
	return d;
}

/* A rule line: keeps it if it carries our comment. */
static void nft_parse_rule(struct nft_view *v, size_t chain, const char *p)
{
	static const char key[] = " comment \"";
	const char *h, *c = NULL, *q, *at;
	struct nft_rule *r;
	char tag[FIREWALL_TAG_MAX + 1];
	long handle;

	if ((h = strstr(p, " # handle ")) == NULL ||
	    fw_parse_long(h + 10, 0, LONG_MAX, &handle) != 0)
		return;
	for (at = p; (at = strstr(at, key)) != NULL && at < h; at++)
		c = at + sizeof(key) - 1;	/* nft prints it last */
	if (c == NULL || (q = strchr(c, '"')) == NULL || q > h ||
	    !tag_from_comment(c, (size_t)(q - c), tag))
		return;
	v->rules = xrealloc(v->rules, v->nrules + 1, sizeof(*v->rules));
	r = &v->rules[v->nrules++];
	r->chain = chain;
	r->handle = handle;
	memcpy(r->tag, tag, sizeof(tag));
	r->text = xasprintf("%.*s", (int)(h - p), p);
}

static void nft_add_chain(struct nft_view *v, const char *family,
    const char *table, const char *name)
{
	struct nft_chain *ch;

	v->chains = xrealloc(v->chains, v->nchains + 1, sizeof(*v->chains));
	ch = &v->chains[v->nchains++];
	(void)fw_snprintf(ch->family, sizeof(ch->family), "%s", family);
	memcpy(ch->table, table, sizeof(ch->table));
	memcpy(ch->name, name, sizeof(ch->name));
	ch->input = 0;
}

struct nft_parse {
	int depth;
	char family[NFT_NAME_MAX + 1];
	char table[NFT_NAME_MAX + 1];
	int in_table;
	int in_chain;		/* v->chains[v->nchains - 1] */
};

static void nft_parse_line(struct nft_view *v, struct nft_parse *ps,
    const char *line)
{
	char w[NFT_NAME_MAX + 1];
	const char *p = line;

	next_word(&p, w);
	if (ps->depth == 0 && strcmp(w, "table") == 0) {
		next_word(&p, ps->family);
		next_word(&p, ps->table);
		ps->in_table = 1;
	} else if (ps->depth == 1 && ps->in_table && strcmp(w, "chain") == 0) {
		next_word(&p, w);
		nft_add_chain(v, ps->family, ps->table, w);
		ps->in_chain = 1;
	} else if (ps->depth == 2 && ps->in_chain && strcmp(w, "type") == 0) {
		if (strstr(p, " hook input ") != NULL)
			v->chains[v->nchains - 1].input = 1;
	} else if (ps->depth == 2 && ps->in_chain)
		nft_parse_rule(v, v->nchains - 1, line);
	ps->depth += brace_delta(line);
	if (ps->depth < 2)
		ps->in_chain = 0;
	if (ps->depth < 1)
		ps->in_table = 0;
}

static int nft_parse(struct nft_view *v, char *text, char *err,
    size_t errlen)
{
	struct nft_parse ps;
	char *s = text, *line;

	memset(&ps, 0, sizeof(ps));
	while ((line = next_line(&s)) != NULL) {
		while (*line == ' ' || *line == '\t')
			line++;
		nft_parse_line(v, &ps, line);
		if (ps.depth < 0)
			break;
	}
	if (ps.depth != 0) {
		fw_snprintf(err, errlen, "cannot read `nft list ruleset`: "
		    "unbalanced braces");
		return FW_ERR_PARSE;
	}
	return 0;
}

static void nft_view_free(struct nft_view *v)
{
	size_t i;

	for (i = 0; i < v->nrules; i++)
		free(v->rules[i].text);
	free(v->rules);
	free(v->chains);
	free(v->warnings);
	memset(v, 0, sizeof(*v));
}

/* Lists the nft ruleset into v, once; absent without nft or nf_tables. */
static int nft_load(const struct tools *t, struct nft_view *v, char *err,
    size_t errlen)
{
	struct cmd c;
	int r;

	if (v->loaded)
		return 0;
	memset(v, 0, sizeof(*v));
	v->loaded = 1;
	if (t->nft[0] == '\0') {
		v->absent = 1;
		return 0;
	}
	cmd_init(&c, t->nft);
	cmd_addl(&c, "-a", "-t", "list", "ruleset", NULL);
	r = cmd_run(&c, err, errlen);
	if (r == FW_ERR_SYSTEM && nft_unsupported(&c)) {
		v->absent = 1;
		r = 0;
	} else if (r == 0)
		r = nft_parse(v, c.out.p, err, errlen);
	v->warnings = c.err.p;
	c.err.p = NULL;
	cmd_free(&c);
	return r;
}

static int same_table(const struct nft_chain *a, const struct nft_chain *b)
{
	return strcmp(a->family, b->family) == 0 &&
	    strcmp(a->table, b->table) == 0;
}

/* Whether iptables-nft manages ch's table (see the top of this file). */
static int nft_managed(const struct nft_view *v, const struct nft_chain *ch)
{
	static const char *const tables[] = { "filter", "mangle", "raw",
	    "nat", "security" };
	static const char *const builtin[] = { "INPUT", "FORWARD", "OUTPUT",
	    "PREROUTING", "POSTROUTING" };
	char needle[2 * NFT_NAME_MAX + 64];
	size_t i;

	if (strcmp(ch->family, "ip") != 0 && strcmp(ch->family, "ip6") != 0)
		return 0;
	snprintf(needle, sizeof(needle), "table %s %s is managed by "
	    "iptables-nft", ch->family, ch->table);
	if (v->warnings != NULL && strstr(v->warnings, needle) != NULL)
		return 1;
	if (!in_list(ch->table, tables, nitems(tables)))
		return 0;
	for (i = 0; i < v->nchains; i++)
		if (same_table(&v->chains[i], ch) &&
		    in_list(v->chains[i].name, builtin, nitems(builtin)))
			return 1;
	return 0;
}

static int nft_has_managed(const struct nft_view *v, const char *family)
{
	size_t i;

	for (i = 0; i < v->nchains; i++)
		if (strcmp(v->chains[i].family, family) == 0 &&
		    nft_managed(v, &v->chains[i]))
			return 1;
	return 0;
}

/* nft delete rule FAM TABLE CHAIN handle N */
static int nft_delete(const char *nft, const struct nft_chain *ch,
    long handle, char *err, size_t errlen)
{
	char h[32];
	struct cmd c;
	int r;

	if (!nft_name_valid(ch->table) || !nft_name_valid(ch->name)) {
		fw_snprintf(err, errlen, "nft table %s %.64s has a name this "
		    "program does not pass to nft", ch->family, ch->table);
		return FW_ERR_UNSUPPORTED;
	}
	snprintf(h, sizeof(h), "%ld", handle);
	cmd_init(&c, nft);
	cmd_addl(&c, "delete", "rule", ch->family, ch->table, ch->name,
	    "handle", h, NULL);
	r = cmd_run(&c, err, errlen);
	cmd_free(&c);
	return r;
}

/* ---- planning: where the rules go -------------------------------------- */

struct spots {
	struct spot *v;
	size_t n;
};

static void spots_add(struct spots *s, int xt, const char *family,
    const char *table, const char *chain)
{
	struct spot *sp;

	s->v = xrealloc(s->v, s->n + 1, sizeof(*s->v));
	sp = &s->v[s->n++];
	memset(sp, 0, sizeof(*sp));
	sp->xt = xt;
	snprintf(sp->family, sizeof(sp->family), "%s", family);
	snprintf(sp->table, sizeof(sp->table), "%s", table);
	snprintf(sp->chain, sizeof(sp->chain), "%s", chain);
}

/* filter INPUT of an iptables variant, if it filters. */
static int plan_xt(const struct tools *t, int xt, struct spots *s,
    char *err, size_t errlen)
{
	struct cmd c;
	int r;

	if (t->bin[xt][0] == '\0')
		return 0;
	cmd_init(&c, t->save[xt]);
	if ((r = cmd_run(&c, err, errlen)) == 0 && xt_filters_input(c.out.p))
		spots_add(s, xt, "", "filter", "INPUT");
	if (r == FW_ERR_SYSTEM && nft_unsupported(&c))
		r = 0;
	cmd_free(&c);
	return r;
}

/* One nft input base chain: natively, or via iptables-nft. */
static int plan_nft_chain(const struct tools *t, const struct nft_view *v,
    const struct nft_chain *ch, struct spots *s, char *err, size_t errlen)
{
	int xt = strcmp(ch->family, "ip") == 0 ? XT_NFT4 : XT_NFT6;

	if (!nft_managed(v, ch))
		xt = -1;
	else if (t->bin[xt][0] == '\0') {
		fw_snprintf(err, errlen, "table %s %s is managed by %s, which "
		    "is not installed", ch->family, ch->table,
		    xt_info[xt].name);
		return FW_ERR_UNSUPPORTED;
	}
	if (!nft_name_valid(ch->table) || !nft_name_valid(ch->name)) {
		fw_snprintf(err, errlen, "nft table %s %.64s has a name this "
		    "program does not pass to nft", ch->family, ch->table);
		return FW_ERR_UNSUPPORTED;
	}
	spots_add(s, xt, ch->family, ch->table, ch->name);
	return 0;
}

static int plan_nft(const struct tools *t, const struct nft_view *v,
    struct spots *s, char *err, size_t errlen)
{
	static const char *const families[] = { "ip", "ip6", "inet" };
	const struct nft_chain *ch;
	size_t i;
	int r;

	if (v->absent) {
		if ((r = plan_xt(t, XT_NFT4, s, err, errlen)) != 0)
			return r;
		return plan_xt(t, XT_NFT6, s, err, errlen);
	}
	for (i = 0; i < v->nchains; i++) {
		ch = &v->chains[i];
		if (ch->input && in_list(ch->family, families,
		    nitems(families)) &&
		    (r = plan_nft_chain(t, v, ch, s, err, errlen)) != 0)
			return r;
	}
	return 0;
}

static int plan(const struct tools *t, struct spots *s, char *err,
    size_t errlen)
{
	struct nft_view v;
	int r = 0, i;

	memset(&v, 0, sizeof(v));
	for (i = XT_LEGACY4; r == 0 && i <= XT_LEGACY6; i++)
		if (legacy_has(i, "filter"))
			r = plan_xt(t, i, s, err, errlen);
	if (r == 0 && (r = nft_load(t, &v, err, errlen)) == 0)
		r = plan_nft(t, &v, s, err, errlen);
	nft_view_free(&v);
	return r;
}

/* ---- adding and removing one rule -------------------------------------- */

/* iptables -w -t TABLE OP CHAIN [1] -p tcp --dport P -m comment ... */
static void xt_rule_cmd(const struct firewall *fw, const struct spot *sp,
    const char *op, struct cmd *c)
{
	char port[8], comment[sizeof(FIREWALL_TAG_PREFIX) + FIREWALL_TAG_MAX];

	snprintf(port, sizeof(port), "%u", fw->port);
	snprintf(comment, sizeof(comment), "%s%s", FIREWALL_TAG_PREFIX,
	    fw->tag);
	cmd_init(c, fw->tools.bin[sp->xt]);
	cmd_addl(c, "-w", "-t", sp->table, op, sp->chain, NULL);
	if (strcmp(op, "-I") == 0)
		cmd_add(c, "1");
	cmd_addl(c, "-p", "tcp", "--dport", port, "-m", "comment",
	    "--comment", comment, "-j", "ACCEPT", NULL);
}

static void nft_rule_cmd(const struct firewall *fw, const struct spot *sp,
    struct cmd *c)
{
	char port[8], comment[sizeof(FIREWALL_TAG_PREFIX) + FIREWALL_TAG_MAX +
	    2];

	snprintf(port, sizeof(port), "%u", fw->port);
	snprintf(comment, sizeof(comment), "\"%s%s\"", FIREWALL_TAG_PREFIX,
	    fw->tag);
	cmd_init(c, fw->tools.nft);
	cmd_addl(c, "insert", "rule", sp->family, sp->table, sp->chain,
	    "tcp", "dport", port, "counter", "accept", "comment", comment,
	    NULL);
}

static int rule_add(struct firewall *fw, const struct spot *sp, char *err,
    size_t errlen)
{
	struct fw_rule *fr;
	struct cmd c;
	int r;

	if (sp->xt < 0)
		nft_rule_cmd(fw, sp, &c);
	else
		xt_rule_cmd(fw, sp, "-I", &c);
	r = cmd_run(&c, err, errlen);
	cmd_free(&c);
	if (r != 0)
		return r;
	fw->rules = xrealloc(fw->rules, fw->n + 1, sizeof(*fw->rules));
	fr = &fw->rules[fw->n++];
	fr->spot = *sp;
	if (sp->xt < 0)
		fr->desc = xasprintf("nft %s %s %s tcp dport %u accept",
		    sp->family, sp->table, sp->chain, fw->port);
	else
		fr->desc = xasprintf("%s %s %s tcp dport %u accept",
		    xt_info[sp->xt].name, sp->table, sp->chain, fw->port);
	return 0;
}

/* -D; if that fails and -C finds no such rule, it is already gone. */
static int xt_rule_remove(const struct firewall *fw, const struct spot *sp,
    char *err, size_t errlen)
{
	char msg[MSG_MAX];
	struct cmd c;
	int r;

	xt_rule_cmd(fw, sp, "-D", &c);
	r = cmd_run(&c, err, errlen);
	cmd_free(&c);
	if (r != FW_ERR_SYSTEM)
		return r;
	xt_rule_cmd(fw, sp, "-C", &c);
	if (cmd_run(&c, msg, sizeof(msg)) == FW_ERR_SYSTEM &&
	    cmd_exit_code(&c) == 1)
		r = 0;
	cmd_free(&c);
	return r;
}

/* Finds our rule in the chain of sp again and deletes it by handle. */
static int nft_rule_remove(const struct firewall *fw, const struct spot *sp,
    struct nft_view *v, char *err, size_t errlen)
{
	const struct nft_chain *ch;
	char start[32];
	size_t i;
	int r;

	if ((r = nft_load(&fw->tools, v, err, errlen)) != 0)
		return r;
	snprintf(start, sizeof(start), "tcp dport %u ", fw->port);
	for (i = 0; i < v->nrules; i++) {
		ch = &v->chains[v->rules[i].chain];
		if (strcmp(ch->family, sp->family) == 0 &&
		    strcmp(ch->table, sp->table) == 0 &&
		    strcmp(ch->name, sp->chain) == 0 &&
		    strcmp(v->rules[i].tag, fw->tag) == 0 &&
		    strncmp(v->rules[i].text, start, strlen(start)) == 0)
			return nft_delete(fw->tools.nft, ch, v->rules[i].handle,
			    err, errlen);
	}
	return 0;
}

/* Removes all of fw's rules, last first; err gets the first failure. */
static int rules_remove(struct firewall *fw, char *err, size_t errlen)
{
	struct nft_view v;
	char msg[MSG_MAX];
	size_t i;
	int r = 0, r2;

	memset(&v, 0, sizeof(v));
	for (i = fw->n; i-- > 0;) {
		if (fw->rules[i].spot.xt < 0)
			r2 = nft_rule_remove(fw, &fw->rules[i].spot, &v, msg,
			    sizeof(msg));
		else
			r2 = xt_rule_remove(fw, &fw->rules[i].spot, msg,
			    sizeof(msg));
		if (r2 != 0 && r == 0) {
			r = r2;
			fw_snprintf(err, errlen, "cannot remove %s: %s",
			    fw->rules[i].desc, msg);
		}
	}
	nft_view_free(&v);
	return r;
}

static void fw_free(struct firewall *fw)
{
	size_t i;

	for (i = 0; i < fw->n; i++)
		free(fw->rules[i].desc);
	free(fw->rules);
	free(fw);
}

/* ---- the interface ----------------------------------------------------- */

static int open_check(uint16_t port, const char *tag, char *err,
    size_t errlen)
{
	if (port == 0) {
		fw_snprintf(err, errlen, "cannot open port 0: not a port");
		return FW_ERR_INVALID;
	}
	if (tag == NULL || !tag_valid(tag)) {
		fw_snprintf(err, errlen, "cannot open port %u: bad tag (want "
		    "1 to %d of A-Z a-z 0-9 -)", port, FIREWALL_TAG_MAX);
		return FW_ERR_INVALID;
	}
	return 0;
}

int firewall_open(uint16_t port, const char *tag, struct firewall **out,
    char *err, size_t errlen)
{
	struct firewall *fw = NULL;
	struct spots s = { NULL, 0 };
	char msg[MSG_MAX], undo[MSG_MAX];
	size_t i;
	int r;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if ((r = open_check(port, tag, err, errlen)) != 0)
		return r;
	fw = xcalloc(1, sizeof(*fw));
	fw->port = port;
	snprintf(fw->tag, sizeof(fw->tag), "%s", tag);
	tools_find(&fw->tools);
	if ((r = plan(&fw->tools, &s, msg, sizeof(msg))) != 0)
		goto out;
	for (i = 0; i < s.n; i++)
		if ((r = rule_add(fw, &s.v[i], msg, sizeof(msg))) != 0)
			goto out;
	*out = fw;
	fw = NULL;
	r = 0;
out:
	if (r != 0 && fw != NULL && rules_remove(fw, undo, sizeof(undo)) != 0)
		fw_snprintf(err, errlen, "cannot open port %u: %s (and then "
		    "%s)", port, msg, undo);
	else if (r != 0)
		fw_snprintf(err, errlen, "cannot open port %u: %s", port, msg);
	if (fw != NULL)
		fw_free(fw);
	free(s.v);
	return r;
}

size_t firewall_count(const struct firewall *fw)
{
	return fw != NULL ? fw->n : 0;
}

const char *firewall_rule(const struct firewall *fw, size_t i)
{
	return fw != NULL && i < fw->n ? fw->rules[i].desc : NULL;
}

int firewall_close(struct firewall *fw, char *err, size_t errlen)
{
	int r;

	if (errlen > 0)
		err[0] = '\0';
	if (fw == NULL)
		return 0;
	r = rules_remove(fw, err, errlen);
	fw_free(fw);
	return r;
}

/* ---- sweep and list ---------------------------------------------------- */

/* Keeps the first failure. */
static void walk_note(struct walk *w, int r, const char *msg)
{
	if (r == 0 || w->r != 0)
		return;
	w->r = r;
	fw_snprintf(w->err, w->errlen, "%s", msg);
}

/* Whether to delete a tagged rule (listing never does). */
static int walk_visit(struct walk *w, const char *tag, const char *desc)
{
	if (w->cb != NULL) {
		w->cb(tag, desc, w->arg);
		return 0;
	}
	if ((strcmp(tag, FIREWALL_AGENT_TAG) == 0) != w->agent)
		return 0;
	return w->keep == NULL || !w->keep(tag, w->arg);
}

/* One "-A CHAIN ..." line of save output: ours? delete it with -D. */
static void walk_xt_rule(const struct tools *t, int xt, const char *table,
    const char *line, struct walk *w)
{
	char *copy = xstrdup(line), **words, *desc = NULL;
	char tag[FIREWALL_TAG_MAX + 1], msg[MSG_MAX];
	size_t n, k, i;
	struct cmd c;
	int r;

	words = xcalloc(strlen(copy) / 2 + 2, sizeof(*words));
	n = xt_split(copy, words);
	for (k = 2; k + 1 < n; k++)
		if (strcmp(words[k], "--comment") == 0 &&
		    tag_from_comment(words[k + 1], strlen(words[k + 1]), tag))
			break;
	if (k + 1 >= n)
		goto out;
	desc = xasprintf("%s -t %s %s", xt_info[xt].name, table, line);
	if (!walk_visit(w, tag, desc))
		goto out;
	cmd_init(&c, t->bin[xt]);
	cmd_addl(&c, "-w", "-t", table, "-D", words[1], NULL);
	for (i = 2; i < n; i++)
		cmd_add(&c, words[i]);
	if ((r = cmd_run(&c, msg, sizeof(msg))) == 0)
		w->removed++;
	walk_note(w, r, msg);
	cmd_free(&c);
out:
	free(desc);
	free(words);
	free(copy);
}

static void walk_xt(const struct tools *t, int xt, struct walk *w)
{
	char msg[MSG_MAX], table[64] = "", *s, *line;
	struct cmd c;
	int r;

	if (t->bin[xt][0] == '\0')
		return;
	cmd_init(&c, t->save[xt]);
	r = cmd_run(&c, msg, sizeof(msg));
	if (r != 0 && !(r == FW_ERR_SYSTEM && nft_unsupported(&c)))
		walk_note(w, r, msg);
	for (s = r == 0 ? c.out.p : NULL; (line = next_line(&s)) != NULL;) {
		if (line[0] == '*')
			snprintf(table, sizeof(table), "%s", line + 1);
		else if (strncmp(line, "-A ", 3) == 0 &&
		    strstr(line, "--comment") != NULL)
			walk_xt_rule(t, xt, table, line, w);
	}
	cmd_free(&c);
}

static void walk_nft(const struct tools *t, const struct nft_view *v,
    struct walk *w)
{
	const struct nft_chain *ch;
	const struct nft_rule *nr;
	char msg[MSG_MAX], *desc;
	size_t i;
	int r;

	for (i = 0; i < v->nrules; i++) {
		nr = &v->rules[i];
		ch = &v->chains[nr->chain];
		if (nft_managed(v, ch))
			continue;	/* iptables-nft's: see walk_xt */
		desc = xasprintf("nft %s %s %s %s", ch->family, ch->table,
		    ch->name, nr->text);
		if (walk_visit(w, nr->tag, desc)) {
			r = nft_delete(t->nft, ch, nr->handle, msg,
			    sizeof(msg));
			if (r == 0)
				w->removed++;
			walk_note(w, r, msg);
		}
		free(desc);
	}
}

static int walk_all(struct walk *w)
{
	struct nft_view v;
	struct tools t;
	char msg[MSG_MAX];
	int r, i;

	if (w->errlen > 0)
		w->err[0] = '\0';
	tools_find(&t);
	for (i = XT_LEGACY4; i <= XT_LEGACY6; i++)
		if (legacy_has(i, NULL))
			walk_xt(&t, i, w);
	memset(&v, 0, sizeof(v));
	r = nft_load(&t, &v, msg, sizeof(msg));
	walk_note(w, r, msg);
	if (r == 0 && !v.absent)
		walk_nft(&t, &v, w);
	for (i = XT_NFT4; i <= XT_NFT6; i++)
		if (r != 0 || v.absent ||
		    nft_has_managed(&v, i == XT_NFT4 ? "ip" : "ip6"))
			walk_xt(&t, i, w);
	nft_view_free(&v);
	return w->r;
}

static int sweep(int agent, int (*keep)(const char *tag, void *arg),
    void *arg, size_t *removed, char *err, size_t errlen)
{
	struct walk w;
	int r;

	memset(&w, 0, sizeof(w));
	w.agent = agent;
	w.keep = keep;
	w.arg = arg;
	w.err = err;
	w.errlen = errlen;
	r = walk_all(&w);
	*removed = w.removed;
	return r;
}

int firewall_sweep(int (*keep)(const char *tag, void *arg), void *arg,
    size_t *removed, char *err, size_t errlen)
{
	return sweep(0, keep, arg, removed, err, errlen);
}

int firewall_sweep_agent(size_t *removed, char *err, size_t errlen)
{
	return sweep(1, NULL, NULL, removed, err, errlen);
}

int firewall_list(void (*cb)(const char *tag, const char *desc, void *arg),
    void *arg, char *err, size_t errlen)
{
	struct walk w;

	memset(&w, 0, sizeof(w));
	w.cb = cb;
	w.arg = arg;
	w.err = err;
	w.errlen = errlen;
	return walk_all(&w);
}
