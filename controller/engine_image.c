#include "engine_image.h"

#include <pthread.h>
#include <stdlib.h>
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

static void image_inflate(void)
{
	size_t zlen = (size_t)(fw_engine_linux_x86_64_z_end -
	    fw_engine_linux_x86_64_z);
	size_t cap = zlen * 4;
	unsigned char *buf = NULL;
	uLongf out_len;
	int zr;

	for (;;) {
		buf = xrealloc(buf, cap, 1);
		out_len = cap;
		zr = uncompress(buf, &out_len, fw_engine_linux_x86_64_z, zlen);
		if (zr != Z_BUF_ERROR || cap >= ENGINE_MAX_SIZE)
			break;
		cap *= 2;
	}
	if (zr != Z_OK) {
		fw_snprintf(image_err, sizeof(image_err), "the embedded "
		    "engine is corrupt (zlib error %d)", zr);
		free(buf);
		return;
	}
	image.target = "linux-x86_64";
	image.data = buf;
	image.len = out_len;
	fw_sha256_hex(buf, out_len, image.sha256);
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

const char *engine_image_target(const char *uname_sm)
{
	if (strncmp(uname_sm, "Linux ", 6) != 0)
		return NULL;
	if (strcmp(uname_sm + 6, "x86_64") == 0 ||
	    strcmp(uname_sm + 6, "amd64") == 0)
		return "linux-x86_64";
	if (strcmp(uname_sm + 6, "aarch64") == 0)
		return "linux-aarch64";
	return NULL;
}
