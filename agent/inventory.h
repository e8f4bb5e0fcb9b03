/*
 * The node's hardware and firmware inventory, read from a sysfs/procfs
 * root ("/" on a real node, a prepared tree in tests).
 *
 * Sources under root:
 *   sys/class/dmi/id/{sys_vendor,product_name,product_serial,
 *                     bios_vendor,bios_version,bios_date}
 *   etc/os-release (then usr/lib/os-release), proc/sys/kernel/osrelease,
 *   proc/sys/kernel/hostname; arch from uname()
 *   sys/bus/pci/devices/<addr>/{vendor,device,subsystem_vendor,
 *                               subsystem_device,class,driver -> .../name}
 *   sys/class/net/<if>/{address,device/driver -> name}; driver and firmware
 *     versions from the ethtool ioctl when root is "/", else from the file
 *     sys/class/net/<if>/ethtool holding `ethtool -i` output
 *   sys/class/nvme/<ctrl>/{model,serial,firmware_rev,address}
 *   sys/block/<dev>/{size,device/vendor,device/model,device/rev}
 *     (virtual devices without a device/ link are skipped)
 */
#ifndef FW_INVENTORY_H
#define FW_INVENTORY_H

#include <stddef.h>

#include "fwfleet.pb-c.h"

/*
 * What collection guarantees:
 *  - every string field is heap-allocated, "" when its source is missing;
 *    values are trimmed at both ends and made valid UTF-8 (bytes that are
 *    not, and control characters, become '?');
 *  - entries are sorted by name in byte order; lo, interfaces without a
 *    device link (kept in a test tree when sys/class/net/<if>/ethtool
 *    exists), block devices named loop*, ram*, dm-*, zram* or without
 *    a device/ directory are skipped; NVMe namespaces are disks too, with
 *    firmware_rev from device/firmware_rev when device/rev is missing;
 *  - a number that does not parse or is out of range (ids > 0xffff,
 *    class > 0xffffff) is 0 and adds the warning
 *    "bad value in <path under root>: \"<value>\"";
 *  - a source that exists but cannot be read adds
 *    "cannot read <path under root>: <reason>"; a dangling link, a
 *    directory, a non-regular file or a file over 64 KiB is unreadable;
 *  - os-release is read from etc/, then usr/lib/ if etc/ has none; an
 *    empty or missing hostname falls back to uname()'s nodename;
 *  - bus_info is the ethtool bus-info if known, else the name the
 *    device link points to.
 * A NULL or empty root is FW_ERR_INVALID; a root that is not a directory
 * is FW_ERR_NOT_FOUND.
 */

/*
 * Collects the inventory under root into *out (heap-allocated; free with
 * inventory_free). Sources that are missing are skipped; unreadable ones
 * add a line to (*out)->warnings. Returns 0 or an FW_ERR_* code.
 */
int inventory_collect(const char *root, Fwfleet__Inventory **out);

/* Frees an inventory built by inventory_collect (NULL is a no-op). */
void inventory_free(Fwfleet__Inventory *inv);

#endif
