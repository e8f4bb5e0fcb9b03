#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/*
 * Adds every certificate serial issued to each named node's agent to
 * STATE/pki/revoked, which sessions read: the controller then refuses
 * those agents.
 */
static int revoke_one(const char *pki, const char *name)
{
	char *path = xasprintf("%s/agents/%s", pki, name), *serials = NULL;
	char *revoked = xasprintf("%s/revoked", pki);
	size_t len;
	int r = EXIT_FW_FAILURE;

	if (strchr(name, '/') != NULL || fw_read_file(path, 1u << 20,
	    &serials, &len) != 0 || len == 0) {
		fprintf(stderr, "fwfleet pki revoke: no agent certificate was "
		    "issued to '%s' here (see %s/agents)\n", name, pki);
	} else if (fw_append_file(revoked, serials, len, 0600) != 0) {
		fprintf(stderr, "fwfleet pki revoke: cannot write %s\n",
		    revoked);
	} else {
		printf("revoked the agent certificate(s) of %s\n", name);
		r = EXIT_FW_OK;
	}
	free(serials);
	free(revoked);
	free(path);
	return r;
}

static int pki_revoke_exec(const struct global_opts *g, int argc, char **argv)
{
	char pki[4096];
	int i, r = EXIT_FW_OK;

	if (argc < 2) {
		fprintf(stderr, "fwfleet pki revoke: name the node(s); see "
		    "--help\n");
		return EXIT_FW_BAD_PARAM;
	}
	if (state_path(g->state_dir, "pki", pki, sizeof(pki)) != 0)
		return EXIT_FW_FAILURE;
	for (i = 1; i < argc; i++)
		if (revoke_one(pki, argv[i]) != EXIT_FW_OK)
			r = EXIT_FW_FAILURE;
	return r;
}

const struct command cmd_pki_revoke = {
	.name = "pki revoke",
	.summary = "refuse a node's persistent agent from now on",
	.usage = "usage: fwfleet pki revoke NODE...\n\n"
	    "Revokes every certificate this controller issued to NODE's\n"
	    "persistent agent (by the node's name in the inventory): later\n"
	    "runs refuse that agent (with --via auto they go by SSH instead).\n"
	    "`fwfleet agent install` enrolls it again with a new certificate.\n",
	.exec = pki_revoke_exec,
};
