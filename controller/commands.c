#include <stdio.h>
#include <string.h>

#include "command.h"

extern const struct command cmd_inventory;
extern const struct command cmd_pki_init;
extern const struct command cmd_pki_revoke;
extern const struct command cmd_engine_extract;
extern const struct command cmd_ports;
extern const struct command cmd_version;
extern const struct command cmd_repo_init;
extern const struct command cmd_repo_add;
extern const struct command cmd_repo_index;
extern const struct command cmd_repo_list;
extern const struct command cmd_repo_verify;
extern const struct command cmd_repo_sign;
extern const struct command cmd_repo_keygen;
extern const struct command cmd_plan;
extern const struct command cmd_deploy;
extern const struct command cmd_jobs;
extern const struct command cmd_report;
extern const struct command cmd_cleanup;
extern const struct command cmd_diag;
extern const struct command cmd_agent;

const struct command *const commands[] = {
	&cmd_inventory,
	&cmd_pki_init,
	&cmd_pki_revoke,
	&cmd_engine_extract,
	&cmd_ports,
	&cmd_version,
	&cmd_repo_init,
	&cmd_repo_add,
	&cmd_repo_index,
	&cmd_repo_list,
	&cmd_repo_verify,
	&cmd_repo_sign,
	&cmd_repo_keygen,
	&cmd_plan,
	&cmd_deploy,
	&cmd_jobs,
	&cmd_report,
	&cmd_cleanup,
	&cmd_diag,
	&cmd_agent,
	NULL,
};

void command_usage(const struct command *cmd, FILE *f)
{
	fprintf(f, "%s", cmd->usage);
}

int command_wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "-h") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			return 1;
	}
	return 0;
}
