#include "render.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "util.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Width of the label column ("System", "Devices", ...) after the indent. */
#define LABEL_WIDTH	10
/* Space between device columns. */
#define COL_GAP		2

/* Minimum widths of the device columns KIND, NAME and MODEL / DRIVER. */
static const size_t col_min[3] = { 4, 14, 29 };


/* Columns a cleaned string takes: its code points (wide glyphs aside). */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s != '\0'; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	}
	return w;
}

/* Formats into a new string fit for the terminal; caller frees. */
__attribute__((format(printf, 1, 2)))
static char *textf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	fw_text_clean(s, 0);
	return s;
}

static int empty(const char *s)
{
	return s == NULL || *s == '\0';
}

/* s, or "-" when there is nothing to show. */
static const char *dash(const char *s)
{
	return empty(s) ? "-" : s;
}

/* "a b", or whichever of the two is set, or "-". */
static char *join2(const char *a, const char *b)
{
	if (!empty(a) && !empty(b))
		return textf("%s %s", a, b);
	return textf("%s", empty(a) ? dash(b) : a);
}

/*
 * Copies s on one line: each run of line breaks becomes "; ", breaks at
 * either end are dropped. Caller frees.
 */
static char *one_line(const char *s)
{
	size_t len = strlen(s), o = 0, i;
	char *out = xmalloc(2 * len + 1);

	for (i = 0; i < len; i++) {
		if (s[i] != '\n' && s[i] != '\r') {
			out[o++] = s[i];
			continue;
		}
		while (s[i + 1] == '\n' || s[i + 1] == '\r')
			i++;
		if (o > 0 && s[i + 1] != '\0') {
			memcpy(out + o, "; ", 2);
			o += 2;
		}
	}
	out[o] = '\0';
	fw_text_clean(out, 0);
	return out;
}

static void put_field(FILE *f, const char *label, const char *value)
{
	fprintf(f, "  %-*s%s\n", LABEL_WIDTH, label, value);
}

/* put_field(), then frees value. */
static void put_owned(FILE *f, const char *label, char *value)
{
	put_field(f, label, value);
	free(value);
}

static void put_system(FILE *f, const Fwfleet__Inventory *inv)
{
	static const Fwfleet__System none = FWFLEET__SYSTEM__INIT;
	const Fwfleet__System *s = inv->system ? inv->system : &none;
	char *model = join2(s->vendor, s->product);
	char *bios = join2(s->bios_vendor, s->bios_version);

	put_owned(f, "System", textf("%s, serial %s", model, dash(s->serial)));
	if (empty(s->bios_date))
		put_owned(f, "BIOS", textf("%s", bios));
	else
		put_owned(f, "BIOS", textf("%s (%s)", bios, s->bios_date));
	free(model);
	free(bios);
}

static void put_os(FILE *f, const Fwfleet__Inventory *inv)
{
	static const Fwfleet__Os none = FWFLEET__OS__INIT;
	const Fwfleet__Os *os = inv->os ? inv->os : &none;

	put_owned(f, "OS", textf("%s, kernel %s, %s", dash(os->name),
				 dash(os->kernel), dash(os->arch)));
}

/* One line of the device table; cells are cleaned, owned strings. */
struct row {
	char *cell[4];	/* kind, name, model / driver, firmware */
	int spans;	/* the third cell may run into the fourth (PCI) */
};

static void row_free(struct row *row)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(row->cell); i++)
		free(row->cell[i]);
}

static void rows_add_nics(struct row *rows, size_t *n,
			  const Fwfleet__Inventory *inv)
{
	const Fwfleet__NetInterface *nic;
	struct row *row;
	size_t i;

	for (i = 0; i < inv->n_nics; i++) {
		nic = inv->nics[i];
		row = &rows[(*n)++];
		row->cell[0] = textf("nic");
		row->cell[1] = textf("%s", dash(nic->name));
		if (empty(nic->bus_info))
			row->cell[2] = textf("%s", dash(nic->driver));
		else
			row->cell[2] = textf("%s (%s)", dash(nic->driver),
					     nic->bus_info);
		row->cell[3] = textf("%s", dash(nic->firmware_version));
	}
}

static void rows_add_nvme(struct row *rows, size_t *n,
			  const Fwfleet__Inventory *inv)
{
	const Fwfleet__NvmeController *c;
	struct row *row;
	size_t i;

	for (i = 0; i < inv->n_nvme; i++) {
		c = inv->nvme[i];
		row = &rows[(*n)++];
		row->cell[0] = textf("nvme");
		row->cell[1] = textf("%s", dash(c->name));
		row->cell[2] = textf("%s", dash(c->model));
		row->cell[3] = textf("%s", dash(c->firmware_rev));
	}
}

static void rows_add_disks(struct row *rows, size_t *n,
			   const Fwfleet__Inventory *inv)
{
	const Fwfleet__BlockDevice *d;
	struct row *row;
	size_t i;

	for (i = 0; i < inv->n_disks; i++) {
		d = inv->disks[i];
		row = &rows[(*n)++];
		row->cell[0] = textf("disk");
		row->cell[1] = textf("%s", dash(d->name));
		row->cell[2] = join2(d->vendor, d->model);
		row->cell[3] = textf("%s", dash(d->firmware_rev));
	}
}

static void rows_add_pci(struct row *rows, size_t *n,
			 const Fwfleet__Inventory *inv)
{
	const Fwfleet__PciDevice *p;
	struct row *row;
	size_t i;

	for (i = 0; i < inv->n_pci; i++) {
		p = inv->pci[i];
		row = &rows[(*n)++];
		row->cell[0] = textf("pci");
		row->cell[1] = textf("%s", dash(p->address));
		row->cell[2] = textf("%04x:%04x sub %04x:%04x class %06x",
				     p->vendor_id, p->device_id,
				     p->subsystem_vendor_id,
				     p->subsystem_device_id, p->class_code);
		row->cell[3] = textf("driver %s", dash(p->driver));
		row->spans = 1;
	}
}

static void put_padded(FILE *f, const char *s, size_t width)
{
	size_t w = text_width(s);

	fputs(s, f);
	fprintf(f, "%*s", (int)((w < width ? width - w : 0) + COL_GAP), "");
}

static void put_row(FILE *f, const char *label, char *const cell[4],
		    const size_t width[3])
{
	size_t i;

	fprintf(f, "  %-*s", LABEL_WIDTH, label);
	for (i = 0; i < 3; i++)
		put_padded(f, cell[i], width[i]);
	fprintf(f, "%s\n", cell[3]);
}

/*
 * Columns are as wide as their longest cell (never less than col_min);
 * a PCI description does not widen the model column, it runs on.
 */
static void put_table(FILE *f, const struct row *rows, size_t n)
{
	static char *const head[4] = {
		"KIND", "NAME", "MODEL / DRIVER", "FIRMWARE"
	};
	size_t width[3], i, c, w;

	memcpy(width, col_min, sizeof(width));
	for (i = 0; i < n; i++) {
		for (c = 0; c < 3; c++) {
			w = text_width(rows[i].cell[c]);
			if (w > width[c] && !(c == 2 && rows[i].spans))
				width[c] = w;
		}
	}
	put_row(f, "Devices", head, width);
	for (i = 0; i < n; i++)
		put_row(f, "", rows[i].cell, width);
}

static void put_devices(FILE *f, const Fwfleet__Inventory *inv)
{
	size_t total = inv->n_nics + inv->n_nvme + inv->n_disks + inv->n_pci;
	struct row *rows;
	size_t n = 0, i;

	if (total == 0) {
		put_field(f, "Devices", "-");
		return;
	}
	rows = xcalloc(total, sizeof(*rows));
	rows_add_nics(rows, &n, inv);
	rows_add_nvme(rows, &n, inv);
	rows_add_disks(rows, &n, inv);
	rows_add_pci(rows, &n, inv);
	put_table(f, rows, n);
	for (i = 0; i < n; i++)
		row_free(&rows[i]);
	free(rows);
}

static void put_warnings(FILE *f, const Fwfleet__Inventory *inv)
{
	const char *label = "Warnings";
	size_t i;

	for (i = 0; i < inv->n_warnings; i++) {
		put_owned(f, label, one_line(inv->warnings[i]));
		label = "";
	}
}

void render_inventory_text(FILE *f, const struct node_result *r, size_t n)
{
	char *head;
	size_t i;
	int first = 1;

	for (i = 0; i < n; i++) {
		if (!r[i].ok || r[i].inv == NULL)
			continue;
		head = textf("== %s (%s) ==", dash(r[i].name),
			     dash(r[i].address));
		fprintf(f, "%s%s\n", first ? "" : "\n", head);
		free(head);
		first = 0;
		put_system(f, r[i].inv);
		put_os(f, r[i].inv);
		put_devices(f, r[i].inv);
		put_warnings(f, r[i].inv);
	}
}

void render_status_lines(FILE *f, const struct node_result *r, size_t n)
{
	char *name, *why;
	size_t i;

	for (i = 0; i < n; i++) {
		name = textf("%s", dash(r[i].name));
		if (r[i].ok) {
			fprintf(f, "%s: ok\n", name);
		} else {
			why = one_line(empty(r[i].error) ? "unknown error" :
				       r[i].error);
			fprintf(f, "%s: failed: %s\n", name, why);
			free(why);
		}
		free(name);
	}
}

/* --- JSON ---------------------------------------------------------------- */

/* A JSON string of s (NULL reads as ""), invalid UTF-8 replaced by '?'. */
static json_t *str_json(const char *s)
{
	char *copy = xstrdup(s ? s : "");
	json_t *j;

	fw_text_clean(copy, FW_TEXT_KEEP_TAB | FW_TEXT_KEEP_BREAKS |
	    FW_TEXT_KEEP_C0 | FW_TEXT_KEEP_C1);
	j = json_string(copy);
	free(copy);
	return j;
}

/* A string field of a protobuf-c message, found by its offset. */
struct str_field {
	const char *key;
	size_t off;
};

#define STR_FIELD(type, member)	{ #member, offsetof(type, member) }

static const struct str_field system_fields[] = {
	STR_FIELD(Fwfleet__System, vendor),
	STR_FIELD(Fwfleet__System, product),
	STR_FIELD(Fwfleet__System, serial),
	STR_FIELD(Fwfleet__System, bios_vendor),
	STR_FIELD(Fwfleet__System, bios_version),
	STR_FIELD(Fwfleet__System, bios_date),
};

static const struct str_field os_fields[] = {
	STR_FIELD(Fwfleet__Os, name),
	STR_FIELD(Fwfleet__Os, id),
	STR_FIELD(Fwfleet__Os, version_id),
	STR_FIELD(Fwfleet__Os, kernel),
	STR_FIELD(Fwfleet__Os, arch),
	STR_FIELD(Fwfleet__Os, hostname),
};

static const struct str_field nic_fields[] = {
	STR_FIELD(Fwfleet__NetInterface, name),
	STR_FIELD(Fwfleet__NetInterface, driver),
	STR_FIELD(Fwfleet__NetInterface, driver_version),
	STR_FIELD(Fwfleet__NetInterface, firmware_version),
	STR_FIELD(Fwfleet__NetInterface, bus_info),
	STR_FIELD(Fwfleet__NetInterface, mac),
};

static const struct str_field nvme_fields[] = {
	STR_FIELD(Fwfleet__NvmeController, name),
	STR_FIELD(Fwfleet__NvmeController, model),
	STR_FIELD(Fwfleet__NvmeController, serial),
	STR_FIELD(Fwfleet__NvmeController, firmware_rev),
	STR_FIELD(Fwfleet__NvmeController, pci_address),
};

static const struct str_field disk_fields[] = {
	STR_FIELD(Fwfleet__BlockDevice, name),
	STR_FIELD(Fwfleet__BlockDevice, vendor),
	STR_FIELD(Fwfleet__BlockDevice, model),
	STR_FIELD(Fwfleet__BlockDevice, firmware_rev),
};

/* Adds the listed string fields of msg to o; 0 or -1. */
static int set_fields(json_t *o, const void *msg,
		      const struct str_field *fields, size_t n)
{
	const char *v;
	size_t i;

	for (i = 0; i < n; i++) {
		memcpy(&v, (const char *)msg + fields[i].off, sizeof(v));
		if (json_object_set_new(o, fields[i].key, str_json(v)) != 0)
			return -1;
	}
	return 0;
}

/* A new object of the listed string fields of msg, or NULL. */
static json_t *fields_json(const void *msg, const struct str_field *fields,
			   size_t n)
{
	json_t *o = json_object();

	if (o != NULL && set_fields(o, msg, fields, n) != 0) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* v as at least digits lowercase hex digits ("8086"); junk is not cut. */
static json_t *hex_json(unsigned int v, int digits)
{
	char buf[16];

	if (fw_snprintf(buf, sizeof(buf), "%0*x", digits, v) != 0)
		return NULL;
	return json_string(buf);
}

static json_t *pci_json(const Fwfleet__Inventory *inv, size_t i)
{
	const Fwfleet__PciDevice *p = inv->pci[i];
	json_t *o = json_object();

	if (o == NULL ||
	    json_object_set_new(o, "address", str_json(p->address)) != 0 ||
	    json_object_set_new(o, "vendor_id",
				hex_json(p->vendor_id, 4)) != 0 ||
	    json_object_set_new(o, "device_id",
				hex_json(p->device_id, 4)) != 0 ||
	    json_object_set_new(o, "subsystem_vendor_id",
				hex_json(p->subsystem_vendor_id, 4)) != 0 ||
	    json_object_set_new(o, "subsystem_device_id",
				hex_json(p->subsystem_device_id, 4)) != 0 ||
	    json_object_set_new(o, "class", hex_json(p->class_code, 6)) != 0 ||
	    json_object_set_new(o, "driver", str_json(p->driver)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *nic_json(const Fwfleet__Inventory *inv, size_t i)
{
	return fields_json(inv->nics[i], nic_fields, ARRAY_SIZE(nic_fields));
}

static json_t *nvme_json(const Fwfleet__Inventory *inv, size_t i)
{
	return fields_json(inv->nvme[i], nvme_fields, ARRAY_SIZE(nvme_fields));
}

static json_t *disk_json(const Fwfleet__Inventory *inv, size_t i)
{
	const Fwfleet__BlockDevice *d = inv->disks[i];
	json_t *o = fields_json(d, disk_fields, ARRAY_SIZE(disk_fields));
	/* No disk holds 2^63 bytes; a junk value must not turn negative. */
	json_int_t size = d->size_bytes > (uint64_t)LLONG_MAX ?
		LLONG_MAX : (json_int_t)d->size_bytes;

	if (o != NULL &&
	    json_object_set_new(o, "size_bytes", json_integer(size)) != 0) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

static json_t *warning_json(const Fwfleet__Inventory *inv, size_t i)
{
	return str_json(inv->warnings[i]);
}

/* An array of item(inv, 0..n-1), or NULL. */
static json_t *list_json(const Fwfleet__Inventory *inv, size_t n,
			 json_t *(*item)(const Fwfleet__Inventory *, size_t))
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		if (json_array_append_new(a, item(inv, i)) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

static json_t *inventory_json(const Fwfleet__Inventory *inv)
{
	static const Fwfleet__System no_system = FWFLEET__SYSTEM__INIT;
	static const Fwfleet__Os no_os = FWFLEET__OS__INIT;
	const Fwfleet__System *sys = inv->system ? inv->system : &no_system;
	const Fwfleet__Os *os = inv->os ? inv->os : &no_os;
	json_t *o = json_object();

	if (o == NULL ||
	    json_object_set_new(o, "system", fields_json(sys, system_fields,
				ARRAY_SIZE(system_fields))) != 0 ||
	    json_object_set_new(o, "os", fields_json(os, os_fields,
				ARRAY_SIZE(os_fields))) != 0 ||
	    json_object_set_new(o, "pci",
				list_json(inv, inv->n_pci, pci_json)) != 0 ||
	    json_object_set_new(o, "nics",
				list_json(inv, inv->n_nics, nic_json)) != 0 ||
	    json_object_set_new(o, "nvme",
				list_json(inv, inv->n_nvme, nvme_json)) != 0 ||
	    json_object_set_new(o, "disks",
				list_json(inv, inv->n_disks, disk_json)) != 0 ||
	    json_object_set_new(o, "warnings", list_json(inv, inv->n_warnings,
				warning_json)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Seconds to two decimals; nonsense (negative, NaN) reads as 0. */
static json_t *elapsed_json(double s)
{
	if (!isfinite(s) || s < 0)
		s = 0;
	if (s < 1e9)
		s = (double)(long long)(s * 100 + 0.5) / 100;
	return json_real(s);
}

static int set_node_fields(json_t *o, const struct node_result *r)
{
	const char *why = empty(r->error) ? "unknown error" : r->error;

	if (json_object_set_new(o, "name", str_json(r->name)) != 0 ||
	    json_object_set_new(o, "address", str_json(r->address)) != 0 ||
	    json_object_set_new(o, "status",
				json_string(r->ok ? "ok" : "failed")) != 0)
		return -1;
	if (!r->ok && json_object_set_new(o, "error", str_json(why)) != 0)
		return -1;
	if (json_object_set_new(o, "elapsed_s",
				elapsed_json(r->elapsed_s)) != 0)
		return -1;
	if (r->inv != NULL && json_object_set_new(o, "inventory",
						  inventory_json(r->inv)) != 0)
		return -1;
	return 0;
}

static json_t *node_json(const struct node_result *r)
{
	json_t *o = json_object();

	if (o != NULL && set_node_fields(o, r) != 0) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

static json_t *nodes_json(const struct node_result *r, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a != NULL && i < n; i++) {
		if (json_array_append_new(a, node_json(&r[i])) != 0) {
			json_decref(a);
			a = NULL;
		}
	}
	return a;
}

static json_t *summary_json(const struct node_result *r, size_t n)
{
	json_int_t ok = 0;
	size_t i;

	for (i = 0; i < n; i++)
		ok += r[i].ok != 0;
	return json_pack("{s:I, s:I}", "ok", ok, "failed", (json_int_t)n - ok);
}

char *render_inventory_json(const struct node_result *r, size_t n)
{
	json_t *root;
	char *out = NULL;

	if ((root = json_object()) == NULL ||
	    json_object_set_new(root, "nodes", nodes_json(r, n)) != 0 ||
	    json_object_set_new(root, "summary", summary_json(r, n)) != 0)
		goto out;
	/* Precision 15 prints 1.23 as 1.23, not 1.2299999999999999. */
	out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
			 JSON_REAL_PRECISION(15));
out:
	json_decref(root);
	return out;
}
