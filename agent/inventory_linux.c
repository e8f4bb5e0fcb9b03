/*
 * Linux inventory: reads sysfs, procfs and os-release under a root
 * directory. Everything is read with open/read/readlink/scandir so the
 * statically linked engine never needs NSS.
 */
#include "inventory.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>

#include "err.h"
#include "log.h"
#include "util.h"

#define INV_READ_MAX	(64 * 1024)	/* sysfs values are tiny */
#define INV_LIST_MAX	4096		/* entries used per directory */
#define INV_SHOW_MAX	40		/* bad value shown in a warning */

struct inv_ctx {
	const char *root;		/* without trailing '/'; "" for "/" */
	int live;			/* root is "/": the running system */
	Fwfleet__Inventory *inv;
};

static void inv_warn(struct inv_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static char *inv_readf(struct inv_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static char *inv_linkf(struct inv_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static uint64_t inv_numf(struct inv_ctx *c, int base, uint64_t max,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int inv_existsf(struct inv_ctx *c, int want_dir, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));


/* Trims both ends in place and returns the start. */
static char *inv_trim(char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	fw_rtrim(s);
	return s;
}

/* A heap copy of s, made valid UTF-8. */
static char *inv_str(const char *s)
{
	char *p = xstrdup(s);

	fw_text_clean(p, FW_TEXT_KEEP_C1);
	return p;
}

/* Replaces *field by a trimmed copy of val unless val is empty. */
static void inv_set(char **field, char *val)
{
	val = inv_trim(val);
	if (*val == '\0')
		return;
	free(*field);
	*field = inv_str(val);
}

static void inv_warn(struct inv_ctx *c, const char *fmt, ...)
{
	Fwfleet__Inventory *inv = c->inv;
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	fw_text_clean(s, FW_TEXT_KEEP_C1);
	inv->warnings = xrealloc(inv->warnings, inv->n_warnings + 1,
	    sizeof(*inv->warnings));
	inv->warnings[inv->n_warnings++] = s;
}

/* The absolute path of rel (relative to the root). */
static char *inv_path(struct inv_ctx *c, const char *rel)
{
	return xasprintf("%s/%s", c->root, rel);
}

/*
 * Reads the file rel into *out. Returns 0, FW_ERR_NOT_FOUND (silently)
 * when it does not exist, or FW_ERR_SYSTEM after adding a warning.
 * Only regular files are read: a FIFO or device must not block or
 * stream forever.
 */
static int inv_read(struct inv_ctx *c, const char *rel, char **out)
{
	char *path = inv_path(c, rel);
	struct stat st;
	size_t len;
	int r = FW_ERR_SYSTEM, err;

	*out = NULL;
	if (stat(path, &st) != 0) {
		err = errno;
		if ((err == ENOENT || err == ENOTDIR) && lstat(path, &st) != 0)
			r = FW_ERR_NOT_FOUND;	/* a dangling link is not */
		else
			inv_warn(c, "cannot read %s: %s", rel, strerror(err));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		inv_warn(c, "cannot read %s: %s", rel, S_ISDIR(st.st_mode) ?
		    strerror(EISDIR) : "not a regular file");
		goto out;
	}
	r = fw_read_file(path, INV_READ_MAX, out, &len);
	if (r == FW_ERR_FRAME_TOO_BIG)
		inv_warn(c, "cannot read %s: larger than %d bytes", rel,
		    INV_READ_MAX);
	else if (r != 0)
		inv_warn(c, "cannot read %s: %s", rel, strerror(errno));
out:
	free(path);
	return r;
}

/* The trimmed value of a one-line file, "" if missing or unreadable. */
static char *inv_readf(struct inv_ctx *c, const char *fmt, ...)
{
	char *rel, *buf = NULL, *val;
	va_list ap;

	va_start(ap, fmt);
	rel = xvasprintf(fmt, ap);
	va_end(ap);
	if (inv_read(c, rel, &buf) == 0)
		val = inv_str(inv_trim(buf));
	else
		val = xstrdup("");
	free(buf);
	free(rel);
	return val;
}

/*
 * Parses s as an unsigned number in base 10 or 16 ("0x" allowed) no
 * larger than max. strtoull alone would accept spaces and a sign.
 */
static int inv_parse_num(const char *s, int base, uint64_t max,
    uint64_t *out)
{
	const char *p = s;
	unsigned long long v;
	char *end;

	if (base == 16 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	if (base == 16 ? !isxdigit((unsigned char)*p) :
	    !isdigit((unsigned char)*p))
		return FW_ERR_PARSE;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno != 0 || *end != '\0' || v > max)
		return FW_ERR_PARSE;
	*out = v;
	return 0;
}

/* A number read from a file; 0 if missing, 0 and a warning if bad. */
static uint64_t inv_numf(struct inv_ctx *c, int base, uint64_t max,
    const char *fmt, ...)
{
	char *rel, *buf = NULL, *val;
	uint64_t v = 0;
	va_list ap;

	va_start(ap, fmt);
	rel = xvasprintf(fmt, ap);
	va_end(ap);
	if (inv_read(c, rel, &buf) != 0)
		goto out;
	val = inv_trim(buf);
	if (inv_parse_num(val, base, max, &v) != 0) {
		fw_text_clean(val, FW_TEXT_KEEP_C1);
		inv_warn(c, "bad value in %s: \"%.*s\"", rel, INV_SHOW_MAX,
		    val);
		v = 0;
	}
out:
	free(buf);
	free(rel);
	return v;
}

/* The last component of a symlink's target, "" if missing. */
static char *inv_linkf(struct inv_ctx *c, const char *fmt, ...)
{
	char *rel, *path, target[4096], *base;
	va_list ap;
	ssize_t n;

	va_start(ap, fmt);
	rel = xvasprintf(fmt, ap);
	va_end(ap);
	path = inv_path(c, rel);
	n = readlink(path, target, sizeof(target));
	if (n < 0 && errno != ENOENT && errno != ENOTDIR)
		inv_warn(c, "cannot read link %s: %s", rel, strerror(errno));
	else if (n >= (ssize_t)sizeof(target))
		inv_warn(c, "cannot read link %s: too long", rel);
	if (n < 0 || n >= (ssize_t)sizeof(target))
		n = 0;
	target[n] = '\0';
	while (n > 1 && target[n - 1] == '/')
		target[--n] = '\0';
	base = strrchr(target, '/');
	base = inv_str(base != NULL ? base + 1 : target);
	free(path);
	free(rel);
	return base;
}

/* Whether rel exists (want_dir: is a directory, following links). */
static int inv_existsf(struct inv_ctx *c, int want_dir, const char *fmt, ...)
{
	char *rel, *path;
	struct stat st;
	va_list ap;
	int ok;

	va_start(ap, fmt);
	rel = xvasprintf(fmt, ap);
	va_end(ap);
	path = inv_path(c, rel);
	if (want_dir)
		ok = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
	else
		ok = lstat(path, &st) == 0;
	free(path);
	free(rel);
	return ok;
}

static int inv_skip_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* By byte value: alphasort depends on the locale. */
static int inv_namecmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/*
 * The entries of directory rel sorted by name into *out (free with
 * inv_list_free). Returns their number; 0 if missing or unreadable.
 */
static int inv_list(struct inv_ctx *c, const char *rel, struct dirent ***out)
{
	char *path = inv_path(c, rel);
	int n;

	*out = NULL;
	n = scandir(path, out, inv_skip_dot, inv_namecmp);
	if (n < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			inv_warn(c, "cannot list %s: %s", rel,
			    strerror(errno));
		*out = NULL;
		n = 0;
	}
	free(path);
	return n;
}

static void inv_list_free(struct dirent **ents, int n)
{
	int i;

	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
}

/* Lists rel and calls fn for each entry, at most INV_LIST_MAX. */
static void inv_each(struct inv_ctx *c, const char *rel,
    void (*fn)(struct inv_ctx *, const char *))
{
	struct dirent **ents;
	int i, n;

	n = inv_list(c, rel, &ents);
	if (n > INV_LIST_MAX)
		inv_warn(c, "%s: only the first %d of %d entries are listed",
		    rel, INV_LIST_MAX, n);
	for (i = 0; i < n && i < INV_LIST_MAX; i++)
		fn(c, ents[i]->d_name);
	inv_list_free(ents, n);
}

static void inv_system(struct inv_ctx *c)
{
	Fwfleet__System *s = xmalloc(sizeof(*s));

	fwfleet__system__init(s);
	s->vendor = inv_readf(c, "sys/class/dmi/id/sys_vendor");
	s->product = inv_readf(c, "sys/class/dmi/id/product_name");
	s->serial = inv_readf(c, "sys/class/dmi/id/product_serial");
	s->bios_vendor = inv_readf(c, "sys/class/dmi/id/bios_vendor");
	s->bios_version = inv_readf(c, "sys/class/dmi/id/bios_version");
	s->bios_date = inv_readf(c, "sys/class/dmi/id/bios_date");
	c->inv->system = s;
}

/*
 * Unquotes an os-release value in place, shell style: '...' literally,
 * "..." with \" \\ \$ \` escapes, and \x outside quotes.
 */
static void osrel_unquote(char *v)
{
	char *o = v, q = 0;

	for (; *v != '\0'; v++) {
		if (q == 0 && (*v == '"' || *v == '\'')) {
			q = *v;
			continue;
		}
		if (q != 0 && *v == q) {
			q = 0;
			continue;
		}
		if (*v == '\\' && v[1] != '\0' &&
		    (q == 0 || (q == '"' && strchr("\"\\$`", v[1]) != NULL)))
			v++;
		*o++ = *v;
	}
	*o = '\0';
}

/* Applies one KEY=value line of os-release to os. */
static void osrel_line(Fwfleet__Os *os, char *line)
{
	char *eq, *key = inv_trim(line);

	if (*key == '#' || (eq = strchr(key, '=')) == NULL)
		return;
	*eq = '\0';
	osrel_unquote(eq + 1);
	if (strcmp(key, "PRETTY_NAME") == 0)
		inv_set(&os->name, eq + 1);
	else if (strcmp(key, "ID") == 0)
		inv_set(&os->id, eq + 1);
	else if (strcmp(key, "VERSION_ID") == 0)
		inv_set(&os->version_id, eq + 1);
}

static void inv_os_release(struct inv_ctx *c, Fwfleet__Os *os)
{
	char *buf = NULL, *line, *nl;
	int r;

	r = inv_read(c, "etc/os-release", &buf);
	if (r == FW_ERR_NOT_FOUND)
		r = inv_read(c, "usr/lib/os-release", &buf);
	if (r != 0)
		return;
	for (line = buf; line != NULL; line = nl) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		osrel_line(os, line);
	}
	free(buf);
}

static void inv_os(struct inv_ctx *c)
{
	Fwfleet__Os *os = xmalloc(sizeof(*os));
	struct utsname u;

	fwfleet__os__init(os);
	os->name = xstrdup("");
	os->id = xstrdup("");
	os->version_id = xstrdup("");
	os->arch = xstrdup("");
	c->inv->os = os;
	inv_os_release(c, os);
	os->kernel = inv_readf(c, "proc/sys/kernel/osrelease");
	os->hostname = inv_readf(c, "proc/sys/kernel/hostname");
	if (uname(&u) != 0) {
		inv_warn(c, "uname: %s", strerror(errno));
		return;
	}
	inv_set(&os->arch, u.machine);
	if (*os->hostname == '\0')
		inv_set(&os->hostname, u.nodename);
}

static void inv_pci_one(struct inv_ctx *c, const char *addr)
{
	Fwfleet__Inventory *inv = c->inv;
	Fwfleet__PciDevice *d = xmalloc(sizeof(*d));
	const char *dir = "sys/bus/pci/devices";

	fwfleet__pci_device__init(d);
	d->address = inv_str(addr);
	/* inv_numf caps each value, so the casts cannot truncate */
	d->vendor_id = (uint32_t)inv_numf(c, 16, 0xffff, "%s/%s/vendor", dir,
	    addr);
	d->device_id = (uint32_t)inv_numf(c, 16, 0xffff, "%s/%s/device", dir,
	    addr);
	d->subsystem_vendor_id = (uint32_t)inv_numf(c, 16, 0xffff,
	    "%s/%s/subsystem_vendor", dir, addr);
	d->subsystem_device_id = (uint32_t)inv_numf(c, 16, 0xffff,
	    "%s/%s/subsystem_device", dir, addr);
	d->class_code = (uint32_t)inv_numf(c, 16, 0xffffff, "%s/%s/class",
	    dir, addr);
	d->driver = inv_linkf(c, "%s/%s/driver", dir, addr);
	inv->pci = xrealloc(inv->pci, inv->n_pci + 1, sizeof(*inv->pci));
	inv->pci[inv->n_pci++] = d;
}

/* Driver and firmware versions from the ethtool ioctl. */
static void nic_ethtool_ioctl(struct inv_ctx *c, const char *ifname,
    Fwfleet__NetInterface *n)
{
	static const int families[] = { AF_INET, AF_INET6, AF_UNIX };
	struct ethtool_drvinfo di;
	struct ifreq ifr;
	size_t i, len = strlen(ifname);
	int fd = -1;

	if (len >= sizeof(ifr.ifr_name))
		return;
	for (i = 0; fd < 0 && i < sizeof(families) / sizeof(*families); i++)
		fd = socket(families[i], SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		inv_warn(c, "ethtool %s: socket: %s", ifname, strerror(errno));
		return;
	}
	memset(&di, 0, sizeof(di));
	memset(&ifr, 0, sizeof(ifr));
	di.cmd = ETHTOOL_GDRVINFO;
	memcpy(ifr.ifr_name, ifname, len);
	ifr.ifr_data = (void *)&di;
	if (ioctl(fd, SIOCETHTOOL, &ifr) != 0) {
		if (errno != EOPNOTSUPP)
			inv_warn(c, "ethtool %s: %s", ifname, strerror(errno));
		goto out;
	}
	/* the kernel terminates them; do not rely on it */
	di.driver[sizeof(di.driver) - 1] = '\0';
	di.version[sizeof(di.version) - 1] = '\0';
	di.fw_version[sizeof(di.fw_version) - 1] = '\0';
	di.bus_info[sizeof(di.bus_info) - 1] = '\0';
	inv_set(&n->driver, di.driver);
	inv_set(&n->driver_version, di.version);
	inv_set(&n->firmware_version, di.fw_version);
	inv_set(&n->bus_info, di.bus_info);
out:
	close(fd);
}

/* Applies one "key: value" line of `ethtool -i` output to n. */
static void nic_ethtool_line(Fwfleet__NetInterface *n, char *line)
{
	char *val = strchr(line, ':');

	if (val == NULL)
		return;
	*val++ = '\0';
	line = inv_trim(line);
	if (strcmp(line, "driver") == 0)
		inv_set(&n->driver, val);
	else if (strcmp(line, "version") == 0)
		inv_set(&n->driver_version, val);
	else if (strcmp(line, "firmware-version") == 0)
		inv_set(&n->firmware_version, val);
	else if (strcmp(line, "bus-info") == 0)
		inv_set(&n->bus_info, val);
}

/* Driver and firmware versions from sys/class/net/<if>/ethtool. */
static void nic_ethtool_file(struct inv_ctx *c, const char *ifname,
    Fwfleet__NetInterface *n)
{
	char *rel = xasprintf("sys/class/net/%s/ethtool", ifname);
	char *buf = NULL, *line, *nl;

	if (inv_read(c, rel, &buf) != 0)
		goto out;
	for (line = buf; line != NULL; line = nl) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl++ = '\0';
		nic_ethtool_line(n, line);
	}
out:
	free(buf);
	free(rel);
}

/*
 * Virtual interfaces have no device link; a test tree may still describe
 * a NIC with only an ethtool file.
 */
static int nic_wanted(struct inv_ctx *c, const char *ifname)
{
	if (strcmp(ifname, "lo") == 0)
		return 0;
	if (inv_existsf(c, 0, "sys/class/net/%s/device", ifname))
		return 1;
	return !c->live && inv_existsf(c, 0, "sys/class/net/%s/ethtool",
	    ifname);
}

static void inv_nic_one(struct inv_ctx *c, const char *ifname)
{
	Fwfleet__Inventory *inv = c->inv;
	Fwfleet__NetInterface *n;
	const char *dir = "sys/class/net";

	if (!nic_wanted(c, ifname))
		return;
	n = xmalloc(sizeof(*n));
	fwfleet__net_interface__init(n);
	n->name = inv_str(ifname);
	n->mac = inv_readf(c, "%s/%s/address", dir, ifname);
	n->driver = inv_linkf(c, "%s/%s/device/driver", dir, ifname);
	n->bus_info = inv_linkf(c, "%s/%s/device", dir, ifname);
	n->driver_version = xstrdup("");
	n->firmware_version = xstrdup("");
	if (c->live)
		nic_ethtool_ioctl(c, ifname, n);
	else
		nic_ethtool_file(c, ifname, n);
	inv->nics = xrealloc(inv->nics, inv->n_nics + 1, sizeof(*inv->nics));
	inv->nics[inv->n_nics++] = n;
}

static void inv_nvme_one(struct inv_ctx *c, const char *name)
{
	Fwfleet__Inventory *inv = c->inv;
	Fwfleet__NvmeController *n = xmalloc(sizeof(*n));
	const char *dir = "sys/class/nvme";

	fwfleet__nvme_controller__init(n);
	n->name = inv_str(name);
	n->model = inv_readf(c, "%s/%s/model", dir, name);
	n->serial = inv_readf(c, "%s/%s/serial", dir, name);
	n->firmware_rev = inv_readf(c, "%s/%s/firmware_rev", dir, name);
	n->pci_address = inv_readf(c, "%s/%s/address", dir, name);
	inv->nvme = xrealloc(inv->nvme, inv->n_nvme + 1, sizeof(*inv->nvme));
	inv->nvme[inv->n_nvme++] = n;
}

static int disk_is_virtual(struct inv_ctx *c, const char *name)
{
	static const char *const prefixes[] = { "loop", "ram", "dm-", "zram" };
	size_t i;

	for (i = 0; i < sizeof(prefixes) / sizeof(*prefixes); i++) {
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
			return 1;
	}
	return !inv_existsf(c, 1, "sys/block/%s/device", name);
}

static void inv_disk_one(struct inv_ctx *c, const char *name)
{
	Fwfleet__Inventory *inv = c->inv;
	Fwfleet__BlockDevice *d;
	const char *dir = "sys/block";
	uint64_t sectors;

	if (disk_is_virtual(c, name))
		return;
	d = xmalloc(sizeof(*d));
	fwfleet__block_device__init(d);
	d->name = inv_str(name);
	d->vendor = inv_readf(c, "%s/%s/device/vendor", dir, name);
	d->model = inv_readf(c, "%s/%s/device/model", dir, name);
	d->firmware_rev = inv_readf(c, "%s/%s/device/rev", dir, name);
	if (*d->firmware_rev == '\0') {
		/* an NVMe namespace's device is its controller */
		free(d->firmware_rev);
		d->firmware_rev = inv_readf(c, "%s/%s/device/firmware_rev",
		    dir, name);
	}
	sectors = inv_numf(c, 10, UINT64_MAX / 512, "%s/%s/size", dir, name);
	d->size_bytes = sectors * 512;
	inv->disks = xrealloc(inv->disks, inv->n_disks + 1,
	    sizeof(*inv->disks));
	inv->disks[inv->n_disks++] = d;
}

int inventory_collect(const char *root, Fwfleet__Inventory **out)
{
	struct inv_ctx c = { 0 };
	char *trimmed = NULL;
	struct stat st;
	size_t n;
	int r = FW_ERR_INVALID;

	*out = NULL;
	if (root == NULL || *root == '\0')
		goto out;
	r = FW_ERR_NOT_FOUND;
	if (stat(root, &st) != 0 || !S_ISDIR(st.st_mode))
		goto out;
	trimmed = xstrdup(root);
	for (n = strlen(trimmed); n > 0 && trimmed[n - 1] == '/'; n--)
		trimmed[n - 1] = '\0';
	c.root = trimmed;
	c.live = *trimmed == '\0';
	c.inv = xmalloc(sizeof(*c.inv));
	fwfleet__inventory__init(c.inv);
	inv_system(&c);
	inv_os(&c);
	inv_each(&c, "sys/bus/pci/devices", inv_pci_one);
	inv_each(&c, "sys/class/net", inv_nic_one);
	inv_each(&c, "sys/class/nvme", inv_nvme_one);
	inv_each(&c, "sys/block", inv_disk_one);
	*out = c.inv;
	r = 0;
out:
	free(trimmed);
	return r;
}

void inventory_free(Fwfleet__Inventory *inv)
{
	if (inv != NULL)
		protobuf_c_message_free_unpacked(&inv->base, NULL);
}
