/*
 * Inventory parsing. INI inventories and plain "host[:port]" lists are one
 * grammar: lines before any section header are host lines of no group.
 *
 * A host's name is its pattern as written ("node1", "node1:2222",
 * "[2001:db8::5]:22"); a host named twice is kept once, at its first
 * position, and later lines add groups and variables (later values win).
 *
 * Variable precedence, highest first:
 *   1. host variables (on the host line);
 *   2. for the port only: a port in the pattern ("node1:2222");
 *   3. variables of the host's groups, nearest group first: a group the
 *      host is listed in directly beats a group that contains that group
 *      through [x:children], and so on up. Between groups at the same
 *      distance the one whose name sorts last wins (as Ansible does);
 *   4. [all:vars];
 *   5. the caller's default port.
 */
#include "nodes.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "err.h"
#include "util.h"

#define NODES_FILE_MAX	(16 * 1024 * 1024)
#define NODES_NONE	SIZE_MAX
#define NODES_MSG_MAX	768

struct inv_var {
	char *key;		/* canonical spelling, see var_canonical() */
	char *val;
};

struct inv_vars {
	struct inv_var *v;
	size_t n;
};

struct inv_group {
	char *name;
	struct inv_vars vars;
	size_t *children;	/* indices into inv.g */
	size_t nchildren;
	size_t *parents;	/* filled in by inv_link_parents() */
	size_t nparents;
};

struct inv_host {
	char *name;		/* the pattern as written */
	struct fw_addr addr;	/* the pattern parsed; port 0 when absent */
	size_t line;		/* where it first appeared */
	struct inv_vars vars;
	size_t *groups;		/* groups it is listed in directly */
	size_t ngroups;
};

/* Open-addressing map from a name (owned elsewhere) to an index. */
struct inv_slot {
	const char *name;
	size_t idx;
};

struct inv_index {
	struct inv_slot *s;
	size_t cap;		/* a power of two, or 0 */
	size_t n;
};

enum inv_section { SECT_HOSTS, SECT_VARS, SECT_CHILDREN };

struct inv {
	const char *src;
	size_t line;
	enum inv_section sect;
	size_t group;		/* the current section's group or NODES_NONE */
	struct inv_host *h;
	size_t nh, caph;
	struct inv_group *g;
	size_t ng, capg;
	struct inv_index hidx, gidx;
	char *err;
	size_t errlen;
};

static int inv_fail(struct inv *inv, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Fills err with "src:line: message" and returns FW_ERR_PARSE. */
static int inv_fail(struct inv *inv, const char *fmt, ...)
{
	char msg[NODES_MSG_MAX];
	va_list ap;

	if (inv->err == NULL || inv->errlen == 0)
		return FW_ERR_PARSE;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A truncated message still names the file, line and problem. */
	(void)fw_snprintf(inv->err, inv->errlen, "%s:%zu: %s", inv->src,
	    inv->line, msg);
	return FW_ERR_PARSE;
}

static int nodes_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' ||
	    c == '\v';
}

static char *nodes_skip_space(char *p)
{
	while (nodes_is_space(*p))
		p++;
	return p;
}

/* --- name index ---------------------------------------------------------- */

static size_t index_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return (size_t)h;
}

static size_t index_get(const struct inv_index *ix, const char *name)
{
	size_t i, mask = ix->cap - 1;

	if (ix->cap == 0)
		return NODES_NONE;
	for (i = index_hash(name) & mask; ix->s[i].name != NULL;
	    i = (i + 1) & mask)
		if (strcmp(ix->s[i].name, name) == 0)
			return ix->s[i].idx;
	return NODES_NONE;
}

static void index_insert(struct inv_slot *s, size_t cap, const char *name,
    size_t idx)
{
	size_t i, mask = cap - 1;

	for (i = index_hash(name) & mask; s[i].name != NULL; i = (i + 1) & mask)
		;
	s[i].name = name;
	s[i].idx = idx;
}

/* Adds name (which must not be present yet); keeps the load under 1/2. */
static void index_put(struct inv_index *ix, const char *name, size_t idx)
{
	struct inv_slot *s;
	size_t cap, i;

	if ((ix->n + 1) * 2 > ix->cap) {
		cap = ix->cap != 0 ? ix->cap * 2 : 64;
		s = xcalloc(cap, sizeof(*s));
		for (i = 0; i < ix->cap; i++)
			if (ix->s[i].name != NULL)
				index_insert(s, cap, ix->s[i].name,
				    ix->s[i].idx);
		free(ix->s);
		ix->s = s;
		ix->cap = cap;
	}
	index_insert(ix->s, ix->cap, name, idx);
	ix->n++;
}

static void index_free(struct inv_index *ix)
{
	free(ix->s);
	memset(ix, 0, sizeof(*ix));
}

/* --- variables ----------------------------------------------------------- */

/* Old Ansible spellings map to the current ones. */
static const char *var_canonical(const char *key)
{
	static const char *const alias[][2] = {
		{ "ansible_ssh_host", "ansible_host" },
		{ "ansible_ssh_port", "ansible_port" },
		{ "ansible_ssh_user", "ansible_user" },
		{ "ansible_private_key_file", "ansible_ssh_private_key_file" },
	};
	size_t i;

	for (i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
		if (strcmp(key, alias[i][0]) == 0)
			return alias[i][1];
	return key;
}

static const char *vars_get(const struct inv_vars *vs, const char *key)
{
	size_t i;

	for (i = 0; i < vs->n; i++)
		if (strcmp(vs->v[i].key, key) == 0)
			return vs->v[i].val;
	return NULL;
}

/* Sets key (canonicalised) to val, replacing an earlier value. */
static void vars_set(struct inv_vars *vs, const char *key, const char *val)
{
	const char *k = var_canonical(key);
	size_t i;

	for (i = 0; i < vs->n; i++) {
		if (strcmp(vs->v[i].key, k) == 0) {
			free(vs->v[i].val);
			vs->v[i].val = xstrdup(val);
			return;
		}
	}
	vs->v = xrealloc(vs->v, vs->n + 1, sizeof(*vs->v));
	vs->v[vs->n].key = xstrdup(k);
	vs->v[vs->n].val = xstrdup(val);
	vs->n++;
}

static void vars_free(struct inv_vars *vs)
{
	size_t i;

	for (i = 0; i < vs->n; i++) {
		free(vs->v[i].key);
		free(vs->v[i].val);
	}
	free(vs->v);
	vs->v = NULL;
	vs->n = 0;
}

static int var_name_ok(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
	    *s == '_'))
		return 0;
	for (s++; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* Parses an ansible_host value: an address without a port. */
static int var_parse_host(const char *val, struct fw_addr *a, char *err,
    size_t errlen)
{
	int r;

	if ((r = addr_parse(val, 0, a, err, errlen)) != 0)
		return r;
	if (a->port != 0) {
		(void)fw_snprintf(err, errlen, "'%s' includes a port; "
		    "use ansible_port", val);
		return FW_ERR_INVALID;
	}
	return 0;
}

/* Checks the variables we use where they are written, for the line. */
static int inv_check_var(struct inv *inv, const char *key, const char *val)
{
	const char *k = var_canonical(key);
	char aerr[NODES_MSG_MAX / 2];
	struct fw_addr a;
	long port;

	if (strcmp(k, "ansible_port") == 0 &&
	    fw_parse_long(val, 1, 65535, &port) != 0)
		return inv_fail(inv, "bad port '%s' in %s (expected 1-65535)",
		    val, key);
	if (strcmp(k, "ansible_host") == 0 &&
	    var_parse_host(val, &a, aerr, sizeof(aerr)) != 0)
		return inv_fail(inv, "bad address in %s: %s", key, aerr);
	return 0;
}

/*
 * Splits "key=value" in tok (value possibly quoted with ' or ", no
 * escapes) and checks both; *key and *val point into tok.
 */
static int inv_split_kv(struct inv *inv, char *tok, char **key, char **val)
{
	char *eq = strchr(tok, '='), *v, q;
	size_t len;

	*key = *val = NULL;
	if (eq == NULL || eq == tok)
		return inv_fail(inv, "bad key=value '%s'", tok);
	*eq = '\0';
	v = eq + 1;
	if (!var_name_ok(tok))
		return inv_fail(inv, "bad variable name '%s'", tok);
	len = strlen(v);
	q = v[0];
	if ((q == '\'' || q == '"') && len >= 2 && strchr(v + 1, q) ==
	    v + len - 1) {
		v[len - 1] = '\0';
		v++;
	} else if (strchr(v, '\'') != NULL || strchr(v, '"') != NULL) {
		return inv_fail(inv, "quotes must enclose the whole value of "
		    "'%s'", tok);
	}
	*key = tok;
	*val = v;
	return 0;
}

/* --- groups and hosts ---------------------------------------------------- */

static int group_name_ok(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
		    *s == '.'))
			return 0;
	return 1;
}

/* Returns the index of group name, creating it on first mention. */
static size_t inv_group_get(struct inv *inv, const char *name)
{
	size_t i = index_get(&inv->gidx, name);

	if (i != NODES_NONE)
		return i;
	if (inv->ng == inv->capg) {
		inv->capg = inv->capg != 0 ? inv->capg * 2 : 8;
		inv->g = xrealloc(inv->g, inv->capg, sizeof(*inv->g));
	}
	i = inv->ng++;
	memset(&inv->g[i], 0, sizeof(inv->g[i]));
	inv->g[i].name = xstrdup(name);
	index_put(&inv->gidx, inv->g[i].name, i);
	return i;
}

/* Returns the index of the host with this pattern, adding it if new. */
static size_t inv_host_get(struct inv *inv, const char *pattern,
    const struct fw_addr *a)
{
	size_t i = index_get(&inv->hidx, pattern);

	if (i != NODES_NONE)
		return i;
	if (inv->nh == inv->caph) {
		inv->caph = inv->caph != 0 ? inv->caph * 2 : 16;
		inv->h = xrealloc(inv->h, inv->caph, sizeof(*inv->h));
	}
	i = inv->nh++;
	memset(&inv->h[i], 0, sizeof(inv->h[i]));
	inv->h[i].name = xstrdup(pattern);
	inv->h[i].addr = *a;
	inv->h[i].line = inv->line;
	index_put(&inv->hidx, inv->h[i].name, i);
	return i;
}

static void idx_add_unique(size_t **v, size_t *n, size_t x)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if ((*v)[i] == x)
			return;
	*v = xrealloc(*v, *n + 1, sizeof(**v));
	(*v)[(*n)++] = x;
}

static void inv_free(struct inv *inv)
{
	size_t i;

	for (i = 0; i < inv->nh; i++) {
		free(inv->h[i].name);
		vars_free(&inv->h[i].vars);
		free(inv->h[i].groups);
	}
	for (i = 0; i < inv->ng; i++) {
		free(inv->g[i].name);
		vars_free(&inv->g[i].vars);
		free(inv->g[i].children);
		free(inv->g[i].parents);
	}
	free(inv->h);
	free(inv->g);
	index_free(&inv->hidx);
	index_free(&inv->gidx);
}

/* --- lines --------------------------------------------------------------- */

/*
 * Next white-space separated token in *pp, NUL-terminated in place, with
 * quoted stretches kept whole; *tok is NULL at the end or at a '#'.
 */
static int inv_next_token(struct inv *inv, char **pp, char **tok)
{
	char *p = nodes_skip_space(*pp), *start = p, *q;

	*tok = NULL;
	if (*p == '\0' || *p == '#') {
		*pp = p;
		return 0;
	}
	while (*p != '\0' && !nodes_is_space(*p)) {
		if (*p == '\'' || *p == '"') {
			if ((q = strchr(p + 1, *p)) == NULL)
				return inv_fail(inv, "unterminated %c quote "
				    "in '%s'", *p, start);
			p = q;
		}
		p++;
	}
	if (*p != '\0')
		*p++ = '\0';
	*pp = p;
	*tok = start;
	return 0;
}

/*
 * A line starting with '[' is a host when the bracket holds an IPv6
 * address ("[2001:db8::5]:22", "[fe80::1%eth0]"); group names never do.
 */
static int inv_is_v6_host(const char *p)
{
	char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
	const char *close = strchr(p, ']');
	struct in6_addr a6;
	size_t len;
	char *pct;

	if (close == NULL || (len = (size_t)(close - p - 1)) >= sizeof(buf))
		return 0;
	memcpy(buf, p + 1, len);
	buf[len] = '\0';
	if ((pct = strchr(buf, '%')) != NULL)
		*pct = '\0';
	return inet_pton(AF_INET6, buf, &a6) == 1;
}

static int inv_parse_section(struct inv *inv, char *p)
{
	char *close = strchr(p, ']'), *name = p + 1, *colon, *rest;
	enum inv_section sect = SECT_HOSTS;
	int hlen, ok = 1;

	if (close == NULL)
		return inv_fail(inv, "unknown section syntax '%s' (missing "
		    "']')", p);
	hlen = (int)(close - p + 1);
	rest = nodes_skip_space(close + 1);
	if (*rest != '\0' && *rest != '#' && *rest != ';')
		return inv_fail(inv, "unknown section syntax '%s' (text after "
		    "']')", p);
	*close = '\0';
	if ((colon = strchr(name, ':')) != NULL) {
		if (strcmp(colon + 1, "vars") == 0)
			sect = SECT_VARS;
		else if (strcmp(colon + 1, "children") == 0)
			sect = SECT_CHILDREN;
		else
			ok = 0;
		*colon = '\0';
	}
	if (!ok || !group_name_ok(name)) {
		if (colon != NULL)
			*colon = ':';
		*close = ']';
		return inv_fail(inv, "unknown section syntax '%.*s' (expected "
		    "[group], [group:vars] or [group:children])", hlen, p);
	}
	inv->group = inv_group_get(inv, name);
	inv->sect = sect;
	return 0;
}

/* "pattern [key=value ...]" in a host section (or before any section). */
static int inv_parse_host_line(struct inv *inv, char *p)
{
	char aerr[NODES_MSG_MAX / 2], *pat, *tok, *key, *val;
	struct fw_addr a;
	size_t h;
	int r;

	if ((r = inv_next_token(inv, &p, &pat)) != 0 || pat == NULL)
		return r;
	if (strchr(pat, '=') != NULL)
		return inv_fail(inv, "expected a host, got '%s' (variables go "
		    "after the host or in a [group:vars] section)", pat);
	if (strchr(pat + 1, '[') != NULL)
		return inv_fail(inv, "host ranges like '%s' are not supported; "
		    "list the hosts", pat);
	if (addr_parse(pat, 0, &a, aerr, sizeof(aerr)) != 0)
		return inv_fail(inv, "bad address: %s", aerr);
	h = inv_host_get(inv, pat, &a);
	if (inv->group != NODES_NONE)
		idx_add_unique(&inv->h[h].groups, &inv->h[h].ngroups,
		    inv->group);
	while ((r = inv_next_token(inv, &p, &tok)) == 0 && tok != NULL) {
		if ((r = inv_split_kv(inv, tok, &key, &val)) != 0 ||
		    (r = inv_check_var(inv, key, val)) != 0)
			return r;
		vars_set(&inv->h[h].vars, key, val);
	}
	return r;
}

/*
 * "key=value" in a [group:vars] section. The value is the rest of the
 * line: spaces are kept, a '#' after white space starts a comment, and
 * quotes around the whole value are removed.
 */
static int inv_parse_var_line(struct inv *inv, char *p)
{
	char *eq = strchr(p, '='), *key = p, *val, *end, q;

	if (eq == NULL)
		return inv_fail(inv, "bad key=value '%s' in [%s:vars]", p,
		    inv->g[inv->group].name);
	*eq = '\0';
	fw_rtrim(key);
	if (!var_name_ok(key))
		return inv_fail(inv, "bad variable name '%s'", key);
	val = nodes_skip_space(eq + 1);
	if (*val == '\'' || *val == '"') {
		q = *val++;
		if ((end = strchr(val, q)) == NULL)
			return inv_fail(inv, "unterminated %c quote in value "
			    "of '%s'", q, key);
		*end++ = '\0';
		end = nodes_skip_space(end);
		if (*end != '\0' && *end != '#')
			return inv_fail(inv, "unexpected text after the quoted "
			    "value of '%s'", key);
	} else {
		for (end = val; *end != '\0'; end++) {
			if (*end == '#' && end > val &&
			    nodes_is_space(end[-1])) {
				*end = '\0';
				break;
			}
		}
		fw_rtrim(val);
		if (strchr(val, '\'') != NULL || strchr(val, '"') != NULL)
			return inv_fail(inv, "quotes must enclose the whole "
			    "value of '%s'", key);
	}
	if (inv_check_var(inv, key, val) != 0)
		return FW_ERR_PARSE;
	vars_set(&inv->g[inv->group].vars, key, val);
	return 0;
}

/* One group name in a [group:children] section. */
static int inv_parse_child_line(struct inv *inv, char *p)
{
	char *name, *extra;
	size_t child;
	int r;

	if ((r = inv_next_token(inv, &p, &name)) != 0 || name == NULL)
		return r;
	if ((r = inv_next_token(inv, &p, &extra)) != 0)
		return r;
	if (extra != NULL)
		return inv_fail(inv, "expected one group name per line in "
		    "[%s:children], got '%s'", inv->g[inv->group].name, extra);
	if (!group_name_ok(name))
		return inv_fail(inv, "bad group name '%s'", name);
	child = inv_group_get(inv, name);
	if (child == inv->group)
		return inv_fail(inv, "group '%s' cannot be its own child",
		    name);
	idx_add_unique(&inv->g[inv->group].children,
	    &inv->g[inv->group].nchildren, child);
	return 0;
}

static int inv_parse_line(struct inv *inv, char *line)
{
	char *p = nodes_skip_space(line);

	if (*p == '\0' || *p == '#' || *p == ';')
		return 0;
	if (*p == '[' && !inv_is_v6_host(p))
		return inv_parse_section(inv, p);
	switch (inv->sect) {
	case SECT_VARS:
		return inv_parse_var_line(inv, p);
	case SECT_CHILDREN:
		return inv_parse_child_line(inv, p);
	case SECT_HOSTS:
		break;
	}
	return inv_parse_host_line(inv, p);
}

/* --- resolving hosts into node specs ------------------------------------- */

struct inv_walk {
	size_t *dist;		/* per group; NODES_NONE if not reached */
	size_t *reached;	/* groups reached for the current host */
	size_t nreached;
	size_t all;		/* the "all" group or NODES_NONE */
};

static void inv_link_parents(struct inv *inv)
{
	size_t i, j, c;

	for (i = 0; i < inv->ng; i++) {
		for (j = 0; j < inv->g[i].nchildren; j++) {
			c = inv->g[i].children[j];
			idx_add_unique(&inv->g[c].parents, &inv->g[c].nparents,
			    i);
		}
	}
}

static void walk_reach(struct inv_walk *w, size_t g, size_t d)
{
	if (g == w->all || w->dist[g] != NODES_NONE)
		return;
	w->dist[g] = d;
	w->reached[w->nreached++] = g;
}

/*
 * Breadth first from the host's groups up through parents, so each group
 * gets its shortest distance; cycles in [x:children] are harmless.
 */
static void walk_host(const struct inv *inv, const struct inv_host *h,
    struct inv_walk *w)
{
	const struct inv_group *g;
	size_t i, j;

	for (i = 0; i < w->nreached; i++)
		w->dist[w->reached[i]] = NODES_NONE;
	w->nreached = 0;
	for (i = 0; i < h->ngroups; i++)
		walk_reach(w, h->groups[i], 0);
	for (i = 0; i < w->nreached; i++) {
		g = &inv->g[w->reached[i]];
		for (j = 0; j < g->nparents; j++)
			walk_reach(w, g->parents[j], w->dist[w->reached[i]] + 1);
	}
}

/* The value of key from the host's groups (not its own variables). */
static const char *walk_lookup(const struct inv *inv,
    const struct inv_walk *w, const char *key)
{
	const char *best = NULL, *v;
	size_t i, g, bg = NODES_NONE;

	for (i = 0; i < w->nreached; i++) {
		g = w->reached[i];
		if ((v = vars_get(&inv->g[g].vars, key)) == NULL)
			continue;
		if (best == NULL || w->dist[g] < w->dist[bg] ||
		    (w->dist[g] == w->dist[bg] &&
		    strcmp(inv->g[g].name, inv->g[bg].name) > 0)) {
			best = v;
			bg = g;
		}
	}
	if (best == NULL && w->all != NODES_NONE)
		best = vars_get(&inv->g[w->all].vars, key);
	return best;
}

static const char *host_lookup(const struct inv *inv, const struct inv_host *h,
    const struct inv_walk *w, const char *key)
{
	const char *v = vars_get(&h->vars, key);

	return v != NULL ? v : walk_lookup(inv, w, key);
}

/* Expands a leading "~/" (or a lone "~") with $HOME into *out. */
static int nodes_expand_home(const char *path, char **out)
{
	const char *home = getenv("HOME");
	size_t hlen;

	*out = NULL;
	if (strcmp(path, "~") != 0 && strncmp(path, "~/", 2) != 0) {
		*out = xstrdup(path);
		return 0;
	}
	if (home == NULL || *home == '\0')
		return FW_ERR_NOT_FOUND;
	hlen = strlen(home);
	while (hlen > 1 && home[hlen - 1] == '/')
		hlen--;
	*out = xasprintf("%.*s%s", (int)hlen, home, path + 1);
	return 0;
}

static int inv_port(const struct inv *inv, const struct inv_host *h,
    const struct inv_walk *w, uint16_t default_port, uint16_t *port)
{
	const char *v;
	long n;

	*port = default_port;
	if ((v = vars_get(&h->vars, "ansible_port")) == NULL) {
		if (h->addr.port != 0) {
			*port = h->addr.port;
			return 0;
		}
		v = walk_lookup(inv, w, "ansible_port");
	}
	if (v == NULL)
		return 0;
	if (fw_parse_long(v, 1, 65535, &n) != 0)
		return FW_ERR_INVALID;	/* checked when read; not reached */
	*port = (uint16_t)n;
	return 0;
}

static int inv_make_spec(struct inv *inv, const struct inv_host *h,
    const struct inv_walk *w, uint16_t default_port, struct node_spec *spec)
{
	char aerr[NODES_MSG_MAX / 2];
	const char *v;
	uint16_t port;

	memset(spec, 0, sizeof(*spec));
	inv->line = h->line;
	spec->name = xstrdup(h->name);
	spec->addr = h->addr;
	if (inv_port(inv, h, w, default_port, &port) != 0)
		return inv_fail(inv, "bad ansible_port for '%s'", h->name);
	if ((v = host_lookup(inv, h, w, "ansible_host")) != NULL &&
	    *v != '\0' && var_parse_host(v, &spec->addr, aerr,
	    sizeof(aerr)) != 0)
		return inv_fail(inv, "bad ansible_host for '%s': %s", h->name,
		    aerr);
	spec->addr.port = port;
	if ((v = host_lookup(inv, h, w, "ansible_user")) != NULL && *v != '\0')
		spec->user = xstrdup(v);
	v = host_lookup(inv, h, w, "ansible_ssh_private_key_file");
	if (v != NULL && *v != '\0' &&
	    nodes_expand_home(v, &spec->key_file) != 0)
		return inv_fail(inv, "cannot expand '%s' for '%s': HOME is not "
		    "set", v, h->name);
	return 0;
}

static int inv_resolve(struct inv *inv, uint16_t default_port,
    struct node_list *out)
{
	struct inv_walk w;
	size_t i;
	int r = FW_ERR_INTERNAL;

	memset(&w, 0, sizeof(w));
	out->v = NULL;
	out->n = 0;
	inv_link_parents(inv);
	w.dist = xcalloc(inv->ng, sizeof(*w.dist));
	w.reached = xcalloc(inv->ng, sizeof(*w.reached));
	for (i = 0; i < inv->ng; i++)
		w.dist[i] = NODES_NONE;
	w.all = index_get(&inv->gidx, "all");
	if (inv->nh > 0)
		out->v = xcalloc(inv->nh, sizeof(*out->v));
	for (i = 0; i < inv->nh; i++) {
		walk_host(inv, &inv->h[i], &w);
		/* Counted first so nodes_free() sees a half-built entry. */
		out->n++;
		if ((r = inv_make_spec(inv, &inv->h[i], &w, default_port,
		    &out->v[i])) != 0)
			goto out;
	}
	r = 0;
out:
	free(w.dist);
	free(w.reached);
	return r;
}

/* Moves every entry of from to the end of list. */
static void nodes_append(struct node_list *list, struct node_list *from)
{
	if (from->n == 0)
		return;
	list->v = xrealloc(list->v, list->n + from->n, sizeof(*list->v));
	memcpy(list->v + list->n, from->v, from->n * sizeof(*from->v));
	list->n += from->n;
	free(from->v);
	from->v = NULL;
	from->n = 0;
}

/* --- public -------------------------------------------------------------- */

int nodes_parse_text(const char *name, const char *text, uint16_t default_port,
    struct node_list *list, char *err, size_t errlen)
{
	struct node_list tmp = { NULL, 0 };
	const char *p, *nl;
	struct inv inv;
	char *line = NULL;
	size_t len;
	int r = FW_ERR_INTERNAL;

	memset(&inv, 0, sizeof(inv));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	inv.src = name != NULL ? name : "<inventory>";
	inv.group = NODES_NONE;
	inv.err = err;
	inv.errlen = errlen;
	if (text == NULL || list == NULL) {
		r = FW_ERR_INVALID;
		goto out;
	}
	p = text;
	if (strncmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;		/* a UTF-8 byte order mark from an editor */
	while (*p != '\0') {
		inv.line++;
		nl = strchr(p, '\n');
		len = nl != NULL ? (size_t)(nl - p) : strlen(p);
		line = xmalloc(len + 1);
		memcpy(line, p, len);
		line[len] = '\0';
		fw_rtrim(line);
		if ((r = inv_parse_line(&inv, line)) != 0)
			goto out;
		free(line);
		line = NULL;
		p += len;
		if (*p == '\n')
			p++;
	}
	if ((r = inv_resolve(&inv, default_port, &tmp)) != 0)
		goto out;
	nodes_append(list, &tmp);
	r = 0;
out:
	free(line);
	nodes_free(&tmp);
	inv_free(&inv);
	return r;
}

int nodes_parse_file(const char *path, uint16_t default_port,
    struct node_list *list, char *err, size_t errlen)
{
	char *text = NULL;
	const char *p;
	size_t len = 0, nul, line = 1;
	int r = FW_ERR_INTERNAL;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((r = fw_read_file(path, NODES_FILE_MAX, &text, &len)) != 0) {
		if (r == FW_ERR_SYSTEM) {
			(void)fw_snprintf(err, errlen, "%s: %s", path,
			    strerror(errno));
		} else {
			(void)fw_snprintf(err, errlen, "%s: larger than %d "
			    "MiB", path, NODES_FILE_MAX / (1024 * 1024));
			r = FW_ERR_PARSE;
		}
		goto out;
	}
	if ((nul = strlen(text)) != len) {
		for (p = text; p < text + nul; p++)
			if (*p == '\n')
				line++;
		(void)fw_snprintf(err, errlen, "%s:%zu: NUL byte in the "
		    "inventory", path, line);
		r = FW_ERR_PARSE;
		goto out;
	}
	r = nodes_parse_text(path, text, default_port, list, err, errlen);
out:
	free(text);
	return r;
}

int nodes_parse_targets(const char *csv, uint16_t default_port,
    struct node_list *list, char *err, size_t errlen)
{
	struct node_list tmp = { NULL, 0 };
	struct inv_index seen = { NULL, 0, 0 };
	char aerr[NODES_MSG_MAX / 2], *copy = NULL, *item, *next, *end;
	struct fw_addr a;
	int r = FW_ERR_INTERNAL;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (csv == NULL || list == NULL) {
		r = FW_ERR_INVALID;
		goto out;
	}
	copy = xstrdup(csv);
	for (item = copy; item != NULL; item = next) {
		if ((next = strchr(item, ',')) != NULL)
			*next++ = '\0';
		item = nodes_skip_space(item);
		end = item + strlen(item);
		while (end > item && nodes_is_space(end[-1]))
			*--end = '\0';
		if (*item == '\0') {
			(void)fw_snprintf(err, errlen, "empty target in '%s'",
			    csv);
			r = FW_ERR_PARSE;
			goto out;
		}
		if (addr_parse(item, default_port, &a, aerr,
		    sizeof(aerr)) != 0) {
			(void)fw_snprintf(err, errlen, "bad target: %s", aerr);
			r = FW_ERR_PARSE;
			goto out;
		}
		if (index_get(&seen, item) != NODES_NONE)
			continue;
		tmp.v = xrealloc(tmp.v, tmp.n + 1, sizeof(*tmp.v));
		memset(&tmp.v[tmp.n], 0, sizeof(tmp.v[tmp.n]));
		tmp.v[tmp.n].name = xstrdup(item);
		tmp.v[tmp.n].addr = a;
		index_put(&seen, tmp.v[tmp.n].name, tmp.n);
		tmp.n++;
	}
	nodes_append(list, &tmp);
	r = 0;
out:
	index_free(&seen);
	nodes_free(&tmp);
	free(copy);
	return r;
}

void nodes_free(struct node_list *list)
{
	size_t i;

	if (list == NULL)
		return;
	for (i = 0; i < list->n; i++) {
		free(list->v[i].name);
		free(list->v[i].user);
		free(list->v[i].key_file);
	}
	free(list->v);
	list->v = NULL;
	list->n = 0;
}
