#include "engine_image.h"

#include <pthread.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "err.h"
#include "util.h"

extern const unsigned char fw_engine_linux_x86_64_z[];
extern const unsigned char fw_engine_linux_x86_64_z_end[];

#define ENGINE_MAX_SIZE (256u * 1024 * 1024)

static pthread_once_t image_once = PTHREAD_ONCE_INIT;
static struct engine_image image;
static char image_err[128];

/* Inflates the gzip blob into a buffer that grows as needed. */
static int gunzip(const unsigned char *gz, size_t gz_len, unsigned char **out,
    size_t *out_len)
{
	z_stream z = { 0 };
	size_t cap = gz_len * 3;
	unsigned char *buf = NULL;
	int zr;

	if (inflateInit2(&z, 15 + 16) != Z_OK)
		return Z_MEM_ERROR;
	z.next_in = (unsigned char *)(uintptr_t)gz;
	z.avail_in = (uInt)gz_len;
	do {
		if (z.total_out == cap || buf == NULL) {
			if (buf != NULL)
				cap *= 2;
			if (cap > ENGINE_MAX_SIZE) {
				zr = Z_BUF_ERROR;
				break;
			}
			buf = xrealloc(buf, cap, 1);
		}
		z.next_out = buf + z.total_out;
		z.avail_out = (uInt)(cap - z.total_out);
		zr = inflate(&z, Z_NO_FLUSH);
	} while (zr == Z_OK);
	*out_len = z.total_out;
	inflateEnd(&z);
	if (zr != Z_STREAM_END) {
		free(buf);
		return zr == Z_OK ? Z_DATA_ERROR : zr;
	}
	*out = buf;
	return Z_OK;
}

static void image_inflate(void)
{
	size_t gz_len = (size_t)(fw_engine_linux_x86_64_z_end -
	    fw_engine_linux_x86_64_z);
	unsigned char *buf = NULL;
	size_t len = 0;
	int zr;

	if ((zr = gunzip(fw_engine_linux_x86_64_z, gz_len, &buf, &len)) !=
	    Z_OK) {
		fw_snprintf(image_err, sizeof(image_err), "the embedded "
		    "engine is corrupt (zlib error %d)", zr);
		return;
	}
	image.target = "linux-x86_64";
	image.data = buf;
	image.len = len;
	image.gz = fw_engine_linux_x86_64_z;
	image.gz_len = gz_len;
	fw_sha256_hex(buf, len, image.sha256);
}

const struct engine_image *engine_image_get(const char *target, char *err,
    size_t errlen)
{
	if (target == NULL || strcmp(target, "linux-x86_64") != 0) {
		fw_snprintf(err, errlen, "no engine for %s in this build "
		    "(have: linux-x86_64)", target ? target : "this platform");
		return NULL;
	}
	pthread_once(&image_once, image_inflate);
	if (image.data == NULL) {
		fw_snprintf(err, errlen, "%s", image_err);
		return NULL;
	}
	return &image;
}
