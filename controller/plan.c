#include "plan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "util.h"
#include "version.h"

#define MAX_SHOWN	128	/* bytes of a node's string we keep */

/* What the applies_to matchers found on the node. */
struct found {
	char **devs;		/* device names, no duplicates */
	size_t n_devs;
	char **values;		/* raw installed-version field values */
	size_t n_values;
};

enum id_state { ST_NONE, ST_INSTALL, ST_SKIP };

/* Everything the planner knows about one component id on this node. */
struct idst {
	const char *id;
	size_t first, count;		/* its versions in the repo */
	int selected;			/* passes --component / --kind */
	const struct repo_component *newest;
	const struct repo_component *target;	/* newest that applies */
	char *na_reason;		/* why none applies */
	int known;			/* installed version known */
	char *installed;
	struct found found;		/* of the target */
	enum id_state state;
	char *reason;			/* skip reason, or the target's */
	const struct repo_component **chain;	/* stones, then target */
	size_t n_chain;
};

struct planner {
	const Fwfleet__Inventory *inv;
	const struct repo *repo;
	const struct plan_opts *o;
	struct idst *ids;
	size_t n_ids;
	char *applies;			/* per repo component: applies? */
};

void plan_opts_init(struct plan_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->kind = -1;
}

/* A copy of a node's string fit for any output: printable ASCII only. */
static char *clean(const char *s)
{
	size_t n = strlen(s), i;
	char *c;

	n = n > MAX_SHOWN ? MAX_SHOWN : n;
	c = xmalloc(n + 1);
	for (i = 0; i < n; i++)
		c[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	c[n] = '\0';
	return c;
}

static const char *str(const char *s)
{
	return s != NULL ? s : "";
}

/* --- matching --------------------------------------------------------- */

static void found_add(struct found *f, const char *dev, const char *value,
    int want_value)
{
	size_t i;

	for (i = 0; i < f->n_devs; i++) {
		if (strcmp(f->devs[i], dev) == 0)
			return;
	}
	f->devs = xrealloc(f->devs, f->n_devs + 1, sizeof(*f->devs));
	f->devs[f->n_devs++] = clean(dev);
	if (want_value) {
		f->values = xrealloc(f->values, f->n_values + 1,
		    sizeof(*f->values));
		f->values[f->n_values++] = xstrdup(str(value));
	}
}

static void found_clear(struct found *f)
{
	size_t i;

	for (i = 0; i < f->n_devs; i++)
		free(f->devs[i]);
	for (i = 0; i < f->n_values; i++)
		free(f->values[i]);
	free(f->devs);
	free(f->values);
	memset(f, 0, sizeof(*f));
}

static int pci_ids_match(const struct manifest_matcher *mm,
    const Fwfleet__PciDevice *p)
{
	return p->vendor_id == mm->vendor && p->device_id == mm->device &&
	    (!mm->has_subsys || (p->subsystem_vendor_id == mm->sub_vendor &&
	    p->subsystem_device_id == mm->sub_device));
}

/* True if the PCI function at addr matches mm's ids (or mm has none). */
static int on_pci(const struct manifest_matcher *mm,
    const Fwfleet__Inventory *inv, const char *addr)
{
	size_t i;

	if (!mm->has_pci)
		return 1;
	for (i = 0; i < inv->n_pci; i++) {
		if (strcmp(str(inv->pci[i]->address), str(addr)) == 0)
			return pci_ids_match(mm, inv->pci[i]);
	}
	return 0;
}

static int system_match(const struct manifest_matcher *mm,
    const Fwfleet__Inventory *inv)
{
	const Fwfleet__System *s = inv->system;

	if (mm->dmi_product != NULL && (s == NULL ||
	    !manifest_pattern_match(mm->dmi_product, s->product)))
		return 0;
	if (mm->dmi_vendor != NULL && (s == NULL ||
	    !manifest_pattern_match(mm->dmi_vendor, s->vendor)))
		return 0;
	return 1;
}

/*
 * NICs the matcher binds to: by driver (on its PCI function if pci is
 * given), else every NIC on a matching PCI function. Adds them to f.
 */
static size_t match_nics(const struct manifest_matcher *mm,
    const Fwfleet__Inventory *inv, enum manifest_source src, struct found *f)
{
	const Fwfleet__NetInterface *n;
	size_t i, hits = 0;
	int want = src == SRC_NIC_FIRMWARE || src == SRC_NIC_DRIVER;

	for (i = 0; i < inv->n_nics; i++) {
		n = inv->nics[i];
		if ((mm->nic_driver != NULL &&
		    !manifest_pattern_match(mm->nic_driver, n->driver)) ||
		    !on_pci(mm, inv, n->bus_info))
			continue;
		hits++;
		if (want)
			found_add(f, str(n->name), src == SRC_NIC_FIRMWARE ?
			    n->firmware_version : n->driver_version, 1);
	}
	return hits;
}

static size_t match_nvme(const struct manifest_matcher *mm,
    const Fwfleet__Inventory *inv, enum manifest_source src, struct found *f)
{
	const Fwfleet__NvmeController *c;
	size_t i, hits = 0;

	for (i = 0; i < inv->n_nvme; i++) {
		c = inv->nvme[i];
		if ((mm->nvme_model != NULL &&
		    !manifest_pattern_match(mm->nvme_model, c->model)) ||
		    !on_pci(mm, inv, c->pci_address))
			continue;
		hits++;
		if (src == SRC_NVME_FIRMWARE)
			found_add(f, str(c->name), c->firmware_rev, 1);
	}
	return hits;
}

static size_t match_disks(const struct manifest_matcher *mm,
    const Fwfleet__Inventory *inv, enum manifest_source src, struct found *f)
{
	const Fwfleet__BlockDevice *d;
	size_t i, hits = 0;

	for (i = 0; i < inv->n_disks; i++) {
		d = inv->disks[i];
		if (!manifest_pattern_match(mm->disk_model, d->model))
			continue;
		hits++;
		if (src == SRC_DISK_FIRMWARE)
			found_add(f, str(d->name), d->firmware_rev, 1);
	}
	return hits;
}

static size_t match_pci(const struct manifest_matcher *mm,
    const Fwfleet__Inventory *inv, struct found *f)
{
	size_t i, hits = 0;

	for (i = 0; i < inv->n_pci; i++) {
		if (pci_ids_match(mm, inv->pci[i])) {
			hits++;
			found_add(f, str(inv->pci[i]->address), NULL, 0);
		}
	}
	return hits;
}

/*
 * One matcher: every field it gives must match. On a match, the devices
 * the installed version is read from go to f (the PCI functions or the
 * system when the version does not come from a device).
 */
static int matcher_match(const struct manifest_matcher *mm,
    const struct manifest *m, const Fwfleet__Inventory *inv, struct found *f)
{
	struct found tmp = { 0 }, pci = { 0 };
	enum manifest_source src = m->source;
	int ok = 0;
	size_t i;

	if (!system_match(mm, inv) ||
	    (mm->has_pci && match_pci(mm, inv, &pci) == 0) ||
	    (mm->nic_driver != NULL && match_nics(mm, inv, src, &tmp) == 0) ||
	    (mm->nvme_model != NULL && match_nvme(mm, inv, src, &tmp) == 0) ||
	    (mm->disk_model != NULL && match_disks(mm, inv, src, &tmp) == 0))
		goto out;
	/* pci alone: the version is read from the devices on it. */
	if ((src == SRC_NIC_FIRMWARE || src == SRC_NIC_DRIVER) &&
	    mm->nic_driver == NULL)
		match_nics(mm, inv, src, &tmp);
	if (src == SRC_NVME_FIRMWARE && mm->nvme_model == NULL)
		match_nvme(mm, inv, src, &tmp);
	if (src == SRC_BIOS_VERSION)
		found_add(&tmp, "system", inv->system != NULL ?
		    inv->system->bios_version : NULL, 1);
	for (i = 0; i < tmp.n_devs; i++)
		found_add(f, tmp.devs[i], i < tmp.n_values ? tmp.values[i] :
		    NULL, i < tmp.n_values);
	if (tmp.n_devs == 0) {
		for (i = 0; i < pci.n_devs; i++)
			found_add(f, pci.devs[i], NULL, 0);
		if (pci.n_devs == 0)
			found_add(f, "system", NULL, 0);
	}
	ok = 1;
out:
	found_clear(&tmp);
	found_clear(&pci);
	return ok;
}

static int list_has(char **v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(v[i], s) == 0)
			return 1;
	}
	return 0;
}

/* The node's OS family for "linux" / "windows" entries. */
static const char *os_family(const Fwfleet__Os *os)
{
	return strcmp(str(os->id), "windows") == 0 ? "windows" : "linux";
}

/*
 * Does m apply to the node? Fills f with what matched, or *why (a new
 * string) with the reason it does not.
 */
static int applies(const struct manifest *m, const Fwfleet__Inventory *inv,
    struct found *f, char **why)
{
	const Fwfleet__Os *os = inv->os;
	size_t i;
	int any = 0;

	*why = NULL;
	if (os == NULL || (!list_has(m->os, m->n_os, os_family(os)) &&
	    !list_has(m->os, m->n_os, str(os->id)))) {
		*why = os == NULL ? xstrdup("not applicable (OS unknown)") :
		    xasprintf("not applicable (OS %s; the component is for %s)",
		    str(os->id)[0] ? os->id : "?", m->os[0]);
		return 0;
	}
	if (!list_has(m->arch, m->n_arch, "any") &&
	    !list_has(m->arch, m->n_arch, str(os->arch))) {
		*why = xasprintf("not applicable (arch %s; the component is "
		    "for %s)", str(os->arch)[0] ? os->arch : "?", m->arch[0]);
		return 0;
	}
	if (m->applies_all) {
		found_add(f, "system", inv->system != NULL ?
		    inv->system->bios_version : NULL, 1);
		return 1;
	}
	for (i = 0; i < m->n_match; i++)
		any |= matcher_match(&m->match[i], m, inv, f);
	if (!any)
		*why = xstrdup("not applicable (no matching device)");
	return any;
}

/*
 * The installed version from what matched: the oldest of the devices'
 * versions; unknown if any of them has none (or the source is a
 * package, which the inventory does not read yet).
 */
static void installed_version(struct idst *s)
{
	const struct manifest *m = s->target->m;
	char *v, *min = NULL;
	size_t i;

	s->known = 0;
	if (m->source == SRC_PACKAGE || s->found.n_values == 0)
		return;
	for (i = 0; i < s->found.n_values; i++) {
		if ((v = manifest_extract_version(m, s->found.values[i])) ==
		    NULL) {
			free(min);
			return;
		}
		if (min == NULL || version_compare(v, min) < 0) {
			free(min);
			min = v;
		} else {
			free(v);
		}
	}
	s->installed = clean(min);
	s->known = 1;
	free(min);
}

/* --- per id --------------------------------------------------------------- */

static int selected(const struct plan_opts *o, const struct manifest *m)
{
	size_t i;

	if (o->kind >= 0 && (int)m->kind != o->kind)
		return 0;
	if (o->n_components == 0)
		return 1;
	for (i = 0; i < o->n_components; i++) {
		if (strcmp(o->components[i], m->id) == 0)
			return 1;
	}
	return 0;
}

static struct idst *find_id(struct planner *p, const char *id)
{
	size_t i;

	for (i = 0; i < p->n_ids; i++) {
		if (strcmp(p->ids[i].id, id) == 0)
			return &p->ids[i];
	}
	return NULL;
}

/* Groups the repository by id (it is sorted by id, then version). */
static void group_ids(struct planner *p)
{
	const struct repo_component *c;
	size_t i, n = repo_count(p->repo);

	p->ids = xcalloc(n + 1, sizeof(*p->ids));
	p->applies = xcalloc(n + 1, 1);
	for (i = 0; i < n; i++) {
		c = repo_get(p->repo, i);
		if (p->n_ids == 0 ||
		    strcmp(p->ids[p->n_ids - 1].id, c->m->id) != 0) {
			p->ids[p->n_ids].id = c->m->id;
			p->ids[p->n_ids].first = i;
			p->n_ids++;
		}
		p->ids[p->n_ids - 1].count++;
		p->ids[p->n_ids - 1].newest = c;
	}
}

/* Finds the newest version that applies, and the installed version. */
static void survey_id(struct planner *p, struct idst *s)
{
	const struct repo_component *c;
	struct found f = { 0 };
	size_t k;
	char *why;

	s->selected = selected(p->o, s->newest->m);
	for (k = s->count; k-- > 0;) {
		c = repo_get(p->repo, s->first + k);
		if (applies(c->m, p->inv, &f, &why)) {
			p->applies[s->first + k] = 1;
			if (s->target == NULL) {
				s->target = c;
				s->found = f;
				memset(&f, 0, sizeof(f));
			}
		} else if (k == s->count - 1) {
			s->na_reason = why;
			why = NULL;
		}
		free(why);
		found_clear(&f);
	}
	if (s->target != NULL)
		installed_version(s);
}

static void set_skip(struct idst *s, char *reason)
{
	s->state = ST_SKIP;
	free(s->reason);
	s->reason = reason;
}

/* Install or skip the target, by the installed version and options. */
static void decide(struct planner *p, struct idst *s)
{
	const char *t = s->target->m->version;
	int c;

	s->state = ST_INSTALL;
	if (!s->known) {
		s->reason = xstrdup(s->target->m->source == SRC_PACKAGE ?
		    "installed version unknown (packages are not read yet)" :
		    "installed version unknown");
		return;
	}
	c = version_compare(s->installed, t);
	if (c < 0)
		s->reason = xstrdup("upgrade");
	else if (c == 0 && p->o->rewrite)
		s->reason = xstrdup("rewrite (same version)");
	else if (c == 0)
		set_skip(s, xasprintf("already current (installed %s)",
		    s->installed));
	else if (p->o->downgrade)
		s->reason = xstrdup("downgrade");
	else
		set_skip(s, xasprintf("older than installed (installed %s > "
		    "%s)", s->installed, t));
}

/* The highest version of itself that m needs, or NULL. */
static const char *self_need(const struct manifest *m)
{
	const char *need = NULL;
	size_t i;

	for (i = 0; i < m->n_deps; i++) {
		if (strcmp(m->deps[i].id, m->id) == 0 && (need == NULL ||
		    version_compare(m->deps[i].min_version, need) > 0))
			need = m->deps[i].min_version;
	}
	return need;
}

/* Can m go over version cur (NULL: unknown) as far as m itself says? */
static int self_ok(const struct manifest *m, const char *cur)
{
	const char *need = self_need(m);

	return need == NULL || (cur != NULL && version_compare(cur, need) >= 0);
}

/*
 * The next stepping stone over cur: the newest applicable version below
 * the target, newer than cur, that can go over cur.
 */
static const struct repo_component *next_stone(struct planner *p,
    const struct idst *s, const char *cur)
{
	const struct repo_component *c;
	size_t k;

	for (k = s->count; k-- > 0;) {
		c = repo_get(p->repo, s->first + k);
		if (cur != NULL && version_compare(c->m->version, cur) <= 0)
			break;
		if (p->applies[s->first + k] && self_ok(c->m, cur) &&
		    version_compare(c->m->version, s->target->m->version) < 0)
			return c;
	}
	return NULL;
}

/*
 * The versions to install, oldest first: stepping stones while the
 * target cannot go over what is there, each the furthest step possible
 * (so the fewest), then the target. An unknown installed version starts
 * from a version that needs nothing. No way there: the id is skipped.
 */
static void build_chain(struct planner *p, struct idst *s)
{
	const char *cur = s->known ? s->installed : NULL;
	const struct repo_component *stone;

	s->chain = xcalloc(s->count + 1, sizeof(*s->chain));
	while (!self_ok(s->target->m, cur)) {
		/* Each stone is newer than the last: this ends. */
		if ((stone = next_stone(p, s, cur)) == NULL) {
			set_skip(s, xasprintf("unmet dependency: needs %s "
			    "\u2265 %s (installed %s; no stepping stone in the "
			    "repository)", s->id, self_need(s->target->m),
			    s->known ? s->installed : "version unknown"));
			return;
		}
		s->chain[s->n_chain++] = stone;
		cur = stone->m->version;
	}
	s->chain[s->n_chain++] = s->target;
}

/* --- dependencies and order ---------------------------------------------- */

/* Why y cannot provide need; a new string. */
static char *unmet_detail(const struct idst *y)
{
	const char *v = y->known ? y->installed : NULL;

	if (y->target == NULL)
		return xasprintf("%s does not apply to this node", y->id);
	if (y->state == ST_INSTALL)
		return xasprintf("the newest %s that applies is %s", y->id,
		    y->chain[y->n_chain - 1]->m->version);
	if (!y->selected)
		return xasprintf("installed %s; %s is not selected",
		    v != NULL ? v : "version unknown", y->id);
	return xasprintf("installed %s; %s: %s", v != NULL ? v :
	    "version unknown", y->id, y->reason);
}

/*
 * Checks dependency d of an item of s. Returns 1 if met (*from is the
 * planned id to order first, or NULL), 0 with *why if not.
 */
static int dep_met(struct planner *p, const struct manifest_dep *d,
    struct idst **from, char **why)
{
	struct idst *y = find_id(p, d->id);
	char *detail;

	*from = NULL;
	*why = NULL;
	if (y != NULL && y->state == ST_INSTALL &&
	    version_compare(y->chain[y->n_chain - 1]->m->version,
	    d->min_version) >= 0) {
		*from = y;
		return 1;
	}
	if (y != NULL && y->state != ST_INSTALL && y->known &&
	    version_compare(y->installed, d->min_version) >= 0)
		return 1;
	detail = y == NULL ? xstrdup("not in the repository") :
	    unmet_detail(y);
	*why = xasprintf("unmet dependency: needs %s \u2265 %s (%s)", d->id,
	    d->min_version, detail);
	free(detail);
	return 0;
}

/* Why one of s's dependencies on another id is unmet, or NULL. */
static char *first_unmet(struct planner *p, const struct idst *s)
{
	const struct manifest *m;
	struct idst *from;
	size_t k, d;
	char *why;

	for (k = 0; k < s->n_chain; k++) {
		m = s->chain[k]->m;
		for (d = 0; d < m->n_deps; d++) {
			if (strcmp(m->deps[d].id, s->id) != 0 &&
			    !dep_met(p, &m->deps[d], &from, &why))
				return why;
		}
	}
	return NULL;
}

/* Skips planned ids whose dependencies are unmet, until none changes. */
static void settle_deps(struct planner *p)
{
	size_t i;
	int changed = 1;
	char *why;

	while (changed) {
		changed = 0;
		for (i = 0; i < p->n_ids; i++) {
			if (p->ids[i].state == ST_INSTALL &&
			    (why = first_unmet(p, &p->ids[i])) != NULL) {
				set_skip(&p->ids[i], why);
				changed = 1;
			}
		}
	}
}

/* One install: chain item k of ids[id]. */
struct node {
	size_t id, k;
	size_t indeg;
	int done;
};

struct edge {
	size_t from, to;
};

struct graph {
	struct node *nodes;
	size_t n;
	struct edge *edges;
	size_t n_edges;
};

static void add_edge(struct graph *g, size_t from, size_t to)
{
	g->edges = xrealloc(g->edges, g->n_edges + 1, sizeof(*g->edges));
	g->edges[g->n_edges].from = from;
	g->edges[g->n_edges++].to = to;
	g->nodes[to].indeg++;
}

/* The node index of the last chain item of ids[id]. */
static size_t last_node(const struct graph *g, size_t id)
{
	size_t i, last = 0;

	for (i = 0; i < g->n; i++) {
		if (g->nodes[i].id == id)
			last = i;
	}
	return last;
}

/* Nodes in id, then chain order; edges: chains and dependencies. */
static void build_graph(struct planner *p, struct graph *g)
{
	const struct manifest *m;
	struct idst *from;
	size_t i, k, d, cnt = 0;
	char *why;

	memset(g, 0, sizeof(*g));
	for (i = 0; i < p->n_ids; i++)
		cnt += p->ids[i].state == ST_INSTALL ? p->ids[i].n_chain : 0;
	g->nodes = xcalloc(cnt + 1, sizeof(*g->nodes));
	for (i = 0; i < p->n_ids; i++) {
		for (k = 0; p->ids[i].state == ST_INSTALL &&
		    k < p->ids[i].n_chain; k++) {
			g->nodes[g->n].id = i;
			g->nodes[g->n].k = k;
			if (k > 0)
				add_edge(g, g->n - 1, g->n);
			g->n++;
		}
	}
	for (i = 0; i < g->n; i++) {
		m = p->ids[g->nodes[i].id].chain[g->nodes[i].k]->m;
		for (d = 0; d < m->n_deps; d++) {
			if (strcmp(m->deps[d].id, m->id) == 0)
				continue;
			if (dep_met(p, &m->deps[d], &from, &why) &&
			    from != NULL)
				add_edge(g, last_node(g, (size_t)(from -
				    p->ids)), i);
			free(why);
		}
	}
}

static void graph_free(struct graph *g)
{
	free(g->nodes);
	free(g->edges);
	memset(g, 0, sizeof(*g));
}

/*
 * Kahn's algorithm, always taking the first ready node (id, then
 * version order). Fills order with node indexes; returns how many.
 */
static size_t topo_order(struct graph *g, size_t *order)
{
	size_t done = 0, i, e;

	for (;;) {
		for (i = 0; i < g->n; i++) {
			if (!g->nodes[i].done && g->nodes[i].indeg == 0)
				break;
		}
		if (i == g->n)
			return done;
		g->nodes[i].done = 1;
		order[done++] = i;
		for (e = 0; e < g->n_edges; e++) {
			if (g->edges[e].from == i)
				g->nodes[g->edges[e].to].indeg--;
		}
	}
}

/*
 * Skips the ids on a dependency cycle among the nodes Kahn's algorithm
 * left. Nodes that only wait on a cycle are peeled off first (they have
 * no edge back into what is left); the next round finds their
 * dependencies unmet.
 */
static void skip_cycle(struct planner *p, const struct graph *g)
{
	char *cand = xcalloc(g->n + 1, 1), *names = xstrdup(""), *t;
	size_t i, e, last = SIZE_MAX;
	int changed = 1, out;

	for (i = 0; i < g->n; i++)
		cand[i] = !g->nodes[i].done;
	while (changed) {
		changed = 0;
		for (i = 0; i < g->n; i++) {
			for (e = 0, out = 0; cand[i] && e < g->n_edges; e++)
				out |= g->edges[e].from == i &&
				    cand[g->edges[e].to];
			if (cand[i] && !out) {
				cand[i] = 0;
				changed = 1;
			}
		}
	}
	for (i = 0; i < g->n; i++) {
		if (!cand[i] || g->nodes[i].id == last)
			continue;
		last = g->nodes[i].id;
		t = xasprintf("%s%s%s", names, names[0] ? ", " : "",
		    p->ids[last].id);
		free(names);
		names = t;
	}
	for (i = 0; i < g->n; i++) {
		if (cand[i])
			set_skip(&p->ids[g->nodes[i].id],
			    xasprintf("dependency cycle among %s", names));
	}
	free(names);
	free(cand);
}

/* --- output ------------------------------------------------------------- */

static void item_devices(struct plan_item *it, const struct found *f)
{
	size_t i;

	it->devices = xcalloc(f->n_devs + 1, sizeof(*it->devices));
	for (i = 0; i < f->n_devs; i++)
		it->devices[i] = xstrdup(f->devs[i]);
	it->n_devices = f->n_devs;
}

static struct plan_item *item_new(struct node_plan *out,
    const struct repo_component *c, enum plan_action a, const struct idst *s,
    const char *reason)
{
	struct plan_item *it = &out->items[out->n++];

	it->c = c;
	it->action = a;
	it->installed = s->known ? xstrdup(s->installed) : NULL;
	it->reason = xstrdup(reason);
	item_devices(it, &s->found);
	return it;
}

static void emit(struct planner *p, const struct graph *g,
    const size_t *order, struct node_plan *out)
{
	const struct idst *s;
	struct plan_item *it;
	size_t i, n = 0;
	char *why;

	for (i = 0; i < p->n_ids; i++)
		n += p->ids[i].selected ? p->ids[i].count : 0;
	out->items = xcalloc(n + 1, sizeof(*out->items));
	for (i = 0; i < g->n; i++) {
		s = &p->ids[g->nodes[order[i]].id];
		if (g->nodes[order[i]].k + 1 == s->n_chain) {
			item_new(out, s->target, PLAN_INSTALL, s, s->reason);
			continue;
		}
		why = xasprintf("stepping stone to %s", s->target->m->version);
		item_new(out, s->chain[g->nodes[order[i]].k], PLAN_INSTALL, s,
		    why);
		free(why);
	}
	out->n_install = out->n;
	for (i = 0; i < p->n_ids; i++) {
		s = &p->ids[i];
		if (!s->selected || s->state == ST_INSTALL)
			continue;
		if (s->target == NULL) {
			it = item_new(out, s->newest, PLAN_SKIP, s,
			    s->na_reason);
			it->not_applicable = 1;
		} else {
			item_new(out, s->target, PLAN_SKIP, s, s->reason);
		}
	}
}

static void planner_free(struct planner *p)
{
	size_t i;

	for (i = 0; i < p->n_ids; i++) {
		free(p->ids[i].na_reason);
		free(p->ids[i].installed);
		free(p->ids[i].reason);
		free(p->ids[i].chain);
		found_clear(&p->ids[i].found);
	}
	free(p->ids);
	free(p->applies);
}

int plan_node(const Fwfleet__Inventory *inv, const struct repo *repo,
    const struct plan_opts *o, struct node_plan *out)
{
	struct planner p = { inv, repo, o, NULL, 0, NULL };
	struct graph g = { 0 };
	size_t i, *order = NULL, done;

	memset(out, 0, sizeof(*out));
	group_ids(&p);
	for (i = 0; i < p.n_ids; i++) {
		survey_id(&p, &p.ids[i]);
		if (!p.ids[i].selected)
			continue;
		if (p.ids[i].target == NULL) {
			p.ids[i].state = ST_SKIP;
			continue;
		}
		decide(&p, &p.ids[i]);
		if (p.ids[i].state == ST_INSTALL)
			build_chain(&p, &p.ids[i]);
	}
	for (;;) {
		settle_deps(&p);
		graph_free(&g);
		build_graph(&p, &g);
		free(order);
		order = xcalloc(g.n + 1, sizeof(*order));
		if ((done = topo_order(&g, order)) == g.n)
			break;
		skip_cycle(&p, &g);
	}
	emit(&p, &g, order, out);
	free(order);
	graph_free(&g);
	planner_free(&p);
	return 0;
}

void node_plan_clear(struct node_plan *p)
{
	struct plan_item *it;
	size_t i, k;

	for (i = 0; i < p->n; i++) {
		it = &p->items[i];
		free(it->installed);
		free(it->reason);
		for (k = 0; k < it->n_devices; k++)
			free(it->devices[k]);
		free(it->devices);
	}
	free(p->items);
	memset(p, 0, sizeof(*p));
}

static json_t *item_json(const struct plan_item *it)
{
	const struct manifest *m = it->c->m;
	json_t *devs = json_array(), *o;
	size_t i;

	for (i = 0; i < it->n_devices; i++)
		json_array_append_new(devs, json_string(it->devices[i]));
	o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:b, s:o}",
	    "id", m->id, "name", m->name, "kind", manifest_kind_name(m->kind),
	    "version", m->version, "installed", it->installed != NULL ?
	    json_string(it->installed) : json_null(), "reason", it->reason,
	    "reboot_required", m->reboot_required, "devices", devs);
	if (o == NULL)
		fatal("out of memory");
	if (it->not_applicable)
		json_object_set_new(o, "not_applicable", json_true());
	return o;
}

json_t *node_plan_json(const struct node_plan *p)
{
	json_t *inst = json_array(), *skip = json_array();
	size_t i;

	for (i = 0; i < p->n; i++)
		json_array_append_new(i < p->n_install ? inst : skip,
		    item_json(&p->items[i]));
	return json_pack("{s:o, s:o}", "install", inst, "skip", skip);
}

void node_plan_print(FILE *f, const struct node_plan *p)
{
	const struct plan_item *it;
	char from[160];
	size_t i, na = 0;

	for (i = 0; i < p->n; i++) {
		it = &p->items[i];
		if (it->not_applicable) {
			na++;
			continue;
		}
		snprintf(from, sizeof(from), "%s -> %s", it->installed != NULL ?
		    it->installed : "?", it->c->m->version);
		fprintf(f, "  %-8s %-24s %-30s %s%s\n", it->action ==
		    PLAN_INSTALL ? "install" : "skip", it->c->m->id, from,
		    it->reason, it->action == PLAN_INSTALL &&
		    it->c->m->reboot_required ? "; reboot required" : "");
	}
	if (na == 0)
		return;
	fprintf(f, "  %-8s", "n/a");
	for (i = 0; i < p->n; i++) {
		if (p->items[i].not_applicable)
			fprintf(f, " %s%s", p->items[i].c->m->id,
			    --na > 0 ? "," : "");
	}
	fputc('\n', f);
}
