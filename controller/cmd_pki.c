#include <getopt.h>
#include <stdio.h>

#include "command.h"
#include "err.h"
#include "pki.h"
#include "state.h"
#include "util.h"

static int pki_init_exec(const struct global_opts *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	char dir[4096], err[512];
	int ch, force = 0, r;

	while ((ch = getopt_long(argc, argv, "f", longopts, NULL)) != -1) {
		if (ch != 'f')
			return EXIT_FW_BAD_PARAM;
		force = 1;
	}
	if (state_path(g->state_dir, "pki", dir, sizeof(dir)) != 0 ||
	    fw_mkdirs(g->state_dir, 0700) != 0) {
		fprintf(stderr, "fwfleet: cannot create the state directory "
		    "%s\n", g->state_dir);
		return EXIT_FW_FAILURE;
	}
	r = pki_ca_init(dir, force, err, sizeof(err));
	if (r == FW_ERR_EXISTS) {
		/* Idempotent: an existing CA is kept, never replaced silently. */
		printf("the controller CA in %s already exists; kept it "
		    "(--force replaces it)\n", dir);
		return EXIT_FW_OK;
	}
	if (r != 0) {
		fprintf(stderr, "fwfleet: %s\n", err);
		return EXIT_FW_FAILURE;
	}
	printf("created the controller CA in %s\n", dir);
	return EXIT_FW_OK;
}

const struct command cmd_pki_init = {
	.name = "pki init",
	.summary = "create the controller's certificate authority",
	.usage = "usage: fwfleet pki init [--force]\n\n"
	    "Creates the CA (ca.key, 0600, and ca.crt) in STATE_DIR/pki. Each\n"
	    "session then issues short-lived certificates from it for the\n"
	    "controller and each engine. An existing CA is kept; --force\n"
	    "replaces it (engines and agents issued from the old one stop\n"
	    "being trusted).\n",
	.exec = pki_init_exec,
};
