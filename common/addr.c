#include "addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "util.h"

/* Longest input we look at: a 253-byte name plus brackets, zone and port. */
#define ADDR_INPUT_MAX	512
#define ADDR_NAME_MAX	253
#define ADDR_LABEL_MAX	63

static int addr_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Fills err (truncating if needed) and returns FW_ERR_INVALID. */
static int addr_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return FW_ERR_INVALID;
}

static int addr_is_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* Parses a decimal port in 1-65535; in is the whole input for messages. */
static int addr_parse_port(const char *p, const char *in, uint16_t *port,
    char *err, size_t errlen)
{
	long v;

	if (*p == '\0')
		return addr_fail(err, errlen, "missing port after ':' in '%s'",
		    in);
	if (!addr_is_digits(p))
		return addr_fail(err, errlen, "invalid port '%s' in '%s'", p,
		    in);
	if (strlen(p) > 5 || fw_parse_long(p, 1, 65535, &v) != 0)
		return addr_fail(err, errlen,
		    "port %s out of range 1-65535 in '%s'", p, in);
	*port = (uint16_t)v;
	return 0;
}

/* Linux interface names: no '/', ':', '%', brackets or white space. */
static int addr_zone_char_ok(char c)
{
	return c > ' ' && c < 0x7f && strchr("/:%[]", c) == NULL;
}

/*
 * Checks "v6[%zone]" in s and copies the parts into out. When err is NULL
 * it only answers yes or no (used to recognise an unbracketed port).
 */
static int addr_split_v6(const char *s, const char *in, struct fw_addr *out,
    char *err, size_t errlen)
{
	struct in6_addr a6;
	char host[INET6_ADDRSTRLEN + 1];
	const char *pct = strchr(s, '%'), *z;
	size_t hlen = pct != NULL ? (size_t)(pct - s) : strlen(s);

	if (hlen == 0)
		return addr_fail(err, errlen, "missing IPv6 address in '%s'",
		    in);
	if (hlen >= sizeof(host))
		return addr_fail(err, errlen, "invalid IPv6 address in '%s'",
		    in);
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET6, host, &a6) != 1)
		return addr_fail(err, errlen,
		    "invalid IPv6 address '%s' in '%s'", host, in);
	if (pct != NULL) {
		if (pct[1] == '\0')
			return addr_fail(err, errlen, "empty zone in '%s'", in);
		if (strlen(pct + 1) >= sizeof(out->zone))
			return addr_fail(err, errlen,
			    "zone '%s' longer than %d characters in '%s'",
			    pct + 1, IF_NAMESIZE - 1, in);
		for (z = pct + 1; *z != '\0'; z++)
			if (!addr_zone_char_ok(*z))
				return addr_fail(err, errlen,
				    "invalid zone '%s' in '%s'", pct + 1, in);
	}
	out->kind = ADDR_IPV6;
	memcpy(out->host, host, hlen + 1);
	out->zone[0] = '\0';
	if (pct != NULL)
		memcpy(out->zone, pct + 1, strlen(pct + 1) + 1);
	return 0;
}

/* "[v6[%zone]]" with an optional ":port" after the bracket. */
static int addr_parse_bracketed(char *s, const char *in, struct fw_addr *out,
    char *err, size_t errlen)
{
	char *close = strchr(s, ']');
	struct in_addr a4;
	int r;

	if (close == NULL)
		return addr_fail(err, errlen, "missing ']' in '%s'", in);
	*close = '\0';
	if (s[1] == '\0')
		return addr_fail(err, errlen, "empty brackets in '%s'", in);
	if (strchr(s + 1, '[') != NULL)
		return addr_fail(err, errlen, "unbalanced '[' in '%s'", in);
	if (inet_pton(AF_INET, s + 1, &a4) == 1 || strchr(s + 1, ':') == NULL)
		return addr_fail(err, errlen,
		    "brackets are only for IPv6 addresses in '%s'", in);
	if ((r = addr_split_v6(s + 1, in, out, err, errlen)) != 0)
		return r;
	if (close[1] == '\0')
		return 0;
	if (close[1] != ':')
		return addr_fail(err, errlen,
		    "expected ':port' after ']' in '%s'", in);
	return addr_parse_port(close + 2, in, &out->port, err, errlen);
}

/* Two or more ':' and no brackets: a bare IPv6 address, never a port. */
static int addr_parse_bare_v6(char *s, const char *in, struct fw_addr *out,
    char *err, size_t errlen)
{
	struct fw_addr tmp;
	char *colon;
	int ok;

	if (addr_split_v6(s, in, out, NULL, 0) == 0)
		return 0;
	colon = strrchr(s, ':');
	if (addr_is_digits(colon + 1)) {
		*colon = '\0';
		ok = addr_split_v6(s, in, &tmp, NULL, 0) == 0;
		*colon = ':';
		if (ok)
			return addr_fail(err, errlen,
			    "IPv6 address with a port must be bracketed: "
			    "use [addr]:port ('%s')", in);
	}
	/* Re-run with messages for the precise reason. */
	return addr_split_v6(s, in, out, err, errlen);
}

static int addr_is_v4_shaped(const char *s)
{
	int digit = 0;

	for (; *s != '\0'; s++) {
		if (*s >= '0' && *s <= '9')
			digit = 1;
		else if (*s != '.')
			return 0;
	}
	return digit;
}

static int addr_name_char_ok(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * DNS names: labels of 1-63 letters, digits, '-' (not first or last) and
 * '_' (not valid in host names proper, but common in inventories and
 * accepted by resolvers), 253 characters at most, one optional final dot.
 */
static int addr_check_name(const char *s, const char *in, char *err,
    size_t errlen)
{
	size_t len = strlen(s), label = 0, i;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len > ADDR_NAME_MAX)
		return addr_fail(err, errlen,
		    "invalid host name '%s' (longer than %d characters)", s,
		    ADDR_NAME_MAX);
	for (i = 0; i <= len; i++) {
		if (i == len || s[i] == '.') {
			if (label == 0)
				return addr_fail(err, errlen,
				    "invalid host name '%s' (empty label)", s);
			if (s[i - 1] == '-')
				return addr_fail(err, errlen,
				    "invalid host name '%s' (label ends with "
				    "'-')", s);
			label = 0;
			continue;
		}
		if (!addr_name_char_ok(s[i]))
			return addr_fail(err, errlen,
			    (s[i] > ' ' && s[i] < 0x7f) ?
			    "invalid host name '%s' (bad character '%c')" :
			    "invalid host name '%s' (bad character 0x%02x)",
			    s, (unsigned char)s[i]);
		if (label == 0 && s[i] == '-')
			return addr_fail(err, errlen,
			    "invalid host name '%s' (label starts with '-')",
			    s);
		if (++label > ADDR_LABEL_MAX)
			return addr_fail(err, errlen,
			    "invalid host name '%s' (label longer than %d "
			    "characters)", s, ADDR_LABEL_MAX);
	}
	return 0;
}

/* "host" or "host:port" where host is a name or an IPv4 address. */
static int addr_parse_host_port(char *s, const char *in, struct fw_addr *out,
    char *err, size_t errlen)
{
	char *colon = strchr(s, ':');
	struct in_addr a4;
	int r;

	if (colon != NULL) {
		*colon = '\0';
		if ((r = addr_parse_port(colon + 1, in, &out->port, err,
		    errlen)) != 0)
			return r;
	}
	if (*s == '\0')
		return addr_fail(err, errlen, "missing host in '%s'", in);
	if (strchr(s, '%') != NULL)
		return addr_fail(err, errlen,
		    "zone only allowed on IPv6 addresses ('%s')", in);
	if (inet_pton(AF_INET, s, &a4) == 1) {
		out->kind = ADDR_IPV4;
	} else if (addr_is_v4_shaped(s)) {
		/* Resolvers would read it as a number, not as a name. */
		return addr_fail(err, errlen, "invalid IPv4 address '%s'", s);
	} else {
		if ((r = addr_check_name(s, in, err, errlen)) != 0)
			return r;
		out->kind = ADDR_NAME;
	}
	memcpy(out->host, s, strlen(s) + 1);
	return 0;
}

static size_t addr_count(const char *s, char c)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (*s == c)
			n++;
	return n;
}

int addr_parse(const char *s, uint16_t default_port, struct fw_addr *out,
    char *err, size_t errlen)
{
	char buf[ADDR_INPUT_MAX];
	struct fw_addr a;
	size_t len;
	int r = FW_ERR_INVALID;

	memset(out, 0, sizeof(*out));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	memset(&a, 0, sizeof(a));
	a.port = default_port;
	if (s == NULL || *s == '\0') {
		r = addr_fail(err, errlen, "empty address");
		goto out;
	}
	if ((len = strlen(s)) >= sizeof(buf)) {
		r = addr_fail(err, errlen, "address too long (%zu characters)",
		    len);
		goto out;
	}
	memcpy(buf, s, len + 1);
	if (buf[0] == '[')
		r = addr_parse_bracketed(buf, s, &a, err, errlen);
	else if (strchr(buf, '[') != NULL)
		r = addr_fail(err, errlen, "unexpected '[' in '%s'", s);
	else if (strchr(buf, ']') != NULL)
		r = addr_fail(err, errlen, "unbalanced ']' in '%s'", s);
	else if (addr_count(buf, ':') >= 2)
		r = addr_parse_bare_v6(buf, s, &a, err, errlen);
	else
		r = addr_parse_host_port(buf, s, &a, err, errlen);
	if (r != 0)
		goto out;
	*out = a;
	r = 0;
out:
	return r;
}

int addr_host_zone(const struct fw_addr *a, char *buf, size_t len)
{
	int r;

	if (a->zone[0] != '\0')
		r = fw_snprintf(buf, len, "%s%%%s", a->host, a->zone);
	else
		r = fw_snprintf(buf, len, "%s", a->host);
	if (r != 0 && len > 0)
		buf[0] = '\0';
	return r;
}

int addr_format(const struct fw_addr *a, char *buf, size_t len)
{
	int r;

	if (a->kind != ADDR_IPV6)
		r = fw_snprintf(buf, len, "%s:%u", a->host, a->port);
	else if (a->zone[0] != '\0')
		r = fw_snprintf(buf, len, "[%s%%%s]:%u", a->host, a->zone,
		    a->port);
	else
		r = fw_snprintf(buf, len, "[%s]:%u", a->host, a->port);
	if (r != 0 && len > 0)
		buf[0] = '\0';
	return r;
}

int addr_format_url_host(const struct fw_addr *a, char *buf, size_t len)
{
	int r;

	/* RFC 6874: the '%' before a zone is itself percent-encoded. */
	if (a->kind != ADDR_IPV6)
		r = fw_snprintf(buf, len, "%s", a->host);
	else if (a->zone[0] != '\0')
		r = fw_snprintf(buf, len, "[%s%%25%s]", a->host, a->zone);
	else
		r = fw_snprintf(buf, len, "[%s]", a->host);
	if (r != 0 && len > 0)
		buf[0] = '\0';
	return r;
}
