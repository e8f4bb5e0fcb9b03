/*
 * Unit tests for controller/plan.c: the fixture repository against the
 * fixture hardware profiles (what each gets, and why the rest is
 * skipped); options; and, on small made-up repositories, dependency
 * order, stepping stones, cycles, applicability and installed versions.
 * One test runs the fixture installers on copies of the profiles, as a
 * deploy would, and checks that a second plan has nothing to do.
 */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "err.h"
#include "inventory.h"
#include "plan.h"
#include "rcmap.h"
#include "repo.h"
#include "util.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static const char *const fixtures[] = {
	"bios-u30-2.90", "hpe-nvme-mzxl5-HPK2", "hpe-nvme-mzxl5-HPK3",
	"i40e-driver-2.24.6", "i40e-nvm-8.80", "intel-p4610-fw-VDV1DP25",
	"ixgbe-82599-nvm-0x80000835", "lenovo-sr650-uefi-3.30",
	"mlx5-fw-16.35.2000", "samsung-pm983-fw-EDA7502Q",
};

struct ctx {
	char *tmp;
	struct repo *repo;		/* the fixture repository */
};

/* --- helpers ------------------------------------------------------------ */

static int rm_entry(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *fixtures_dir(void)
{
	const char *dir = getenv("FWFLEET_FIXTURES");

	if (dir == NULL)
		fail_msg("FWFLEET_FIXTURES is not set");
	return dir;
}

static void run(const char *cmd)
{
	if (system(cmd) != 0)
		fail_msg("command failed: %s", cmd);
}

/* Indexes and loads the repository in dir. */
static struct repo *load(const char *dir)
{
	struct repo_report rep = { 0 };
	struct repo *r = NULL;
	char err[1024];
	int changed;

	if (repo_index(dir, 0, &changed, &rep, err, sizeof(err)) != 0 ||
	    repo_load(dir, &r, &rep, err, sizeof(err)) != 0)
		fail_msg("%s: %s (%s)", dir, err, rep.n_errors ?
		    rep.errors[0] : "");
	assert_int_equal(rep.n_errors, 0);
	repo_report_clear(&rep);
	return r;
}

static int setup(void **state)
{
	struct repo_report rep = { 0 };
	struct ctx *c = xcalloc(1, sizeof(*c));
	char tmpl[] = "/tmp/fwf-test-plan.XXXXXX", err[1024], *src, *added;
	char *dir;
	size_t i;

	assert_non_null(mkdtemp(tmpl));
	c->tmp = xstrdup(tmpl);
	dir = xasprintf("%s/R", c->tmp);
	assert_int_equal(repo_init(dir, err, sizeof(err)), 0);
	for (i = 0; i < ARRAY_SIZE(fixtures); i++) {
		src = xasprintf("%s/repo/%s", fixtures_dir(), fixtures[i]);
		if (repo_add(dir, src, 0, &added, &rep, err, sizeof(err)) != 0)
			fail_msg("repo add %s: %s", src, err);
		free(added);
		free(src);
	}
	repo_report_clear(&rep);
	c->repo = load(dir);
	free(dir);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	repo_free(c->repo);
	rm_rf(c->tmp);
	free(c->tmp);
	free(c);
	return 0;
}

/* The inventory of a profile tree; arch pinned to x86_64 (the fixture
 * repository's), whatever machine runs the test. */
static Fwfleet__Inventory *collect(const char *root)
{
	Fwfleet__Inventory *inv = NULL;

	assert_int_equal(inventory_collect(root, &inv), 0);
	free(inv->os->arch);
	inv->os->arch = xstrdup("x86_64");
	return inv;
}

static Fwfleet__Inventory *profile(const char *name)
{
	char *root = xasprintf("%s/hw/%s", fixtures_dir(), name);
	Fwfleet__Inventory *inv = collect(root);

	free(root);
	return inv;
}

static void plan(const Fwfleet__Inventory *inv, const struct repo *r,
    const struct plan_opts *o, struct node_plan *p)
{
	struct plan_opts def;

	if (o == NULL) {
		plan_opts_init(&def);
		o = &def;
	}
	assert_int_equal(plan_node(inv, r, o, p), 0);
}

static const struct plan_item *find(const struct node_plan *p,
    const char *id, const char *version)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		if (strcmp(p->items[i].c->m->id, id) == 0 && (version == NULL ||
		    strcmp(p->items[i].c->m->version, version) == 0))
			return &p->items[i];
	}
	return NULL;
}

static void dump(const struct node_plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		print_message("  %zu %s %s %s: installed %s: %s\n", i,
		    p->items[i].action == PLAN_INSTALL ? "install" : "skip",
		    p->items[i].c->m->id, p->items[i].c->m->version,
		    p->items[i].installed ? p->items[i].installed : "?",
		    p->items[i].reason);
}

/* The installs, in order, as "id version" joined by ", ". */
static char *installs(const struct node_plan *p)
{
	char *s = xstrdup(""), *t;
	size_t i;

	for (i = 0; i < p->n_install; i++) {
		t = xasprintf("%s%s%s %s", s, i ? ", " : "",
		    p->items[i].c->m->id, p->items[i].c->m->version);
		free(s);
		s = t;
	}
	return s;
}

static void expect_installs(const struct node_plan *p, const char *want)
{
	char *got = installs(p);

	if (strcmp(got, want) != 0) {
		dump(p);
		fail_msg("installs: got \"%s\", want \"%s\"", got, want);
	}
	free(got);
}

/* Item id (version, or the only one) has action and reason (prefix). */
static const struct plan_item *expect(const struct node_plan *p,
    const char *id, const char *version, enum plan_action a,
    const char *installed, const char *reason)
{
	const struct plan_item *it = find(p, id, version);

	if (it == NULL) {
		dump(p);
		fail_msg("%s %s is not in the plan", id, version ? version : "");
	}
	if (it->action != a || strncmp(it->reason, reason, strlen(reason)) ||
	    (installed == NULL) != (it->installed == NULL) ||
	    (installed != NULL && strcmp(installed, it->installed) != 0)) {
		dump(p);
		fail_msg("%s: want %s, installed %s, \"%s\"", id,
		    a == PLAN_INSTALL ? "install" : "skip",
		    installed ? installed : "unknown", reason);
	}
	return it;
}

static void expect_devices(const struct plan_item *it, const char *want)
{
	char *s = xstrdup(""), *t;
	size_t i;

	for (i = 0; i < it->n_devices; i++) {
		t = xasprintf("%s%s%s", s, i ? " " : "", it->devices[i]);
		free(s);
		s = t;
	}
	if (strcmp(s, want) != 0)
		fail_msg("%s devices: got \"%s\", want \"%s\"", it->c->m->id, s,
		    want);
	free(s);
}

/* --- the fixtures ------------------------------------------------------- */

static void test_hpe(void **state)
{
	struct ctx *c = *state;
	Fwfleet__Inventory *inv = profile("hpe-dl380-gen10");
	struct node_plan p;
	const struct plan_item *it;

	plan(inv, c->repo, NULL, &p);
	expect_installs(&p, "bios-u30 2.90, hpe-nvme-mzxl5 HPK2, "
	    "hpe-nvme-mzxl5 HPK3, i40e-driver 2.24.6, i40e-nvm 8.80");
	it = expect(&p, "bios-u30", NULL, PLAN_INSTALL, "U30 v2.80",
	    "upgrade");
	expect_devices(it, "system");
	expect(&p, "hpe-nvme-mzxl5", "HPK2", PLAN_INSTALL, "HPK1",
	    "stepping stone to HPK3");
	it = expect(&p, "hpe-nvme-mzxl5", "HPK3", PLAN_INSTALL, "HPK1",
	    "upgrade");
	expect_devices(it, "nvme0");
	expect(&p, "i40e-driver", NULL, PLAN_INSTALL, NULL,
	    "installed version unknown");
	it = expect(&p, "i40e-nvm", NULL, PLAN_INSTALL, "8.70", "upgrade");
	expect_devices(it, "ens1f0");
	it = expect(&p, "mlx5-fw", NULL, PLAN_SKIP, NULL,
	    "not applicable (no matching device)");
	assert_true(it->not_applicable);
	expect(&p, "intel-p4610-fw", NULL, PLAN_SKIP, NULL, "not applicable");
	expect(&p, "ixgbe-82599-nvm", NULL, PLAN_SKIP, NULL, "not applicable");
	expect(&p, "lenovo-sr650-uefi", NULL, PLAN_SKIP, NULL,
	    "not applicable");
	expect(&p, "samsung-pm983-fw", NULL, PLAN_SKIP, NULL,
	    "not applicable");
	assert_int_equal(p.n, 10);
	/* Skips come after installs, by id. */
	assert_string_equal(p.items[5].c->m->id, "intel-p4610-fw");
	assert_string_equal(p.items[9].c->m->id, "samsung-pm983-fw");
	node_plan_clear(&p);
	inventory_free(inv);
}

static void test_dell(void **state)
{
	struct ctx *c = *state;
	Fwfleet__Inventory *inv = profile("dell-r740");
	struct node_plan p;
	const struct plan_item *it;

	plan(inv, c->repo, NULL, &p);
	expect_installs(&p, "intel-p4610-fw VDV1DP25");
	it = expect(&p, "intel-p4610-fw", NULL, PLAN_INSTALL, "VDV1DP23",
	    "upgrade");
	expect_devices(it, "nvme1");
	it = expect(&p, "mlx5-fw", NULL, PLAN_SKIP, "16.35.2000",
	    "already current (installed 16.35.2000)");
	assert_false(it->not_applicable);
	expect_devices(it, "ens3f0np0 ens3f1np1");
	expect(&p, "i40e-driver", NULL, PLAN_SKIP, NULL,
	    "not applicable (OS rhel; the component is for debian)");
	expect(&p, "bios-u30", NULL, PLAN_SKIP, NULL,
	    "not applicable (no matching device)");
	node_plan_clear(&p);
	inventory_free(inv);
}

static void test_lenovo(void **state)
{
	struct ctx *c = *state;
	Fwfleet__Inventory *inv = profile("lenovo-sr650");
	struct node_plan p;

	plan(inv, c->repo, NULL, &p);
	expect_installs(&p, "");
	expect(&p, "samsung-pm983-fw", NULL, PLAN_SKIP, "EDA7602Q",
	    "older than installed (installed EDA7602Q > EDA7502Q)");
	expect(&p, "lenovo-sr650-uefi", NULL, PLAN_SKIP, "3.22",
	    "unmet dependency: needs lenovo-xcc \u2265 8.00 (not in the "
	    "repository)");
	node_plan_clear(&p);
	inventory_free(inv);
}

static void test_supermicro(void **state)
{
	struct ctx *c = *state;
	Fwfleet__Inventory *inv = profile("supermicro-x11");
	struct node_plan p;

	plan(inv, c->repo, NULL, &p);
	expect_installs(&p, "i40e-driver 2.24.6, ixgbe-82599-nvm 0x80000835");
	expect(&p, "ixgbe-82599-nvm", NULL, PLAN_INSTALL, "0x800006e1",
	    "upgrade");
	/* An X722 (8086:37d2) is no 562SFP+. */
	expect(&p, "i40e-nvm", NULL, PLAN_SKIP, NULL,
	    "not applicable (no matching device)");
	node_plan_clear(&p);
	inventory_free(inv);
}

static void test_rewrite_downgrade(void **state)
{
	struct ctx *c = *state;
	Fwfleet__Inventory *dell = profile("dell-r740");
	Fwfleet__Inventory *lenovo = profile("lenovo-sr650");
	struct plan_opts o;
	struct node_plan p;

	plan_opts_init(&o);
	o.rewrite = 1;
	plan(dell, c->repo, &o, &p);
	expect_installs(&p, "intel-p4610-fw VDV1DP25, mlx5-fw 16.35.2000");
	expect(&p, "mlx5-fw", NULL, PLAN_INSTALL, "16.35.2000", "rewrite");
	node_plan_clear(&p);
	plan(lenovo, c->repo, &o, &p);
	expect_installs(&p, "");	/* rewrite is no downgrade */
	node_plan_clear(&p);
	plan_opts_init(&o);
	o.downgrade = 1;
	plan(lenovo, c->repo, &o, &p);
	expect_installs(&p, "samsung-pm983-fw EDA7502Q");
	expect(&p, "samsung-pm983-fw", NULL, PLAN_INSTALL, "EDA7602Q",
	    "downgrade");
	node_plan_clear(&p);
	plan(dell, c->repo, &o, &p);
	expect_installs(&p, "intel-p4610-fw VDV1DP25");	/* not a rewrite */
	node_plan_clear(&p);
	inventory_free(dell);
	inventory_free(lenovo);
}

static void test_filters(void **state)
{
	struct ctx *c = *state;
	Fwfleet__Inventory *hpe = profile("hpe-dl380-gen10");
	Fwfleet__Inventory *smc = profile("supermicro-x11");
	static const char *const nvm[] = { "i40e-nvm" };
	static const char *const two[] = { "i40e-nvm", "bios-u30" };
	struct plan_opts o;
	struct node_plan p;

	/* Only i40e-nvm: what it needs is not selected, nor installed. */
	plan_opts_init(&o);
	o.components = nvm;
	o.n_components = 1;
	plan(hpe, c->repo, &o, &p);
	assert_int_equal(p.n, 1);
	expect(&p, "i40e-nvm", NULL, PLAN_SKIP, "8.70",
	    "unmet dependency: needs bios-u30 \u2265 2.90 (installed U30 "
	    "v2.80; bios-u30 is not selected)");
	node_plan_clear(&p);
	o.components = two;
	o.n_components = 2;
	plan(hpe, c->repo, &o, &p);
	assert_int_equal(p.n, 2);
	expect(&p, "i40e-nvm", NULL, PLAN_SKIP, "8.70",
	    "unmet dependency: needs i40e-driver \u2265 2.20 (installed "
	    "version unknown; i40e-driver is not selected)");
	expect_installs(&p, "bios-u30 2.90");
	node_plan_clear(&p);
	/* Firmware only: the driver is out, so is what needs it. */
	plan_opts_init(&o);
	o.kind = MANIFEST_FIRMWARE;
	plan(hpe, c->repo, &o, &p);
	expect_installs(&p, "bios-u30 2.90, hpe-nvme-mzxl5 HPK2, "
	    "hpe-nvme-mzxl5 HPK3");
	assert_null(find(&p, "i40e-driver", NULL));
	expect(&p, "i40e-nvm", NULL, PLAN_SKIP, "8.70", "unmet dependency: "
	    "needs i40e-driver");
	node_plan_clear(&p);
	o.kind = MANIFEST_DRIVER;
	plan(smc, c->repo, &o, &p);
	expect_installs(&p, "i40e-driver 2.24.6");
	assert_int_equal(p.n, 1);
	node_plan_clear(&p);
	o.kind = MANIFEST_SOFTWARE;
	plan(smc, c->repo, &o, &p);
	assert_int_equal(p.n, 0);
	node_plan_clear(&p);
	inventory_free(hpe);
	inventory_free(smc);
}

/* Runs the installer of it in a copy of the profile, as deploy would. */
static void install(const struct ctx *c, const struct plan_item *it,
    const char *root)
{
	const struct manifest *m = it->c->m;
	Fwfleet__InstallOutcome o;
	char *cmd, *args = xstrdup(""), *t, *q;
	size_t i;
	int st;

	for (i = 0; i < m->argc; i++) {
		q = fw_sh_quote(m->argv[i]);
		t = xasprintf("%s %s", args, q);
		free(args);
		free(q);
		args = t;
	}
	cmd = xasprintf("cd '%s/%s' && FWFLEET_SYSROOT='%s'%s >/dev/null",
	    repo_dir(c->repo), it->c->dir, root, args);
	st = system(cmd);
	assert_true(WIFEXITED(st));
	o = rcmap_outcome(m->rc, WEXITSTATUS(st));
	if (o != FWFLEET__INSTALL_OUTCOME__OUTCOME_SUCCESS &&
	    o != FWFLEET__INSTALL_OUTCOME__OUTCOME_SUCCESS_REBOOT)
		fail_msg("%s %s: exit %d is %s", m->id, m->version,
		    WEXITSTATUS(st), rcmap_outcome_name(o));
	assert_int_equal(m->reboot_required,
	    o == FWFLEET__INSTALL_OUTCOME__OUTCOME_SUCCESS_REBOOT);
	free(cmd);
	free(args);
}

/* Install each profile's plan in order; then nothing is left to do. */
static void test_install_then_nothing(void **state)
{
	static const char *const profiles[] = { "hpe-dl380-gen10",
	    "dell-r740", "lenovo-sr650", "supermicro-x11" };
	struct ctx *c = *state;
	Fwfleet__Inventory *inv;
	struct node_plan p;
	char *root, *cmd;
	size_t i, k;

	for (i = 0; i < ARRAY_SIZE(profiles); i++) {
		root = xasprintf("%s/%s", c->tmp, profiles[i]);
		cmd = xasprintf("cp -a '%s/hw/%s' '%s'", fixtures_dir(),
		    profiles[i], root);
		run(cmd);
		free(cmd);
		inv = collect(root);
		plan(inv, c->repo, NULL, &p);
		inventory_free(inv);
		for (k = 0; k < p.n_install; k++)
			install(c, &p.items[k], root);
		node_plan_clear(&p);
		inv = collect(root);
		plan(inv, c->repo, NULL, &p);
		expect_installs(&p, "");
		if (strcmp(profiles[i], "hpe-dl380-gen10") == 0) {
			expect(&p, "bios-u30", NULL, PLAN_SKIP, "U30 v2.90",
			    "already current (installed U30 v2.90)");
			expect(&p, "i40e-nvm", NULL, PLAN_SKIP, "8.80",
			    "already current");
			expect(&p, "hpe-nvme-mzxl5", NULL, PLAN_SKIP, "HPK3",
			    "already current");
			expect(&p, "i40e-driver", NULL, PLAN_SKIP, "2.24.6",
			    "already current");
		}
		node_plan_clear(&p);
		inventory_free(inv);
		rm_rf(root);
		free(root);
	}
}

static void test_json_and_text(void **state)
{
	struct ctx *c = *state;
	Fwfleet__Inventory *inv = profile("hpe-dl380-gen10");
	struct node_plan p;
	json_t *j, *it;
	char *text = NULL;
	size_t len = 0;
	FILE *f;

	plan(inv, c->repo, NULL, &p);
	j = node_plan_json(&p);
	assert_int_equal(json_array_size(json_object_get(j, "install")), 5);
	assert_int_equal(json_array_size(json_object_get(j, "skip")), 5);
	it = json_array_get(json_object_get(j, "install"), 0);
	assert_string_equal(json_string_value(json_object_get(it, "id")),
	    "bios-u30");
	assert_string_equal(json_string_value(json_object_get(it, "installed")),
	    "U30 v2.80");
	assert_true(json_is_true(json_object_get(it, "reboot_required")));
	assert_string_equal(json_string_value(json_object_get(it, "kind")),
	    "firmware");
	it = json_array_get(json_object_get(j, "install"), 3);
	assert_true(json_is_null(json_object_get(it, "installed")));
	it = json_array_get(json_object_get(j, "skip"), 0);
	assert_true(json_is_true(json_object_get(it, "not_applicable")));
	json_decref(j);
	f = open_memstream(&text, &len);
	node_plan_print(f, &p);
	fclose(f);
	assert_non_null(strstr(text, "install  bios-u30"));
	assert_non_null(strstr(text, "U30 v2.80 -> 2.90"));
	assert_non_null(strstr(text, "upgrade; reboot required"));
	assert_non_null(strstr(text, "? -> 2.24.6"));
	assert_non_null(strstr(text, "n/a      intel-p4610-fw, ixgbe-82599-nvm, "
	    "lenovo-sr650-uefi, mlx5-fw, samsung-pm983-fw\n"));
	free(text);
	node_plan_clear(&p);
	inventory_free(inv);
}

/* --- made-up repositories ------------------------------------------------- */

static const char base_manifest[] =
	"{\"name\": \"T\", \"kind\": \"firmware\", \"os\": [\"linux\"],"
	" \"arch\": [\"any\"], \"applies_to\": \"all\","
	" \"installed_version\": {\"field\": \"system.bios_version\"},"
	" \"installer\": {\"command\": [\"./install.sh\"]},"
	" \"files\": [{\"name\": \"install.sh\"}]}";

/* Adds component id/version with the fields in extra (JSON object). */
static void add(const char *repo, const char *id, const char *version,
    const char *extra)
{
	struct repo_report rep = { 0 };
	json_t *m = json_loads(base_manifest, 0, NULL), *x;
	char *src = xasprintf("%s.src", repo), *p, *added, *s, err[1024];

	assert_non_null(m);
	json_object_set_new(m, "id", json_string(id));
	json_object_set_new(m, "version", json_string(version));
	if (extra != NULL) {
		x = json_loads(extra, 0, NULL);
		assert_non_null(x);
		json_object_update(m, x);
		json_decref(x);
	}
	rm_rf(src);
	assert_int_equal(mkdir(src, 0755), 0);
	p = xasprintf("%s/component.json", src);
	s = json_dumps(m, 0);
	assert_int_equal(fw_write_file(p, s, strlen(s), 0644), 0);
	free(s);
	free(p);
	p = xasprintf("%s/install.sh", src);
	assert_int_equal(fw_write_file(p, "#!/bin/sh\n", 10, 0755), 0);
	free(p);
	if (repo_add(repo, src, 0, &added, &rep, err, sizeof(err)) != 0)
		fail_msg("add %s %s: %s", id, version, err);
	free(added);
	repo_report_clear(&rep);
	json_decref(m);
	rm_rf(src);
	free(src);
}

static char *new_repo(const struct ctx *c, const char *name)
{
	char *dir = xasprintf("%s/%s", c->tmp, name), err[1024];

	rm_rf(dir);
	assert_int_equal(repo_init(dir, err, sizeof(err)), 0);
	return dir;
}

/* A small node: DMI product "A", BIOS version given, two NICs. */
struct fake {
	Fwfleet__Inventory inv;
	Fwfleet__System sys;
	Fwfleet__Os os;
	Fwfleet__NetInterface nic[2];
	Fwfleet__NetInterface *nics[2];
	Fwfleet__PciDevice pci;
	Fwfleet__PciDevice *pcis[1];
};

static void fake_init(struct fake *f, const char *bios)
{
	fwfleet__inventory__init(&f->inv);
	fwfleet__system__init(&f->sys);
	fwfleet__os__init(&f->os);
	fwfleet__pci_device__init(&f->pci);
	f->sys.product = "A";
	f->sys.vendor = "V";
	f->sys.bios_version = (char *)bios;
	f->os.id = "debian";
	f->os.arch = "x86_64";
	f->pci.address = "0000:01:00.0";
	f->pci.vendor_id = 0x8086;
	f->pci.device_id = 0x1572;
	f->pcis[0] = &f->pci;
	fwfleet__net_interface__init(&f->nic[0]);
	fwfleet__net_interface__init(&f->nic[1]);
	f->nic[0].name = "eth0";
	f->nic[0].driver = "i40e";
	f->nic[0].firmware_version = "2.0 0x1";
	f->nic[0].bus_info = "0000:01:00.0";
	f->nic[1].name = "eth1";
	f->nic[1].driver = "i40e";
	f->nic[1].firmware_version = "1.5 0x1";
	f->nic[1].bus_info = "0000:01:00.1";
	f->nics[0] = &f->nic[0];
	f->nics[1] = &f->nic[1];
	f->inv.system = &f->sys;
	f->inv.os = &f->os;
	f->inv.n_nics = 2;
	f->inv.nics = f->nics;
	f->inv.n_pci = 1;
	f->inv.pci = f->pcis;
}

static void test_dependency_order(void **state)
{
	struct ctx *c = *state;
	char *dir = new_repo(c, "dep");
	struct repo *r;
	struct node_plan p;
	struct fake f;

	/* x needs y >= 2, y needs z >= 1: z, y, x whatever the ids say. */
	add(dir, "x", "1.0", "{\"depends\": [{\"id\": \"y\", \"min_version\": "
	    "\"2\"}], \"installed_version\": {\"field\": \"package:x\"}}");
	add(dir, "y", "2.0", "{\"depends\": [{\"id\": \"z\", \"min_version\": "
	    "\"1\"}], \"installed_version\": {\"field\": \"package:y\"}}");
	add(dir, "z", "1.0", "{\"installed_version\": {\"field\": "
	    "\"package:z\"}}");
	/* w needs y >= 3: the repository's y is too old. */
	add(dir, "w", "1.0", "{\"depends\": [{\"id\": \"y\", \"min_version\": "
	    "\"3\"}], \"installed_version\": {\"field\": \"package:w\"}}");
	/* v needs the BIOS at >= 1.0, which the node has: no order. */
	add(dir, "bios", "2.0", NULL);
	add(dir, "v", "1.0", "{\"depends\": [{\"id\": \"bios\", "
	    "\"min_version\": \"1.0\"}], \"installed_version\": {\"field\": "
	    "\"package:v\"}}");
	r = load(dir);
	fake_init(&f, "1.5");
	plan(&f.inv, r, NULL, &p);
	expect_installs(&p, "bios 2.0, v 1.0, z 1.0, y 2.0, x 1.0");
	expect(&p, "x", NULL, PLAN_INSTALL, NULL,
	    "installed version unknown (packages are not read yet)");
	expect(&p, "w", NULL, PLAN_SKIP, NULL, "unmet dependency: needs y "
	    "\u2265 3 (the newest y that applies is 2.0)");
	node_plan_clear(&p);
	/* With the BIOS current, v needs nothing planned. */
	fake_init(&f, "2.0");
	plan(&f.inv, r, NULL, &p);
	expect_installs(&p, "v 1.0, z 1.0, y 2.0, x 1.0");
	expect(&p, "bios", NULL, PLAN_SKIP, "2.0", "already current");
	node_plan_clear(&p);
	/* Old BIOS and only v: unmet. */
	fake_init(&f, "0.9");
	{
		static const char *const only_v[] = { "v" };
		struct plan_opts o;

		plan_opts_init(&o);
		o.components = only_v;
		o.n_components = 1;
		plan(&f.inv, r, &o, &p);
		expect(&p, "v", NULL, PLAN_SKIP, NULL, "unmet dependency: needs "
		    "bios \u2265 1.0 (installed 0.9; bios is not selected)");
		node_plan_clear(&p);
	}
	repo_free(r);
	rm_rf(dir);
	free(dir);
}

static void test_cycle(void **state)
{
	struct ctx *c = *state;
	char *dir = new_repo(c, "cycle");
	struct repo *r;
	struct node_plan p;
	struct fake f;

	add(dir, "a", "1.0", "{\"depends\": [{\"id\": \"b\", \"min_version\": "
	    "\"1\"}], \"installed_version\": {\"field\": \"package:a\"}}");
	add(dir, "b", "1.0", "{\"depends\": [{\"id\": \"a\", \"min_version\": "
	    "\"1\"}], \"installed_version\": {\"field\": \"package:b\"}}");
	add(dir, "c", "1.0", "{\"depends\": [{\"id\": \"a\", \"min_version\": "
	    "\"1\"}], \"installed_version\": {\"field\": \"package:c\"}}");
	add(dir, "d", "1.0", "{\"installed_version\": {\"field\": "
	    "\"package:d\"}}");
	r = load(dir);
	fake_init(&f, "1.0");
	plan(&f.inv, r, NULL, &p);
	expect_installs(&p, "d 1.0");
	expect(&p, "a", NULL, PLAN_SKIP, NULL, "dependency cycle among a, b");
	expect(&p, "b", NULL, PLAN_SKIP, NULL, "dependency cycle among a, b");
	expect(&p, "c", NULL, PLAN_SKIP, NULL, "unmet dependency: needs a "
	    "\u2265 1 (installed version unknown; a: dependency cycle");
	node_plan_clear(&p);
	repo_free(r);
	rm_rf(dir);
	free(dir);
}

static void test_stepping_stones(void **state)
{
	struct ctx *c = *state;
	char *dir = new_repo(c, "stones"), *dir2;
	struct repo *r;
	struct node_plan p;
	struct fake f;

	add(dir, "rom", "1.0", NULL);
	add(dir, "rom", "2.0", "{\"depends\": [{\"id\": \"rom\", "
	    "\"min_version\": \"1.0\"}]}");
	add(dir, "rom", "2.5", "{\"depends\": [{\"id\": \"rom\", "
	    "\"min_version\": \"1.0\"}]}");
	add(dir, "rom", "3.0", "{\"depends\": [{\"id\": \"rom\", "
	    "\"min_version\": \"2.0\"}]}");
	r = load(dir);
	fake_init(&f, "0.5");
	plan(&f.inv, r, NULL, &p);
	/* The newest stone that is enough: 2.5, not 2.0. */
	expect_installs(&p, "rom 1.0, rom 2.5, rom 3.0");
	expect(&p, "rom", "1.0", PLAN_INSTALL, "0.5", "stepping stone to 3.0");
	expect(&p, "rom", "3.0", PLAN_INSTALL, "0.5", "upgrade");
	node_plan_clear(&p);
	fake_init(&f, "1.5");
	plan(&f.inv, r, NULL, &p);
	expect_installs(&p, "rom 2.5, rom 3.0");
	node_plan_clear(&p);
	fake_init(&f, "2.0");
	plan(&f.inv, r, NULL, &p);
	expect_installs(&p, "rom 3.0");
	node_plan_clear(&p);
	fake_init(&f, "3.0");
	plan(&f.inv, r, NULL, &p);
	expect_installs(&p, "");
	expect(&p, "rom", "3.0", PLAN_SKIP, "3.0", "already current");
	node_plan_clear(&p);
	repo_free(r);
	/* Without a stone in the repository: unmet. */
	dir2 = new_repo(c, "nostone");
	add(dir2, "rom", "1.0", NULL);
	add(dir2, "rom", "3.0", "{\"depends\": [{\"id\": \"rom\", "
	    "\"min_version\": \"2.0\"}]}");
	r = load(dir2);
	fake_init(&f, "1.5");
	plan(&f.inv, r, NULL, &p);
	expect_installs(&p, "");
	expect(&p, "rom", "3.0", PLAN_SKIP, "1.5", "unmet dependency: needs "
	    "rom \u2265 2.0 (installed 1.5; no stepping stone in the "
	    "repository)");
	node_plan_clear(&p);
	repo_free(r);
	rm_rf(dir);
	rm_rf(dir2);
	free(dir);
	free(dir2);
}

static void test_applicability(void **state)
{
	struct ctx *c = *state;
	char *dir = new_repo(c, "appl");
	struct repo *r;
	struct node_plan p;
	struct fake f;
	const struct plan_item *it;

	/* The newest version that applies: 2.0 only fits product B. */
	add(dir, "sys", "1.0", "{\"applies_to\": [{\"dmi_product\": \"A\"}]}");
	add(dir, "sys", "2.0", "{\"applies_to\": [{\"dmi_product\": \"B\"}]}");
	add(dir, "win", "1.0", "{\"os\": [\"windows\"]}");
	add(dir, "arm", "1.0", "{\"arch\": [\"aarch64\"]}");
	add(dir, "deb", "9.0", "{\"os\": [\"debian\"], \"arch\": "
	    "[\"x86_64\"]}");
	/* Two NICs at 2.0 and 1.5: the older counts. */
	add(dir, "nicfw", "1.8", "{\"applies_to\": [{\"nic_driver\": "
	    "\"i40e\"}], \"installed_version\": {\"field\": "
	    "\"nic.firmware_version\", \"regex\": \"^([0-9.]+) \"}}");
	/* A regex that finds nothing: unknown, so install. */
	add(dir, "odd", "1.0", "{\"applies_to\": [{\"nic_driver\": "
	    "\"i40e\"}], \"installed_version\": {\"field\": "
	    "\"nic.firmware_version\", \"regex\": \"^v([0-9.]+)\"}}");
	/* pci binds the NICs on that function only. */
	add(dir, "pcifw", "2.0", "{\"applies_to\": [{\"pci\": \"8086:1572\"}],"
	    " \"installed_version\": {\"field\": \"nic.firmware_version\", "
	    "\"regex\": \"^([0-9.]+) \"}}");
	add(dir, "other", "1.0", "{\"applies_to\": [{\"pci\": \"8086:1573\"}, "
	    "{\"nvme_model\": \"X*\"}, {\"disk_model\": \"D\"}, "
	    "{\"dmi_vendor\": \"W\"}]}");
	r = load(dir);
	fake_init(&f, "1.0");
	plan(&f.inv, r, NULL, &p);
	expect(&p, "sys", "1.0", PLAN_SKIP, "1.0", "already current");
	expect(&p, "win", NULL, PLAN_SKIP, NULL, "not applicable (OS debian; "
	    "the component is for windows)");
	expect(&p, "arm", NULL, PLAN_SKIP, NULL, "not applicable (arch x86_64;"
	    " the component is for aarch64)");
	expect(&p, "deb", NULL, PLAN_INSTALL, "1.0", "upgrade");
	it = expect(&p, "nicfw", NULL, PLAN_INSTALL, "1.5", "upgrade");
	expect_devices(it, "eth0 eth1");
	expect(&p, "odd", NULL, PLAN_INSTALL, NULL,
	    "installed version unknown");
	it = expect(&p, "pcifw", NULL, PLAN_SKIP, "2.0", "already current");
	expect_devices(it, "eth0");
	expect(&p, "other", NULL, PLAN_SKIP, NULL, "not applicable (no "
	    "matching device)");
	node_plan_clear(&p);
	f.sys.product = "B";
	plan(&f.inv, r, NULL, &p);
	expect(&p, "sys", "2.0", PLAN_INSTALL, "1.0", "upgrade");
	node_plan_clear(&p);
	/* No OS in the inventory: nothing applies. */
	f.inv.os = NULL;
	plan(&f.inv, r, NULL, &p);
	expect_installs(&p, "");
	expect(&p, "sys", NULL, PLAN_SKIP, NULL, "not applicable (OS unknown)");
	node_plan_clear(&p);
	repo_free(r);
	rm_rf(dir);
	free(dir);
}

/* What a node reports is cleaned before it reaches any output. */
static void test_node_strings_cleaned(void **state)
{
	struct ctx *c = *state;
	char *dir = new_repo(c, "clean");
	struct repo *r;
	struct node_plan p;
	struct fake f;

	add(dir, "sys", "9.0", NULL);
	r = load(dir);
	fake_init(&f, "1.0\x1b[31m\xff");
	plan(&f.inv, r, NULL, &p);
	expect(&p, "sys", NULL, PLAN_INSTALL, "1.0?[31m?", "upgrade");
	node_plan_clear(&p);
	repo_free(r);
	rm_rf(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hpe),
		cmocka_unit_test(test_dell),
		cmocka_unit_test(test_lenovo),
		cmocka_unit_test(test_supermicro),
		cmocka_unit_test(test_rewrite_downgrade),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_install_then_nothing),
		cmocka_unit_test(test_json_and_text),
		cmocka_unit_test(test_dependency_order),
		cmocka_unit_test(test_cycle),
		cmocka_unit_test(test_stepping_stones),
		cmocka_unit_test(test_applicability),
		cmocka_unit_test(test_node_strings_cleaned),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
