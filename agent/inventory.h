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
 * Collects the inventory under root into *out (heap-allocated; free with
 * inventory_free). Sources that are missing are skipped; unreadable ones
 * add a line to (*out)->warnings. Returns 0 or an FW_ERR_* code.
 */
int inventory_collect(const char *root, Fwfleet__Inventory **out);

/* Frees an inventory built by inventory_collect (NULL is a no-op). */
void inventory_free(Fwfleet__Inventory *inv);

#endif
