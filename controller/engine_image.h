/*
 * The engine binaries embedded in the controller (gzip-compressed at build
 * time). Inflated once on first use and kept for the process's life.
 */
#ifndef FW_ENGINE_IMAGE_H
#define FW_ENGINE_IMAGE_H

#include <stddef.h>

struct engine_image {
	const char *target;		/* "linux-x86_64" */
	const unsigned char *data;	/* the engine binary */
	size_t len;
	char sha256[65];		/* of data */
	const unsigned char *gz;	/* the same, gzip-compressed */
	size_t gz_len;
};

/*
 * Returns the engine for target ("linux-x86_64"), inflating it on first
 * use, or NULL (err filled) if there is none or it is corrupt.
 * Thread safe.
 */
const struct engine_image *engine_image_get(const char *target, char *err,
    size_t errlen);

#endif
