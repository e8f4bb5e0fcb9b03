#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "command.h"
#include "engine_image.h"
#include "util.h"

static const char extract_usage[] =
	"usage: fwfleet engine extract DIR\n\n"
	"Writes each engine embedded in this controller to\n"
	"DIR/fwfleet-engine-TARGET (0755) and prints its sha256.\n";

static int extract_exec(const struct global_opts *g, int argc, char **argv)
{
	const struct engine_image *img;
	char path[4096], err[256];

	if (argc != 2 || argv[1][0] == '-') {
		fputs(extract_usage, stderr);
		return EXIT_FW_BAD_PARAM;
	}
	if ((img = engine_image_get("linux-x86_64", err, sizeof(err))) == NULL) {
		fprintf(stderr, "fwfleet: %s\n", err);
		return EXIT_FW_FAILURE;
	}
	if (fw_snprintf(path, sizeof(path), "%s/fwfleet-engine-%s", argv[1],
	    img->target) != 0 ||
	    fw_write_file(path, img->data, img->len, 0755) != 0) {
		fprintf(stderr, "fwfleet: cannot write %s: %s\n", path,
		    strerror(errno));
		return EXIT_FW_FAILURE;
	}
	printf("%s  %s\n", img->sha256, path);
	return EXIT_FW_OK;
}

const struct command cmd_engine_extract = {
	.name = "engine extract",
	.summary = "write the embedded engine binaries to a directory",
	.usage = extract_usage,
	.exec = extract_exec,
};
