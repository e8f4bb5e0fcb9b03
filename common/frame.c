#include "frame.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "err.h"
#include "util.h"

static uint32_t read_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int frame_decode(const uint8_t *buf, size_t len, size_t max,
    const uint8_t **payload, size_t *plen, size_t *consumed)
{
	uint32_t n;

	*payload = NULL;
	*plen = 0;
	*consumed = 0;
	if (len < FRAME_HEADER_LEN)
		return FW_ERR_AGAIN;
	n = read_be32(buf);
	if (n > max)
		return FW_ERR_FRAME_TOO_BIG;
	if (len - FRAME_HEADER_LEN < n)
		return FW_ERR_AGAIN;
	*payload = buf + FRAME_HEADER_LEN;
	*plen = n;
	*consumed = FRAME_HEADER_LEN + (size_t)n;
	return 0;
}

int frame_encode_header(size_t len, size_t max, uint8_t hdr[FRAME_HEADER_LEN])
{
	if (len > max || len > UINT32_MAX)
		return FW_ERR_FRAME_TOO_BIG;
	hdr[0] = (uint8_t)(len >> 24);
	hdr[1] = (uint8_t)(len >> 16);
	hdr[2] = (uint8_t)(len >> 8);
	hdr[3] = (uint8_t)len;
	return 0;
}

int frame_pull(struct evbuffer *in, size_t max, uint8_t **out, size_t *len)
{
	uint8_t hdr[FRAME_HEADER_LEN];
	uint32_t n;

	*out = NULL;
	*len = 0;
	if (evbuffer_copyout(in, hdr, sizeof(hdr)) != (ev_ssize_t)sizeof(hdr))
		return FW_ERR_AGAIN;
	n = read_be32(hdr);
	if (n > max)
		return FW_ERR_FRAME_TOO_BIG;
	if (evbuffer_get_length(in) - FRAME_HEADER_LEN < n)
		return FW_ERR_AGAIN;
	evbuffer_drain(in, FRAME_HEADER_LEN);
	*out = xmalloc(n);
	if (n > 0 && evbuffer_remove(in, *out, n) != (int)n) {
		free(*out);
		*out = NULL;
		return FW_ERR_INTERNAL;
	}
	*len = n;
	return 0;
}

int frame_push(struct evbuffer *out, const void *data, size_t len, size_t max)
{
	uint8_t hdr[FRAME_HEADER_LEN];
	int r;

	if ((r = frame_encode_header(len, max, hdr)) != 0)
		return r;
	if (evbuffer_add(out, hdr, sizeof(hdr)) != 0 ||
	    (len > 0 && evbuffer_add(out, data, len) != 0))
		return FW_ERR_NOMEM;
	return 0;
}
