/*
 * Length-prefixed frames: a u32 length in network order, then that many
 * bytes. The length is checked against the caller's maximum before any
 * allocation.
 */
#ifndef FW_FRAME_H
#define FW_FRAME_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define FRAME_HEADER_LEN	4
#define FRAME_MAX_DEFAULT	(4u * 1024 * 1024)

/*
 * Looks for one complete frame at the start of buf[0..len).
 * On success returns 0, points *payload into buf, sets *plen and sets
 * *consumed to the bytes the frame occupies. Returns FW_ERR_AGAIN if more
 * bytes are needed, FW_ERR_FRAME_TOO_BIG if the header announces more than
 * max. Never allocates.
 */
int frame_decode(const uint8_t *buf, size_t len, size_t max,
    const uint8_t **payload, size_t *plen, size_t *consumed);

/* Writes the 4-byte header for a payload of len bytes. */
int frame_encode_header(size_t len, size_t max, uint8_t hdr[FRAME_HEADER_LEN]);

/*
 * Removes one frame from in and returns its payload in *out (malloc'd,
 * caller frees) and *len. Returns 0, FW_ERR_AGAIN (nothing removed) or
 * FW_ERR_FRAME_TOO_BIG (nothing removed; the connection should be closed).
 */
int frame_pull(struct evbuffer *in, size_t max, uint8_t **out, size_t *len);

/* Appends one frame holding data[0..len) to out. */
int frame_push(struct evbuffer *out, const void *data, size_t len, size_t max);

#endif
