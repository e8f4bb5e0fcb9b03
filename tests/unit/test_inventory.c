/*
 * Inventory from the hardware profiles in tests/fixtures/hw, from odd
 * trees built in a temporary directory, and from the running system.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "inventory.h"
#include "platform.h"
#include "util.h"

struct expect {
	const char *profile;
	/* system */
	const char *vendor, *product, *serial;
	const char *bios_vendor, *bios_version, *bios_date;
	/* os */
	const char *os_name, *os_id, *os_version, *kernel, *hostname;
	/* one PCI device */
	size_t n_pci;
	const char *pci_addr;
	uint32_t pci_vendor, pci_device, pci_subvendor, pci_subdevice;
	uint32_t pci_class;
	const char *pci_driver;
	/* one NIC */
	size_t n_nics;
	const char *nic, *nic_driver, *nic_version, *nic_fw, *nic_bus;
	const char *nic_mac;
	/* one NVMe controller */
	size_t n_nvme;
	const char *nvme, *nvme_model, *nvme_serial, *nvme_fw, *nvme_addr;
	/* one disk */
	size_t n_disks;
	const char *disk, *disk_vendor, *disk_model, *disk_rev;
	uint64_t disk_size;
};

static const struct expect hpe = {
	.profile = "hpe-dl380-gen10",
	.vendor = "HPE", .product = "ProLiant DL380 Gen10",
	.serial = "CZJ9390ABC", .bios_vendor = "HPE",
	.bios_version = "U30 v2.80", .bios_date = "01/20/2023",
	.os_name = "Debian GNU/Linux 12 (bookworm)", .os_id = "debian",
	.os_version = "12", .kernel = "6.1.0-18-amd64",
	.hostname = "dl380-01",
	.n_pci = 5, .pci_addr = "0000:5c:00.0", .pci_vendor = 0x9005,
	.pci_device = 0x028f, .pci_subvendor = 0x103c,
	.pci_subdevice = 0x0601, .pci_class = 0x010700,
	.pci_driver = "smartpqi",
	.n_nics = 2, .nic = "eno1", .nic_driver = "tg3",
	.nic_version = "6.1.0-18-amd64",
	.nic_fw = "5719-v1.46 NCSI v1.5.18.0", .nic_bus = "0000:02:00.0",
	.nic_mac = "94:40:c9:3a:10:01",
	.n_nvme = 1, .nvme = "nvme0", .nvme_model = "MZXL53T8HBLS-000H3",
	.nvme_serial = "S5TXNA0R123456", .nvme_fw = "HPK1",
	.nvme_addr = "0000:86:00.0",
	.n_disks = 2, .disk = "sda", .disk_vendor = "HP",
	.disk_model = "EG001200JWJNQ", .disk_rev = "HPD3",
	.disk_size = 1200243695616ULL,
};

static const struct expect dell = {
	.profile = "dell-r740",
	.vendor = "Dell Inc.", .product = "PowerEdge R740",
	.serial = "7XK2M93", .bios_vendor = "Dell Inc.",
	.bios_version = "2.19.1", .bios_date = "12/07/2023",
	.os_name = "Red Hat Enterprise Linux 9.2 (Plow)", .os_id = "rhel",
	.os_version = "9.2", .kernel = "5.14.0-284.11.1.el9_2.x86_64",
	.hostname = "r740-db02.example.com",
	.n_pci = 5, .pci_addr = "0000:3b:00.1", .pci_vendor = 0x15b3,
	.pci_device = 0x1017, .pci_subvendor = 0x15b3,
	.pci_subdevice = 0x0007, .pci_class = 0x020000,
	.pci_driver = "mlx5_core",
	.n_nics = 2, .nic = "ens3f0np0", .nic_driver = "mlx5_core",
	.nic_version = "5.14.0-284.11.1.el9_2.x86_64",
	.nic_fw = "16.35.2000 (DEL0000000015)", .nic_bus = "0000:3b:00.0",
	.nic_mac = "b8:59:9f:c4:2a:10",
	.n_nvme = 2, .nvme = "nvme1",
	.nvme_model = "Dell Express Flash NVMe P4610 1.6TB SFF",
	.nvme_serial = "PHLN013400AB1P6AGN", .nvme_fw = "VDV1DP23",
	.nvme_addr = "0000:d9:00.0",
	.n_disks = 3, .disk = "nvme1n1", .disk_vendor = "",
	.disk_model = "Dell Express Flash NVMe P4610 1.6TB SFF",
	.disk_rev = "VDV1DP23", .disk_size = 1600321314816ULL,
};

static const struct expect smc = {
	.profile = "supermicro-x11",
	.vendor = "Supermicro", .product = "SYS-1029P-WTR",
	.serial = "S314159X2A01234",
	.bios_vendor = "American Megatrends Inc.", .bios_version = "3.8a",
	.bios_date = "10/27/2022",
	.os_name = "Ubuntu 22.04.4 LTS", .os_id = "ubuntu",
	.os_version = "22.04", .kernel = "5.15.0-97-generic",
	.hostname = "smc-compute-07",
	.n_pci = 3, .pci_addr = "0000:af:00.0", .pci_vendor = 0x8086,
	.pci_device = 0x10fb, .pci_subvendor = 0x15d9,
	.pci_subdevice = 0x0611, .pci_class = 0x020000,
	.pci_driver = "ixgbe",
	.n_nics = 2, .nic = "eno1", .nic_driver = "i40e",
	.nic_version = "5.15.0-97-generic",
	.nic_fw = "3.33 0x80001006 1.1747.0", .nic_bus = "0000:18:00.0",
	.nic_mac = "ac:1f:6b:4a:91:2e",
	.n_nvme = 0,
	.n_disks = 2, .disk = "sdb", .disk_vendor = "ATA",
	.disk_model = "ST4000NM0035-1V4", .disk_rev = "TN03",
	.disk_size = 4000787030016ULL,
};

static const struct expect lenovo = {
	.profile = "lenovo-sr650",
	.vendor = "Lenovo", .product = "ThinkSystem SR650 -[7X06CTO1WW]-",
	.serial = "J30ABCDE", .bios_vendor = "Lenovo",
	.bios_version = "IVE176E-3.22", .bios_date = "06/21/2023",
	.os_name = "SUSE Linux Enterprise Server 15 SP5", .os_id = "sles",
	.os_version = "15.5", .kernel = "5.14.21-150500.55.19-default",
	.hostname = "sr650-lab3",
	.n_pci = 3, .pci_addr = "0000:1a:00.0", .pci_vendor = 0x14e4,
	.pci_device = 0x16d7, .pci_subvendor = 0x17aa,
	.pci_subdevice = 0x4146, .pci_class = 0x020000,
	.pci_driver = "bnxt_en",
	.n_nics = 1, .nic = "ens1f0np0", .nic_driver = "bnxt_en",
	.nic_version = "5.14.21-150500.55.19-default",
	.nic_fw = "224.0.110.0/pkg 224.1.102.0", .nic_bus = "0000:1a:00.0",
	.nic_mac = "00:0a:f7:b1:5c:40",
	.n_nvme = 1, .nvme = "nvme0",
	.nvme_model = "SAMSUNG MZ1LB960HAJQ-00007",
	.nvme_serial = "S435NE0MA01234", .nvme_fw = "EDA7602Q",
	.nvme_addr = "0000:5e:00.0",
	.n_disks = 2, .disk = "sda", .disk_vendor = "LENOVO",
	.disk_model = "RAID 930-8i-2GB", .disk_rev = "5.13",
	.disk_size = 599550590976ULL,
};

/* --- helpers ------------------------------------------------------------ */

static char *fixture(const char *profile)
{
	const char *dir = getenv("FWFLEET_FIXTURES");

	if (dir == NULL)
		fail_msg("FWFLEET_FIXTURES is not set");
	return xasprintf("%s/hw/%s", dir, profile);
}

static Fwfleet__Inventory *collect(const char *root)
{
	Fwfleet__Inventory *inv = NULL;

	assert_int_equal(inventory_collect(root, &inv), 0);
	assert_non_null(inv);
	assert_non_null(inv->system);
	assert_non_null(inv->os);
	return inv;
}

static int has_warning(const Fwfleet__Inventory *inv, const char *text)
{
	size_t i;

	for (i = 0; i < inv->n_warnings; i++) {
		if (strstr(inv->warnings[i], text) != NULL)
			return 1;
	}
	return 0;
}

static void print_warnings(const Fwfleet__Inventory *inv)
{
	size_t i;

	for (i = 0; i < inv->n_warnings; i++)
		print_message("warning: %s\n", inv->warnings[i]);
}

static Fwfleet__PciDevice *find_pci(Fwfleet__Inventory *inv, const char *a)
{
	size_t i;

	for (i = 0; i < inv->n_pci; i++) {
		if (strcmp(inv->pci[i]->address, a) == 0)
			return inv->pci[i];
	}
	fail_msg("no PCI device %s", a);
	return NULL;
}

static Fwfleet__NetInterface *find_nic(Fwfleet__Inventory *inv,
    const char *name)
{
	size_t i;

	for (i = 0; i < inv->n_nics; i++) {
		if (strcmp(inv->nics[i]->name, name) == 0)
			return inv->nics[i];
	}
	fail_msg("no NIC %s", name);
	return NULL;
}

static Fwfleet__NvmeController *find_nvme(Fwfleet__Inventory *inv,
    const char *name)
{
	size_t i;

	for (i = 0; i < inv->n_nvme; i++) {
		if (strcmp(inv->nvme[i]->name, name) == 0)
			return inv->nvme[i];
	}
	fail_msg("no NVMe controller %s", name);
	return NULL;
}

static Fwfleet__BlockDevice *find_disk(Fwfleet__Inventory *inv,
    const char *name)
{
	size_t i;

	for (i = 0; i < inv->n_disks; i++) {
		if (strcmp(inv->disks[i]->name, name) == 0)
			return inv->disks[i];
	}
	fail_msg("no disk %s", name);
	return NULL;
}

/* Packs, unpacks and packs again: same bytes, same counts. */
static void roundtrip(const Fwfleet__Inventory *inv)
{
	size_t len = fwfleet__inventory__get_packed_size(inv), len2;
	uint8_t *buf = xmalloc(len), *buf2;
	Fwfleet__Inventory *back;

	assert_int_equal(fwfleet__inventory__pack(inv, buf), len);
	back = fwfleet__inventory__unpack(NULL, len, buf);
	assert_non_null(back);
	assert_int_equal(back->n_pci, inv->n_pci);
	assert_int_equal(back->n_nics, inv->n_nics);
	assert_int_equal(back->n_nvme, inv->n_nvme);
	assert_int_equal(back->n_disks, inv->n_disks);
	assert_int_equal(back->n_warnings, inv->n_warnings);
	if (inv->system->serial[0] != '\0')
		assert_string_equal(back->system->serial, inv->system->serial);
	if (inv->os->arch[0] != '\0')
		assert_string_equal(back->os->arch, inv->os->arch);
	len2 = fwfleet__inventory__get_packed_size(back);
	assert_int_equal(len2, len);
	buf2 = xmalloc(len2);
	assert_int_equal(fwfleet__inventory__pack(back, buf2), len2);
	assert_memory_equal(buf, buf2, len);
	fwfleet__inventory__free_unpacked(back, NULL);
	free(buf2);
	free(buf);
}

/* A temporary root; the tests run as root, so modes do not deny reads. */
static char *tree_new(void)
{
	char *dir = xstrdup("/tmp/fwfleet-inv.XXXXXX");

	assert_non_null(mkdtemp(dir));
	return dir;
}

static void tree_free(char *dir)
{
	assert_int_equal(platform_remove_workdir(dir), 0);
	free(dir);
}

static void mkdirs(const char *root, const char *rel)
{
	char *path = xasprintf("%s/%s", root, rel), *p;

	for (p = path + strlen(root) + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
		*p = '/';
	}
	assert_true(mkdir(path, 0755) == 0 || errno == EEXIST);
	free(path);
}

/* Writes len bytes (strlen if len is 0) to root/rel, making parents. */
static void put(const char *root, const char *rel, const char *data,
    size_t len)
{
	char *path = xasprintf("%s/%s", root, rel);
	char *dir = xstrdup(rel), *slash = strrchr(dir, '/');

	if (slash != NULL) {
		*slash = '\0';
		mkdirs(root, dir);
	}
	assert_int_equal(fw_write_file(path, data, len ? len : strlen(data),
	    0644), 0);
	free(dir);
	free(path);
}

static void link_to(const char *root, const char *rel, const char *target)
{
	char *path = xasprintf("%s/%s", root, rel);
	char *dir = xstrdup(rel), *slash = strrchr(dir, '/');

	if (slash != NULL) {
		*slash = '\0';
		mkdirs(root, dir);
	}
	assert_int_equal(symlink(target, path), 0);
	free(dir);
	free(path);
}

/* --- the hardware profiles ------------------------------------------------ */

static void check_system(const struct expect *x, Fwfleet__Inventory *inv)
{
	assert_string_equal(inv->system->vendor, x->vendor);
	assert_string_equal(inv->system->product, x->product);
	assert_string_equal(inv->system->serial, x->serial);
	assert_string_equal(inv->system->bios_vendor, x->bios_vendor);
	assert_string_equal(inv->system->bios_version, x->bios_version);
	assert_string_equal(inv->system->bios_date, x->bios_date);
	assert_string_equal(inv->os->name, x->os_name);
	assert_string_equal(inv->os->id, x->os_id);
	assert_string_equal(inv->os->version_id, x->os_version);
	assert_string_equal(inv->os->kernel, x->kernel);
	assert_string_equal(inv->os->hostname, x->hostname);
	assert_true(inv->os->arch[0] != '\0');
}

static void check_pci(const struct expect *x, Fwfleet__Inventory *inv)
{
	Fwfleet__PciDevice *d;
	size_t i;

	assert_int_equal(inv->n_pci, x->n_pci);
	for (i = 1; i < inv->n_pci; i++)
		assert_true(strcmp(inv->pci[i - 1]->address,
		    inv->pci[i]->address) < 0);
	d = find_pci(inv, x->pci_addr);
	assert_int_equal(d->vendor_id, x->pci_vendor);
	assert_int_equal(d->device_id, x->pci_device);
	assert_int_equal(d->subsystem_vendor_id, x->pci_subvendor);
	assert_int_equal(d->subsystem_device_id, x->pci_subdevice);
	assert_int_equal(d->class_code, x->pci_class);
	assert_string_equal(d->driver, x->pci_driver);
}

static void check_nic(const struct expect *x, Fwfleet__Inventory *inv)
{
	Fwfleet__NetInterface *n;

	assert_int_equal(inv->n_nics, x->n_nics);
	n = find_nic(inv, x->nic);
	assert_string_equal(n->driver, x->nic_driver);
	assert_string_equal(n->driver_version, x->nic_version);
	assert_string_equal(n->firmware_version, x->nic_fw);
	assert_string_equal(n->bus_info, x->nic_bus);
	assert_string_equal(n->mac, x->nic_mac);
}

static void check_storage(const struct expect *x, Fwfleet__Inventory *inv)
{
	Fwfleet__NvmeController *c;
	Fwfleet__BlockDevice *d;

	assert_int_equal(inv->n_nvme, x->n_nvme);
	if (x->n_nvme > 0) {
		c = find_nvme(inv, x->nvme);
		assert_string_equal(c->model, x->nvme_model);
		assert_string_equal(c->serial, x->nvme_serial);
		assert_string_equal(c->firmware_rev, x->nvme_fw);
		assert_string_equal(c->pci_address, x->nvme_addr);
	}
	assert_int_equal(inv->n_disks, x->n_disks);
	d = find_disk(inv, x->disk);
	assert_string_equal(d->vendor, x->disk_vendor);
	assert_string_equal(d->model, x->disk_model);
	assert_string_equal(d->firmware_rev, x->disk_rev);
	assert_int_equal(d->size_bytes, x->disk_size);
}

static void test_profile(void **state)
{
	const struct expect *x = *state;
	char *root = fixture(x->profile);
	Fwfleet__Inventory *inv = collect(root);

	print_warnings(inv);
	assert_int_equal(inv->n_warnings, 0);
	check_system(x, inv);
	check_pci(x, inv);
	check_nic(x, inv);
	check_storage(x, inv);
	roundtrip(inv);
	inventory_free(inv);
	free(root);
}

/* Details of single profiles that the table does not cover. */
static void test_profile_details(void **state)
{
	char *root = fixture("hpe-dl380-gen10");
	Fwfleet__Inventory *inv = collect(root);
	Fwfleet__BlockDevice *d;

	/* sorted, lo and loop0 skipped, the host bridge has no driver */
	assert_string_equal(inv->nics[0]->name, "eno1");
	assert_string_equal(inv->nics[1]->name, "ens1f0");
	assert_string_equal(find_pci(inv, "0000:00:00.0")->driver, "");
	assert_string_equal(inv->disks[0]->name, "nvme0n1");
	d = inv->disks[0];
	assert_string_equal(d->model, "MZXL53T8HBLS-000H3");
	assert_string_equal(d->firmware_rev, "HPK1");
	assert_int_equal(d->size_bytes, 3840755982336ULL);
	assert_string_equal(find_nic(inv, "ens1f0")->firmware_version,
	    "8.70 0x8000d96e 1.3295.0");
	inventory_free(inv);
	free(root);
}

/* --- odd trees ------------------------------------------------------------ */

static void test_bad_root(void **state)
{
	Fwfleet__Inventory *inv = (void *)1;

	assert_int_equal(inventory_collect(NULL, &inv), FW_ERR_INVALID);
	assert_null(inv);
	assert_int_equal(inventory_collect("", &inv), FW_ERR_INVALID);
	assert_int_equal(inventory_collect("/nonexistent/fwinv", &inv),
	    FW_ERR_NOT_FOUND);
	assert_null(inv);
	inventory_free(NULL);
}

static void test_empty_root(void **state)
{
	char *root = tree_new();
	Fwfleet__Inventory *inv = collect(root);

	assert_int_equal(inv->n_warnings, 0);
	assert_string_equal(inv->system->vendor, "");
	assert_string_equal(inv->system->serial, "");
	assert_string_equal(inv->system->bios_version, "");
	assert_string_equal(inv->os->name, "");
	assert_string_equal(inv->os->kernel, "");
	/* arch always, hostname as a fallback, come from uname() */
	assert_true(inv->os->arch[0] != '\0');
	assert_true(inv->os->hostname[0] != '\0');
	assert_int_equal(inv->n_pci, 0);
	assert_int_equal(inv->n_nics, 0);
	assert_int_equal(inv->n_nvme, 0);
	assert_int_equal(inv->n_disks, 0);
	roundtrip(inv);
	inventory_free(inv);
	tree_free(root);
}

static void test_unreadable(void **state)
{
	char *root = tree_new();
	Fwfleet__Inventory *inv;

	put(root, "sys/class/dmi/id/sys_vendor", "HPE\n", 0);
	mkdirs(root, "sys/class/dmi/id/product_serial");
	link_to(root, "sys/class/dmi/id/bios_version", "../nowhere");
	inv = collect(root);
	print_warnings(inv);
	assert_string_equal(inv->system->vendor, "HPE");
	assert_string_equal(inv->system->serial, "");
	assert_string_equal(inv->system->bios_version, "");
	assert_true(has_warning(inv, "cannot read "
	    "sys/class/dmi/id/product_serial: Is a directory"));
	assert_true(has_warning(inv, "cannot read "
	    "sys/class/dmi/id/bios_version: No such file or directory"));
	assert_int_equal(inv->n_warnings, 2);
	roundtrip(inv);
	inventory_free(inv);
	tree_free(root);
}

static void test_fifo_and_huge(void **state)
{
	char *root = tree_new(), *path, *big = xmalloc(70000);
	Fwfleet__Inventory *inv;

	mkdirs(root, "proc/sys/kernel");
	path = xasprintf("%s/proc/sys/kernel/osrelease", root);
	assert_int_equal(mkfifo(path, 0644), 0);
	memset(big, 'x', 70000);
	put(root, "sys/class/dmi/id/product_name", big, 70000);
	put(root, "sys/class/dmi/id/bios_date", "", 0);
	inv = collect(root);
	print_warnings(inv);
	assert_string_equal(inv->os->kernel, "");
	assert_string_equal(inv->system->product, "");
	assert_string_equal(inv->system->bios_date, "");
	assert_true(has_warning(inv, "cannot read proc/sys/kernel/osrelease:"
	    " not a regular file"));
	assert_true(has_warning(inv, "cannot read "
	    "sys/class/dmi/id/product_name: larger than 65536 bytes"));
	assert_int_equal(inv->n_warnings, 2);
	inventory_free(inv);
	free(path);
	free(big);
	tree_free(root);
}

static void put_pci(const char *root, const char *attr, const char *val)
{
	char *rel = xasprintf("sys/bus/pci/devices/0000:00:1f.6/%s", attr);

	put(root, rel, val, 0);
	free(rel);
}

/* Bad numbers become 0 with a warning; the device is still listed. */
static void test_garbage(void **state)
{
	char *root = tree_new();
	Fwfleet__Inventory *inv;

	put_pci(root, "vendor", "zzzz\n");
	put_pci(root, "device", "0x15bcq\n");
	put_pci(root, "subsystem_vendor", "-0x1\n");
	put_pci(root, "subsystem_device", "0x10000\n");
	put_pci(root, "class", "0x020000\n");
	put(root, "sys/block/sda/size", "12x\n", 0);
	put(root, "sys/block/sda/device/model", "Disk\n", 0);
	put(root, "sys/block/sdb/size", "99999999999999999999\n", 0);
	put(root, "sys/block/sdb/device/model", "\xff\x01ok\xc3\xa9\n", 0);
	put(root, "sys/class/dmi/id/sys_vendor", "  Acme \xe2\x82 \n", 0);
	inv = collect(root);
	print_warnings(inv);
	assert_int_equal(inv->n_pci, 1);
	assert_int_equal(inv->pci[0]->vendor_id, 0);
	assert_int_equal(inv->pci[0]->device_id, 0);
	assert_int_equal(inv->pci[0]->subsystem_vendor_id, 0);
	assert_int_equal(inv->pci[0]->subsystem_device_id, 0);
	assert_int_equal(inv->pci[0]->class_code, 0x020000);
	assert_true(has_warning(inv, "bad value in "
	    "sys/bus/pci/devices/0000:00:1f.6/vendor: \"zzzz\""));
	assert_true(has_warning(inv, "0000:00:1f.6/device: \"0x15bcq\""));
	assert_true(has_warning(inv, "0000:00:1f.6/subsystem_vendor:"));
	assert_true(has_warning(inv, "0000:00:1f.6/subsystem_device:"));
	assert_int_equal(inv->n_disks, 2);
	assert_int_equal(inv->disks[0]->size_bytes, 0);
	assert_int_equal(inv->disks[1]->size_bytes, 0);
	assert_true(has_warning(inv, "sys/block/sda/size: \"12x\""));
	assert_true(has_warning(inv, "sys/block/sdb/size:"));
	assert_int_equal(inv->n_warnings, 6);
	/* not UTF-8, control characters: replaced, still packable */
	assert_string_equal(inv->disks[1]->model, "??ok\xc3\xa9");
	assert_string_equal(inv->system->vendor, "Acme ??");
	roundtrip(inv);
	inventory_free(inv);
	tree_free(root);
}

static void test_os_release(void **state)
{
	char *root = tree_new();
	Fwfleet__Inventory *inv;

	/* etc/os-release missing: usr/lib/os-release is used */
	put(root, "usr/lib/os-release",
	    "# comment\n"
	    "\n"
	    "PRETTY_NAME=\"Acme \\\"Linux\\\" \\\\ \\$HOME 1\"\n"
	    "ID='acme\\'\n"
	    "ID_LIKE=debian\n"
	    "VERSION_ID=1\\.0\n"
	    "VERSION_ID=2.0\n"
	    "garbage line without equals\n"
	    "NAME\n", 0);
	put(root, "proc/sys/kernel/hostname", "\n", 0);
	inv = collect(root);
	assert_int_equal(inv->n_warnings, 0);
	assert_string_equal(inv->os->name, "Acme \"Linux\" \\ $HOME 1");
	assert_string_equal(inv->os->id, "acme\\");
	assert_string_equal(inv->os->version_id, "2.0");
	/* an empty hostname file falls back to uname() */
	assert_true(inv->os->hostname[0] != '\0');
	inventory_free(inv);
	tree_free(root);
}

static void test_nic_rules(void **state)
{
	char *root = tree_new();
	Fwfleet__Inventory *inv;

	/* lo and a virtual bridge are skipped; a NIC described only by an
	 * ethtool file is kept; a dangling device link still names the bus */
	put(root, "sys/class/net/lo/address", "00:00:00:00:00:00\n", 0);
	put(root, "sys/class/net/br0/address", "02:00:00:00:00:01\n", 0);
	put(root, "sys/class/net/eth9/address", "02:00:00:00:00:09\n", 0);
	put(root, "sys/class/net/eth9/ethtool",
	    "driver: virtio_net\nversion: 1.0.0\nfirmware-version: \n"
	    "bus-info: 0000:00:03.0\nno colon here\n: empty key\n", 0);
	link_to(root, "sys/class/net/eth1/device",
	    "../../../devices/pci0000:00/0000:00:19.0");
	put(root, "sys/block/loop0/size", "8\n", 0);
	put(root, "sys/block/zram0/size", "8\n", 0);
	put(root, "sys/block/md0/size", "8\n", 0);
	inv = collect(root);
	print_warnings(inv);
	assert_int_equal(inv->n_warnings, 0);
	assert_int_equal(inv->n_nics, 2);
	assert_string_equal(inv->nics[0]->name, "eth1");
	assert_string_equal(inv->nics[0]->bus_info, "0000:00:19.0");
	assert_string_equal(inv->nics[0]->driver, "");
	assert_string_equal(inv->nics[0]->mac, "");
	assert_string_equal(inv->nics[1]->name, "eth9");
	assert_string_equal(inv->nics[1]->driver, "virtio_net");
	assert_string_equal(inv->nics[1]->driver_version, "1.0.0");
	assert_string_equal(inv->nics[1]->firmware_version, "");
	assert_string_equal(inv->nics[1]->bus_info, "0000:00:03.0");
	assert_string_equal(inv->nics[1]->mac, "02:00:00:00:00:09");
	assert_int_equal(inv->n_disks, 0);
	roundtrip(inv);
	inventory_free(inv);
	tree_free(root);
}

/* The running system: whatever it has, collection works. */
static void test_live(void **state)
{
	Fwfleet__Inventory *inv = collect("/");

	print_warnings(inv);
	assert_true(inv->os->arch[0] != '\0');
	assert_true(inv->os->kernel[0] != '\0');
	roundtrip(inv);
	inventory_free(inv);
}

#define PROFILE_TEST(x) \
	{ "test_profile " #x, test_profile, NULL, NULL, (void *)&(x) }

int main(void)
{
	const struct CMUnitTest tests[] = {
		PROFILE_TEST(hpe),
		PROFILE_TEST(dell),
		PROFILE_TEST(smc),
		PROFILE_TEST(lenovo),
		cmocka_unit_test(test_profile_details),
		cmocka_unit_test(test_bad_root),
		cmocka_unit_test(test_empty_root),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_fifo_and_huge),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_os_release),
		cmocka_unit_test(test_nic_rules),
		cmocka_unit_test(test_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
