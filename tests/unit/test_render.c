/*
 * Unit tests for controller/render.c: the text summary, the status lines
 * and the JSON document of `fwfleet inventory`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "render.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* --- a sample inventory, as the engine would send it ------------------- */

static Fwfleet__System sample_system = FWFLEET__SYSTEM__INIT;
static Fwfleet__Os sample_os = FWFLEET__OS__INIT;
static Fwfleet__PciDevice sample_pci = FWFLEET__PCI_DEVICE__INIT;
static Fwfleet__NetInterface sample_nic = FWFLEET__NET_INTERFACE__INIT;
static Fwfleet__NvmeController sample_nvme = FWFLEET__NVME_CONTROLLER__INIT;
static Fwfleet__BlockDevice sample_disk = FWFLEET__BLOCK_DEVICE__INIT;
static Fwfleet__PciDevice *sample_pcis[] = { &sample_pci };
static Fwfleet__NetInterface *sample_nics[] = { &sample_nic };
static Fwfleet__NvmeController *sample_nvmes[] = { &sample_nvme };
static Fwfleet__BlockDevice *sample_disks[] = { &sample_disk };
static char *sample_warnings[] = { "ipmi: /dev/ipmi0 missing" };
static Fwfleet__Inventory sample_inv = FWFLEET__INVENTORY__INIT;

static int sample_setup(void **state)
{
	sample_system.vendor = "HPE";
	sample_system.product = "ProLiant DL380 Gen10";
	sample_system.serial = "FWF0001";
	sample_system.bios_vendor = "HPE";
	sample_system.bios_version = "U30 v2.80";
	sample_system.bios_date = "01/20/2023";

	sample_os.name = "Debian GNU/Linux 12 (bookworm)";
	sample_os.id = "debian";
	sample_os.version_id = "12";
	sample_os.kernel = "6.1.0-18-amd64";
	sample_os.arch = "x86_64";
	sample_os.hostname = "node1.example";

	sample_pci.address = "0000:3b:00.0";
	sample_pci.vendor_id = 0x8086;
	sample_pci.device_id = 0x1572;
	sample_pci.subsystem_vendor_id = 0x103c;
	sample_pci.subsystem_device_id = 0x22fc;
	sample_pci.class_code = 0x020000;
	sample_pci.driver = "i40e";

	sample_nic.name = "eth0";
	sample_nic.driver = "i40e";
	sample_nic.driver_version = "6.1.0-18-amd64";
	sample_nic.firmware_version = "9.20 0x8000d8c6";
	sample_nic.bus_info = "0000:3b:00.0";
	sample_nic.mac = "52:54:00:12:34:56";

	sample_nvme.name = "nvme0";
	sample_nvme.model = "SAMSUNG MZXL5800HBHQ-000H3";
	sample_nvme.serial = "S64ANS0T512345";
	sample_nvme.firmware_rev = "MPK7525Q";
	sample_nvme.pci_address = "0000:5e:00.0";

	sample_disk.name = "sda";
	sample_disk.vendor = "HPE";
	sample_disk.model = "EG001200JWJNK";
	sample_disk.firmware_rev = "HPD4";
	sample_disk.size_bytes = 1200243695616ULL;

	sample_inv.system = &sample_system;
	sample_inv.os = &sample_os;
	sample_inv.n_pci = ARRAY_SIZE(sample_pcis);
	sample_inv.pci = sample_pcis;
	sample_inv.n_nics = ARRAY_SIZE(sample_nics);
	sample_inv.nics = sample_nics;
	sample_inv.n_nvme = ARRAY_SIZE(sample_nvmes);
	sample_inv.nvme = sample_nvmes;
	sample_inv.n_disks = ARRAY_SIZE(sample_disks);
	sample_inv.disks = sample_disks;
	sample_inv.n_warnings = ARRAY_SIZE(sample_warnings);
	sample_inv.warnings = sample_warnings;
	return 0;
}

static const char sample_text[] =
	"== node1 (198.18.0.11:22) ==\n"
	"  System    HPE ProLiant DL380 Gen10, serial FWF0001\n"
	"  BIOS      HPE U30 v2.80 (01/20/2023)\n"
	"  OS        Debian GNU/Linux 12 (bookworm), kernel 6.1.0-18-amd64, "
	"x86_64\n"
	"  Devices   KIND  NAME            MODEL / DRIVER                 "
	"FIRMWARE\n"
	"            nic   eth0            i40e (0000:3b:00.0)            "
	"9.20 0x8000d8c6\n"
	"            nvme  nvme0           SAMSUNG MZXL5800HBHQ-000H3     "
	"MPK7525Q\n"
	"            disk  sda             HPE EG001200JWJNK              "
	"HPD4\n"
	"            pci   0000:3b:00.0    8086:1572 sub 103c:22fc class "
	"020000  driver i40e\n"
	"  Warnings  ipmi: /dev/ipmi0 missing\n";

/* --- helpers ------------------------------------------------------------- */

struct memout {
	FILE *f;
	char *buf;
	size_t len;
};

static void memout_open(struct memout *m)
{
	memset(m, 0, sizeof(*m));
	m->f = open_memstream(&m->buf, &m->len);
	assert_non_null(m->f);
}

/* Closes the stream; m->buf then holds the output (caller frees). */
static char *memout_close(struct memout *m)
{
	assert_int_equal(fclose(m->f), 0);
	return m->buf;
}

static char *text_of(const struct node_result *r, size_t n)
{
	struct memout m;

	memout_open(&m);
	render_inventory_text(m.f, r, n);
	return memout_close(&m);
}

static char *status_of(const struct node_result *r, size_t n)
{
	struct memout m;

	memout_open(&m);
	render_status_lines(m.f, r, n);
	return memout_close(&m);
}

/* Renders r as JSON and parses it back; caller json_decref()s. */
static json_t *json_of(const struct node_result *r, size_t n)
{
	json_error_t err;
	char *s = render_inventory_json(r, n);
	json_t *root;

	assert_non_null(s);
	root = json_loads(s, 0, &err);
	if (root == NULL)
		fail_msg("bad JSON: %s at line %d\n%s", err.text, err.line, s);
	free(s);
	return root;
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v))
		fail_msg("\"%s\" is not a string", key);
	return json_string_value(v);
}

static json_t *jget(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (v == NULL)
		fail_msg("\"%s\" is missing", key);
	return v;
}

/* The one element of the array at o[key]. */
static json_t *jonly(json_t *o, const char *key)
{
	json_t *a = jget(o, key);

	assert_true(json_is_array(a));
	assert_int_equal(json_array_size(a), 1);
	return json_array_get(a, 0);
}

static struct node_result ok_node(const char *name, const char *addr,
				  const Fwfleet__Inventory *inv)
{
	struct node_result r = {
		.name = name, .address = addr, .ok = 1, .inv = inv,
		.elapsed_s = 1.234,
	};

	return r;
}

static struct node_result failed_node(const char *name, const char *addr,
				      const char *error)
{
	struct node_result r = {
		.name = name, .address = addr, .ok = 0, .error = error,
		.elapsed_s = 10.0,
	};

	return r;
}

/* --- text ---------------------------------------------------------------- */

static void test_text_sample(void **state)
{
	struct node_result r = ok_node("node1", "198.18.0.11:22", &sample_inv);
	char *s = text_of(&r, 1);

	assert_string_equal(s, sample_text);
	free(s);
}

static void test_text_skips_failed(void **state)
{
	struct node_result r[3];
	const char *head3 = "== node3 ([2001:db8::5]:22) ==\n";
	char *s, *second;

	r[0] = ok_node("node1", "198.18.0.11:22", &sample_inv);
	r[1] = failed_node("node2", "198.18.0.12:22", "connection refused");
	r[2] = ok_node("node3", "[2001:db8::5]:22", &sample_inv);
	s = text_of(r, 3);
	assert_null(strstr(s, "node2"));
	assert_null(strstr(s, "connection refused"));
	/* In the given order, one blank line between nodes, none at the end. */
	second = strstr(s, head3);
	assert_non_null(second);
	assert_int_equal(second - s, strlen(sample_text) + 1);
	assert_memory_equal(s, sample_text, strlen(sample_text));
	assert_int_equal(s[strlen(sample_text)], '\n');
	assert_string_equal(second + strlen(head3),
			    strchr(sample_text, '\n') + 1);
	free(s);
}

static void test_text_empty_fields(void **state)
{
	Fwfleet__Inventory inv = FWFLEET__INVENTORY__INIT;
	struct node_result r = ok_node("bare", "198.18.0.20:22", &inv);
	char *s = text_of(&r, 1);

	assert_string_equal(s,
		"== bare (198.18.0.20:22) ==\n"
		"  System    -, serial -\n"
		"  BIOS      -\n"
		"  OS        -, kernel -, -\n"
		"  Devices   -\n");
	free(s);
}

static void test_text_empty_device_fields(void **state)
{
	Fwfleet__Inventory inv = FWFLEET__INVENTORY__INIT;
	Fwfleet__NetInterface nic = FWFLEET__NET_INTERFACE__INIT;
	Fwfleet__PciDevice pci = FWFLEET__PCI_DEVICE__INIT;
	Fwfleet__NetInterface *nics[] = { &nic };
	Fwfleet__PciDevice *pcis[] = { &pci };
	struct node_result r = ok_node("n", "a:22", &inv);
	char *s;

	nic.name = "lo";
	inv.n_nics = 1;
	inv.nics = nics;
	inv.n_pci = 1;
	inv.pci = pcis;
	s = text_of(&r, 1);
	assert_non_null(strstr(s,
		"\n            nic   lo              -"
		"                              -\n"));
	assert_non_null(strstr(s,
		"\n            pci   -               "
		"0000:0000 sub 0000:0000 class 000000  driver -\n"));
	free(s);
}

/* A long value widens its column for every row instead of being cut. */
static void test_text_long_values_grow(void **state)
{
	Fwfleet__Inventory inv = sample_inv;
	Fwfleet__NvmeController nvme = sample_nvme;
	Fwfleet__NvmeController *nvmes[] = { &nvme };
	struct node_result r = ok_node("node1", "198.18.0.11:22", &inv);
	const char *model = "VERY LONG VENDOR NAME MODEL 1234567890-ABCDEFGH";
	char *s, *line;

	nvme.model = (char *)model;
	inv.nvme = nvmes;
	s = text_of(&r, 1);
	line = strstr(s, "  Devices   KIND  NAME            MODEL / DRIVER");
	assert_non_null(line);
	/* Model column is now as wide as the long model, plus the gap. */
	assert_non_null(strstr(s,
		"            nvme  nvme0           "
		"VERY LONG VENDOR NAME MODEL 1234567890-ABCDEFGH  MPK7525Q\n"));
	assert_non_null(strstr(s,
		"            disk  sda             HPE EG001200JWJNK"
		"                                HPD4\n"));
	assert_non_null(strstr(s,
		"MODEL / DRIVER                                   FIRMWARE\n"));
	/* The PCI description fits and so lines up with the firmware. */
	assert_non_null(strstr(s,
		"8086:1572 sub 103c:22fc class 020000"
		"             driver i40e\n"));
	free(s);
}

/* Junk from a node reaches the terminal as '?', never as an escape. */
static void test_text_control_chars(void **state)
{
	Fwfleet__Inventory inv = sample_inv;
	Fwfleet__NetInterface nic = sample_nic;
	Fwfleet__NetInterface *nics[] = { &nic };
	struct node_result r = ok_node("node1", "198.18.0.11:22", &inv);
	char *s;

	nic.firmware_version = "\x1b[2J1.0\xc2\x9b\xff";
	inv.nics = nics;
	s = text_of(&r, 1);
	assert_null(strchr(s, '\x1b'));
	assert_non_null(strstr(s, "?[2J1.0???\n"));
	free(s);
}

static void test_text_none(void **state)
{
	struct node_result r = failed_node("node2", "198.18.0.12:22", "boom");
	char *s = text_of(&r, 1);

	assert_string_equal(s, "");
	free(s);
	s = text_of(NULL, 0);
	assert_string_equal(s, "");
	free(s);
}

/* --- status lines -------------------------------------------------------- */

static void test_status_lines(void **state)
{
	struct node_result r[4];
	char *s;

	r[0] = ok_node("node1", "198.18.0.11:22", &sample_inv);
	r[1] = failed_node("node2", "198.18.0.12:22",
			   "ssh: connection refused\nretrying did not help\n");
	r[2] = failed_node("node3", "198.18.0.13:22", NULL);
	r[3] = failed_node("node4", "198.18.0.14:22",
			   "engine exited:\r\n\r\nstatus 3");
	s = status_of(r, 4);
	assert_string_equal(s,
		"node1: ok\n"
		"node2: failed: ssh: connection refused; "
		"retrying did not help\n"
		"node3: failed: unknown error\n"
		"node4: failed: engine exited:; status 3\n");
	free(s);
}

/* --- JSON ---------------------------------------------------------------- */

static void check_sample_inventory(json_t *inv)
{
	json_t *sys = jget(inv, "system"), *os = jget(inv, "os");
	json_t *pci = jonly(inv, "pci"), *nic = jonly(inv, "nics");
	json_t *nvme = jonly(inv, "nvme"), *disk = jonly(inv, "disks");

	assert_string_equal(jstr(sys, "vendor"), "HPE");
	assert_string_equal(jstr(sys, "product"), "ProLiant DL380 Gen10");
	assert_string_equal(jstr(sys, "serial"), "FWF0001");
	assert_string_equal(jstr(sys, "bios_vendor"), "HPE");
	assert_string_equal(jstr(sys, "bios_version"), "U30 v2.80");
	assert_string_equal(jstr(sys, "bios_date"), "01/20/2023");

	assert_string_equal(jstr(os, "name"), "Debian GNU/Linux 12 (bookworm)");
	assert_string_equal(jstr(os, "id"), "debian");
	assert_string_equal(jstr(os, "version_id"), "12");
	assert_string_equal(jstr(os, "kernel"), "6.1.0-18-amd64");
	assert_string_equal(jstr(os, "arch"), "x86_64");
	assert_string_equal(jstr(os, "hostname"), "node1.example");

	assert_string_equal(jstr(pci, "address"), "0000:3b:00.0");
	assert_string_equal(jstr(pci, "vendor_id"), "8086");
	assert_string_equal(jstr(pci, "device_id"), "1572");
	assert_string_equal(jstr(pci, "subsystem_vendor_id"), "103c");
	assert_string_equal(jstr(pci, "subsystem_device_id"), "22fc");
	assert_string_equal(jstr(pci, "class"), "020000");
	assert_string_equal(jstr(pci, "driver"), "i40e");

	assert_string_equal(jstr(nic, "name"), "eth0");
	assert_string_equal(jstr(nic, "driver"), "i40e");
	assert_string_equal(jstr(nic, "driver_version"), "6.1.0-18-amd64");
	assert_string_equal(jstr(nic, "firmware_version"), "9.20 0x8000d8c6");
	assert_string_equal(jstr(nic, "bus_info"), "0000:3b:00.0");
	assert_string_equal(jstr(nic, "mac"), "52:54:00:12:34:56");

	assert_string_equal(jstr(nvme, "name"), "nvme0");
	assert_string_equal(jstr(nvme, "model"), "SAMSUNG MZXL5800HBHQ-000H3");
	assert_string_equal(jstr(nvme, "serial"), "S64ANS0T512345");
	assert_string_equal(jstr(nvme, "firmware_rev"), "MPK7525Q");
	assert_string_equal(jstr(nvme, "pci_address"), "0000:5e:00.0");

	assert_string_equal(jstr(disk, "name"), "sda");
	assert_string_equal(jstr(disk, "vendor"), "HPE");
	assert_string_equal(jstr(disk, "model"), "EG001200JWJNK");
	assert_string_equal(jstr(disk, "firmware_rev"), "HPD4");
	assert_true(json_is_integer(jget(disk, "size_bytes")));
	assert_true(json_integer_value(jget(disk, "size_bytes")) ==
		    1200243695616LL);

	assert_string_equal(json_string_value(jonly(inv, "warnings")),
			    "ipmi: /dev/ipmi0 missing");
}

static void test_json_values(void **state)
{
	struct node_result r[2];
	json_t *root, *nodes, *n0, *n1, *sum;

	r[0] = ok_node("node1", "198.18.0.11:22", &sample_inv);
	r[1] = failed_node("node2", "[2001:db8::5]:22", "auth failed\nbye");
	root = json_of(r, 2);
	nodes = jget(root, "nodes");
	assert_int_equal(json_array_size(nodes), 2);

	n0 = json_array_get(nodes, 0);
	assert_string_equal(jstr(n0, "name"), "node1");
	assert_string_equal(jstr(n0, "address"), "198.18.0.11:22");
	assert_string_equal(jstr(n0, "status"), "ok");
	assert_null(json_object_get(n0, "error"));
	assert_true(json_is_number(jget(n0, "elapsed_s")));
	assert_float_equal(json_number_value(jget(n0, "elapsed_s")), 1.23,
			   1e-9);
	check_sample_inventory(jget(n0, "inventory"));

	n1 = json_array_get(nodes, 1);
	assert_string_equal(jstr(n1, "name"), "node2");
	assert_string_equal(jstr(n1, "address"), "[2001:db8::5]:22");
	assert_string_equal(jstr(n1, "status"), "failed");
	assert_string_equal(jstr(n1, "error"), "auth failed\nbye");
	assert_float_equal(json_number_value(jget(n1, "elapsed_s")), 10.0,
			   1e-9);
	assert_null(json_object_get(n1, "inventory"));

	sum = jget(root, "summary");
	assert_int_equal(json_integer_value(jget(sum, "ok")), 1);
	assert_int_equal(json_integer_value(jget(sum, "failed")), 1);
	json_decref(root);
}

/* Keys come out in a fixed order, two-space indented. */
static void test_json_layout(void **state)
{
	struct node_result r = ok_node("node1", "198.18.0.11:22", &sample_inv);
	char *s = render_inventory_json(&r, 1);

	assert_non_null(s);
	assert_non_null(strstr(s, "{\n  \"nodes\": [\n    {\n"
				  "      \"name\": \"node1\",\n"
				  "      \"address\": \"198.18.0.11:22\",\n"
				  "      \"status\": \"ok\",\n"
				  "      \"elapsed_s\": 1.23,\n"
				  "      \"inventory\": {\n"
				  "        \"system\": {\n"));
	assert_non_null(strstr(s, "\"summary\": {\n    \"ok\": 1,\n"
				  "    \"failed\": 0\n  }\n}"));
	free(s);
}

static void test_json_invalid_utf8(void **state)
{
	Fwfleet__Inventory inv = sample_inv;
	Fwfleet__NvmeController nvme = sample_nvme;
	Fwfleet__NvmeController *nvmes[] = { &nvme };
	Fwfleet__System sys = sample_system;
	struct node_result r = ok_node("n\xe9ud", "198.18.0.11:22", &inv);
	json_t *root, *node, *inj;

	/* Lone bytes, a truncated sequence, an overlong '/', a surrogate. */
	nvme.model = "\xff\xfeMZ\xc3 \xc0\xaf \xed\xa0\x80 caf\xc3\xa9";
	sys.serial = "\xe2\x82";
	inv.nvme = nvmes;
	inv.system = &sys;
	root = json_of(&r, 1);
	node = json_array_get(jget(root, "nodes"), 0);
	assert_string_equal(jstr(node, "name"), "n?ud");
	inj = jget(node, "inventory");
	assert_string_equal(jstr(jonly(inj, "nvme"), "model"),
			    "??MZ? ?? ??? caf\xc3\xa9");
	assert_string_equal(jstr(jget(inj, "system"), "serial"), "??");
	json_decref(root);
}

static void test_json_empty_inventory(void **state)
{
	Fwfleet__Inventory inv = FWFLEET__INVENTORY__INIT;
	struct node_result r = ok_node("bare", "198.18.0.20:22", &inv);
	json_t *root, *ij;
	const char *keys[] = { "pci", "nics", "nvme", "disks", "warnings" };
	size_t i;

	root = json_of(&r, 1);
	ij = jget(json_array_get(jget(root, "nodes"), 0), "inventory");
	assert_string_equal(jstr(jget(ij, "system"), "vendor"), "");
	assert_string_equal(jstr(jget(ij, "system"), "bios_date"), "");
	assert_string_equal(jstr(jget(ij, "os"), "kernel"), "");
	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		assert_true(json_is_array(jget(ij, keys[i])));
		assert_int_equal(json_array_size(jget(ij, keys[i])), 0);
	}
	json_decref(root);
}

static void test_json_no_nodes(void **state)
{
	json_t *root = json_of(NULL, 0), *sum;

	assert_int_equal(json_array_size(jget(root, "nodes")), 0);
	sum = jget(root, "summary");
	assert_int_equal(json_integer_value(jget(sum, "ok")), 0);
	assert_int_equal(json_integer_value(jget(sum, "failed")), 0);
	json_decref(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_sample),
		cmocka_unit_test(test_text_skips_failed),
		cmocka_unit_test(test_text_empty_fields),
		cmocka_unit_test(test_text_empty_device_fields),
		cmocka_unit_test(test_text_long_values_grow),
		cmocka_unit_test(test_text_control_chars),
		cmocka_unit_test(test_text_none),
		cmocka_unit_test(test_status_lines),
		cmocka_unit_test(test_json_values),
		cmocka_unit_test(test_json_layout),
		cmocka_unit_test(test_json_invalid_utf8),
		cmocka_unit_test(test_json_empty_inventory),
		cmocka_unit_test(test_json_no_nodes),
	};

	return cmocka_run_group_tests(tests, sample_setup, NULL);
}
