/*
 * Node addresses as operators write them: host names, IPv4, IPv6 (bare,
 * bracketed, with a port when bracketed) and link-local IPv6 with a zone.
 *
 *   node1            node1:2222        198.18.0.5       198.18.0.5:22
 *   2001:db8::5      [2001:db8::5]     [2001:db8::5]:22
 *   fe80::1%eth0     [fe80::1%eth0]:22
 */
#ifndef FW_ADDR_H
#define FW_ADDR_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>

enum addr_kind { ADDR_NAME, ADDR_IPV4, ADDR_IPV6 };

struct fw_addr {
	enum addr_kind kind;
	char host[256];		/* no brackets, no zone */
	char zone[IF_NAMESIZE];	/* IPv6 zone ("" if none) */
	uint16_t port;
};

/*
 * Parses s into out; a missing port becomes default_port. Rejects empty
 * input, bad ports (0, > 65535, non-numeric), unbalanced brackets, a port
 * on an unbracketed IPv6 address, an empty zone, a zone on a non-IPv6
 * address, and host names that are not valid DNS names.
 * Returns 0, or FW_ERR_INVALID and fills err with what was wrong.
 */
int addr_parse(const char *s, uint16_t default_port, struct fw_addr *out,
    char *err, size_t errlen);

/* Host with zone, no port: "198.18.0.5", "fe80::1%eth0", "node1". */
int addr_host_zone(const struct fw_addr *a, char *buf, size_t len);

/* Host and port as one string: "node1:22", "[2001:db8::5]:22". */
int addr_format(const struct fw_addr *a, char *buf, size_t len);

/* Same without the port, for a URL: "node1", "[fe80::1%25eth0]". */
int addr_format_url_host(const struct fw_addr *a, char *buf, size_t len);

#endif
