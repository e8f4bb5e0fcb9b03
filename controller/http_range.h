/*
 * HTTP Range request headers (RFC 9110 section 14): what part of a
 * representation of a known size a request asks for. Pure parsing, no
 * I/O, no allocation: the input is untrusted network data.
 *
 * The policy, in short:
 *   no header, a malformed one, another unit   the whole body (200);
 *   the header is then ignored, as RFC 9110 asks
 *   one satisfiable byte range                 that range (206)
 *   one unsatisfiable byte range               416
 *   more than one range                        the whole body (200)
 * Multiple ranges would need multipart/byteranges, which no fwfleet client
 * asks for; RFC 9110 lets a server ignore Range, so it does.
 */
#ifndef FW_HTTP_RANGE_H
#define FW_HTTP_RANGE_H

#include <stddef.h>
#include <stdint.h>

enum http_range_kind {
	HTTP_RANGE_FULL,		/* serve everything: 200 */
	HTTP_RANGE_PARTIAL,		/* serve [first, last]: 206 */
	HTTP_RANGE_UNSATISFIABLE,	/* 416 */
};

/* An inclusive byte range, as Content-Range writes it. */
struct http_range {
	uint64_t first;
	uint64_t last;
};

/*
 * Evaluates the Range header value[0..len) (value may be NULL: no header)
 * against a representation of size bytes.
 *
 * Accepted forms (unit "bytes", case-insensitive; optional spaces and tabs
 * around the value and around each range-spec; empty list elements are
 * skipped): "bytes=a-b", "bytes=a-", "bytes=-n".
 *  - a-b with b < a is malformed (whole header ignored); b at or past the
 *    end is clipped to size - 1; a at or past the end is unsatisfiable.
 *  - -n is the last n bytes (all of them if n >= size); -0 is
 *    unsatisfiable.
 *  - On an empty representation every a-b and a- is unsatisfiable and -n
 *    (n > 0) is the whole, empty, body: HTTP_RANGE_FULL, since no
 *    Content-Range can name a part of nothing.
 *  - Numbers of any length saturate at UINT64_MAX instead of wrapping.
 * Fills *out only for HTTP_RANGE_PARTIAL (zeroed otherwise).
 */
enum http_range_kind http_range_parse(const char *value, size_t len,
    uint64_t size, struct http_range *out);

#endif
