#include <stdio.h>

#include "command.h"
#include "engine_image.h"

static int version_exec(const struct global_opts *g, int argc, char **argv)
{
	const struct engine_image *img;
	char err[256];

	printf("fwfleet %s\n", FWFLEET_VERSION);
	if ((img = engine_image_get("linux-x86_64", err, sizeof(err))) == NULL) {
		fprintf(stderr, "fwfleet: %s\n", err);
		return EXIT_FW_FAILURE;
	}
	printf("fwfleet-engine %s %s %zu bytes sha256 %s\n", FWFLEET_VERSION,
	    img->target, img->len, img->sha256);
	return EXIT_FW_OK;
}

const struct command cmd_version = {
	.name = "version",
	.summary = "print the controller's and the engine's versions",
	.usage = "usage: fwfleet version\n\n"
	    "Prints the controller's version and, for each embedded engine,\n"
	    "its version, target, size and sha256.\n",
	.exec = version_exec,
};
