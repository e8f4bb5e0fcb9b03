/*
 * Range header parsing (RFC 9110 section 14.1.1): one byte range or none.
 */
#include "http_range.h"

#include <string.h>

/* One range-spec before it is checked against the size. */
struct range_spec {
	int suffix;		/* "-n" */
	int open;		/* "a-" */
	uint64_t a;		/* first-pos, or suffix-length */
	uint64_t b;		/* last-pos */
};

static int range_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static int range_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Moves *p past spaces and tabs, and *end back over them. */
static void range_trim(const char **p, const char **end)
{
	while (*p < *end && range_is_ows(**p))
		(*p)++;
	while (*end > *p && range_is_ows((*end)[-1]))
		(*end)--;
}

/*
 * Reads 1*DIGIT at *p (before end) into *v, saturating at UINT64_MAX.
 * Returns 0 and moves *p past the digits, or -1 if there is no digit.
 */
static int range_number(const char **p, const char *end, uint64_t *v)
{
	const char *s = *p;
	uint64_t n = 0, d;

	while (s < end && range_is_digit(*s)) {
		d = (uint64_t)(*s - '0');
		if (n > (UINT64_MAX - d) / 10)
			n = UINT64_MAX;
		else
			n = n * 10 + d;
		s++;
	}
	if (s == *p)
		return -1;
	*p = s;
	*v = n;
	return 0;
}

/* Parses one trimmed, non-empty range-spec. Returns 0 or -1 (malformed). */
static int range_spec_parse(const char *p, const char *end,
    struct range_spec *rs)
{
	memset(rs, 0, sizeof(*rs));
	if (*p == '-') {
		p++;
		rs->suffix = 1;
		if (range_number(&p, end, &rs->a) != 0)
			return -1;
		return p == end ? 0 : -1;
	}
	if (range_number(&p, end, &rs->a) != 0 || p == end || *p != '-')
		return -1;
	p++;
	if (p == end) {
		rs->open = 1;
		return 0;
	}
	if (range_number(&p, end, &rs->b) != 0 || p != end)
		return -1;
	/* RFC 9110: a range with last-pos < first-pos is invalid. */
	return rs->b < rs->a ? -1 : 0;
}

/* Applies a well-formed range-spec to a representation of size bytes. */
static enum http_range_kind range_apply(const struct range_spec *rs,
    uint64_t size, struct http_range *out)
{
	if (rs->suffix) {
		if (rs->a == 0)
			return HTTP_RANGE_UNSATISFIABLE;
		if (size == 0)
			return HTTP_RANGE_FULL;
		out->first = rs->a >= size ? 0 : size - rs->a;
		out->last = size - 1;
		return HTTP_RANGE_PARTIAL;
	}
	if (rs->a >= size)
		return HTTP_RANGE_UNSATISFIABLE;
	out->first = rs->a;
	out->last = rs->open || rs->b >= size ? size - 1 : rs->b;
	return HTTP_RANGE_PARTIAL;
}

enum http_range_kind http_range_parse(const char *value, size_t len,
    uint64_t size, struct http_range *out)
{
	static const char unit[] = "bytes=";
	const size_t ulen = sizeof(unit) - 1;
	struct range_spec rs, first;
	const char *p, *end, *elem, *eend;
	size_t i, n = 0;

	memset(out, 0, sizeof(*out));
	if (value == NULL)
		return HTTP_RANGE_FULL;
	p = value;
	end = value + len;
	range_trim(&p, &end);
	if ((size_t)(end - p) < ulen)
		return HTTP_RANGE_FULL;
	for (i = 0; i < ulen; i++) {
		char c = p[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != unit[i])
			return HTTP_RANGE_FULL;
	}
	p += ulen;
	memset(&first, 0, sizeof(first));
	for (;;) {
		elem = p;
		eend = memchr(p, ',', (size_t)(end - p));
		if (eend == NULL)
			eend = end;
		p = eend;
		range_trim(&elem, &eend);
		/* Empty list elements are skipped (RFC 9110 5.6.1). */
		if (elem != eend) {
			if (range_spec_parse(elem, eend, &rs) != 0)
				return HTTP_RANGE_FULL;
			if (n++ == 0)
				first = rs;
		}
		if (p == end)
			break;
		p++;	/* past the comma */
	}
	/* None (malformed) or several (not supported): ignore the header. */
	if (n != 1)
		return HTTP_RANGE_FULL;
	/* out stays zeroed unless the range is satisfiable. */
	return range_apply(&first, size, out);
}
