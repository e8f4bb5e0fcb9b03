/*
 * Controller subcommands. Each lives in its own cmd_*.c and exports one
 * const struct command; commands.c lists them all.
 */
#ifndef FW_COMMAND_H
#define FW_COMMAND_H

#include <stdio.h>

/* Exit codes, as HP SUM's CLI. */
#define EXIT_FW_OK		0
#define EXIT_FW_REBOOT		1
#define EXIT_FW_NOTHING		3
#define EXIT_FW_COMPONENT	253
#define EXIT_FW_BAD_PARAM	254
#define EXIT_FW_FAILURE		255

struct global_opts {
	const char *state_dir;	/* resolved state directory */
	int verbose;
};

struct command {
	const char *name;	/* "inventory", "pki init", ... */
	const char *summary;	/* one line for the command list */
	const char *usage;	/* full --help text */
	int (*exec)(const struct global_opts *g, int argc, char **argv);
};

extern const struct command *const commands[];

/* Prints cmd's usage to f. */
void command_usage(const struct command *cmd, FILE *f);

/* True if argv holds -h or --help (before any "--"). */
int command_wants_help(int argc, char **argv);

#endif
