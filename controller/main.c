/*
 * fwfleet: brings the firmware, drivers and software of a fleet of servers
 * up to a baseline. See `fwfleet --help`.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libssh/libssh.h>

#include "command.h"
#include "log.h"
#include "state.h"
#include "util.h"

static void usage(FILE *f)
{
	int i;

	fputs("usage: fwfleet [--state-dir DIR] [-v] COMMAND [ARGS]\n\n"
	    "commands:\n", f);
	for (i = 0; commands[i] != NULL; i++)
		fprintf(f, "  %-16s %s\n", commands[i]->name,
		    commands[i]->summary);
	fputs("\nRun 'fwfleet COMMAND --help' for a command's options.\n"
	    "The state directory (CA, jobs) defaults to $FWFLEET_STATE_DIR,\n"
	    "else $XDG_STATE_HOME/fwfleet, else ~/.local/state/fwfleet.\n", f);
}

/* Finds the command named by argv[0] or argv[0] argv[1] ("pki init"). */
static const struct command *find_command(int argc, char **argv, int *used)
{
	char two[128];
	int i;

	for (i = 0; argc >= 2 && commands[i] != NULL; i++) {
		if (fw_snprintf(two, sizeof(two), "%s %s", argv[0],
		    argv[1]) == 0 && strcmp(commands[i]->name, two) == 0) {
			*used = 2;
			return commands[i];
		}
	}
	for (i = 0; commands[i] != NULL; i++) {
		if (strcmp(commands[i]->name, argv[0]) == 0) {
			*used = 1;
			return commands[i];
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "state-dir", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd;
	struct global_opts g = { 0 };
	const char *state_opt = NULL;
	char state_dir[4096];
	int ch, used = 0, r;

	log_init("fwfleet", LOG_LVL_WARN);
	while ((ch = getopt_long(argc, argv, "+S:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'S': state_opt = optarg; break;
		case 'v': g.verbose++; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_FW_BAD_PARAM;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		usage(stderr);
		return EXIT_FW_BAD_PARAM;
	}
	if ((cmd = find_command(argc, argv, &used)) == NULL) {
		fprintf(stderr, "fwfleet: unknown command '%s'; see "
		    "'fwfleet --help'\n", argv[0]);
		return EXIT_FW_BAD_PARAM;
	}
	log_set_level(g.verbose >= 2 ? LOG_LVL_DEBUG :
	    g.verbose == 1 ? LOG_LVL_INFO : LOG_LVL_WARN);
	if (state_dir_resolve(state_opt, state_dir, sizeof(state_dir)) != 0) {
		fprintf(stderr, "fwfleet: cannot tell the state directory; "
		    "set --state-dir or FWFLEET_STATE_DIR\n");
		return EXIT_FW_BAD_PARAM;
	}
	g.state_dir = state_dir;
	if (command_wants_help(argc - used + 1, argv + used - 1)) {
		command_usage(cmd, stdout);
		return 0;
	}
	ssh_init();
	/* Commands parse their own options: argv[0] is the command name. */
	optind = 0;
	r = cmd->exec(&g, argc - used + 1, argv + used - 1);
	ssh_finalize();
	return r;
}
