/*
 * Component manifests (component.json): what a component is, which nodes
 * and devices it applies to, where its installed version is read, how it
 * installs, and its payload files. The format is in docs/repository.md.
 *
 * Parsing is strict: an unknown field (other than "x-..." extensions), a
 * wrong type or a bad value is an error that names the file and the
 * field, e.g.
 *   components/x/1.0/component.json: field 'installer.timeout_s': must be
 *   a positive integer
 */
#ifndef FW_MANIFEST_H
#define FW_MANIFEST_H

#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "fwfleet.pb-c.h"

enum manifest_kind { MANIFEST_FIRMWARE, MANIFEST_DRIVER, MANIFEST_SOFTWARE };

/* Where the installed version is read (installed_version.field). */
enum manifest_source {
	SRC_BIOS_VERSION,	/* system.bios_version */
	SRC_NIC_FIRMWARE,	/* nic.firmware_version */
	SRC_NIC_DRIVER,		/* nic.driver_version */
	SRC_NVME_FIRMWARE,	/* nvme.firmware_rev */
	SRC_DISK_FIRMWARE,	/* disk.firmware_rev */
	SRC_PACKAGE,		/* package:<name>: not read yet (unknown) */
};

/*
 * One applies_to entry. Every field given must match (NULL / has_pci 0:
 * not given). String patterns match exactly, or as a prefix when they end
 * in '*'. nic_driver and nvme_model bind to devices on the PCI function
 * given by pci, if any.
 */
struct manifest_matcher {
	int has_pci;
	int has_subsys;		/* pci gave 4 ids */
	uint16_t vendor, device, sub_vendor, sub_device;
	char *dmi_product;
	char *dmi_vendor;
	char *nvme_model;
	char *nic_driver;
	char *disk_model;
};

struct manifest_file {
	char *name;		/* plain file name beside component.json */
	uint64_t size;
	char sha256[65];	/* lowercase hex */
	int hashed;		/* size and sha256 given (always, unless
				   MANIFEST_UNHASHED) */
};

struct manifest_dep {
	char *id;
	char *min_version;
};

struct manifest {
	char *id;		/* [a-z0-9._-], starts with [a-z0-9] */
	char *name;
	char *version;		/* [A-Za-z0-9._+~-], from [A-Za-z0-9] */
	char *description;	/* NULL if not given */
	enum manifest_kind kind;
	char **os;		/* "linux", "windows" or os-release IDs */
	size_t n_os;
	char **arch;		/* "x86_64", "aarch64", "any" */
	size_t n_arch;
	int applies_all;	/* applies_to: "all" */
	struct manifest_matcher *match;
	size_t n_match;
	enum manifest_source source;
	char *package;		/* SRC_PACKAGE: the package name */
	char *regex;		/* installed_version.regex, or NULL */
	regex_t re;		/* compiled regex (if regex != NULL) */
	char **argv;		/* installer.command, NULL-terminated */
	size_t argc;
	unsigned timeout_s;	/* installer.timeout_s (default 600) */
	Fwfleet__ReturnCodeMap *rc;	/* return_codes, ready for an
					   InstallRequest */
	int reboot_required;
	struct manifest_dep *deps;
	size_t n_deps;
	struct manifest_file *files;
	size_t n_files;
};

/* Parse flags. */
#define MANIFEST_UNHASHED	0x1	/* files[].size, sha256 optional */

#define MANIFEST_MAX_SIZE	(1024 * 1024)
#define MANIFEST_DEFAULT_TIMEOUT	600
#define MANIFEST_MAX_TIMEOUT	86400

/*
 * Parses a manifest from the JSON value root. where names the file in
 * messages ("components/x/1.0/component.json"). Returns 0 with *out (free
 * with manifest_free), or FW_ERR_PARSE with err filled as
 * "WHERE: field 'F': what is wrong".
 */
int manifest_from_json(json_t *root, const char *where, int flags,
    struct manifest **out, char *err, size_t errlen);

/* The same from JSON text of len bytes (syntax errors give WHERE:L:C). */
int manifest_parse(const char *text, size_t len, const char *where,
    int flags, struct manifest **out, char *err, size_t errlen);

/* Frees m and everything it holds; NULL is a no-op. */
void manifest_free(struct manifest *m);

/* "firmware", "driver", "software". */
const char *manifest_kind_name(enum manifest_kind k);

/* Parses a kind name. Returns 0 or FW_ERR_INVALID. */
int manifest_kind_parse(const char *s, enum manifest_kind *out);

/* The installed_version.field text ("nic.firmware_version", ...). */
const char *manifest_source_name(enum manifest_source s);

/* Syntax checks, shared with the repository index. */
int manifest_id_valid(const char *id);
int manifest_version_valid(const char *version);
int manifest_file_name_valid(const char *name);
int manifest_sha256_valid(const char *hex);

/*
 * The version in value by m's installed_version.regex (its first capture
 * group) into a new string, or a copy of value if m has no regex. NULL if
 * the regex does not match or the result is empty.
 */
char *manifest_extract_version(const struct manifest *m, const char *value);

/* True if s matches the matcher pattern pat (exact, or prefix with '*'). */
int manifest_pattern_match(const char *pat, const char *s);

#endif
