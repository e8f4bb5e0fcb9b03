/*
 * The options of the commands that pick components from a repository
 * (plan, deploy): the repository and how it is trusted, and which of its
 * components count. Used like cli_nodes.h: CLI_SELECT_LONGOPTS and
 * CLI_SELECT_SHORTOPTS in the command's tables, cli_select_opt for each
 * option, CLI_SELECT_USAGE in its --help.
 */
#ifndef FW_CLI_SELECT_H
#define FW_CLI_SELECT_H

#include <getopt.h>

#include "plan.h"
#include "repo.h"

struct cli_select {
	struct plan_opts plan;
	const char *repo;
	const char *pubkey;
	int allow_unsigned;
	const char **components;	/* backs plan.components */
};

/* Option codes 300..319 belong to cli_select; commands use 320 and up. */
enum {
	CLI_SEL_PUBKEY = 300, CLI_SEL_ALLOW_UNSIGNED, CLI_SEL_DOWNGRADE,
	CLI_SEL_REWRITE, CLI_SEL_KIND,
	CLI_SEL_FIRST_FREE = 320
};

#define CLI_SELECT_SHORTOPTS	"r:c:"

#define CLI_SELECT_LONGOPTS \
	{ "repo", required_argument, NULL, 'r' }, \
	{ "pubkey", required_argument, NULL, CLI_SEL_PUBKEY }, \
	{ "allow-unsigned", no_argument, NULL, CLI_SEL_ALLOW_UNSIGNED }, \
	{ "downgrade", no_argument, NULL, CLI_SEL_DOWNGRADE }, \
	{ "rewrite", no_argument, NULL, CLI_SEL_REWRITE }, \
	{ "component", required_argument, NULL, 'c' }, \
	{ "kind", required_argument, NULL, CLI_SEL_KIND }

#define CLI_SELECT_USAGE \
	"repository:\n" \
	"  -r, --repo DIR           the component repository (required)\n" \
	"      --pubkey FILE        the repository's signing key, pinned\n" \
	"                           (default: the repository's own repo.pub,\n" \
	"                           with a warning)\n" \
	"      --allow-unsigned     accept an unsigned index (warning)\n" \
	"selection:\n" \
	"      --downgrade          also install versions older than installed\n" \
	"      --rewrite            also install the version already installed\n" \
	"  -c, --component ID       only this component (repeatable)\n" \
	"      --kind KIND          only firmware, driver or software\n"

void cli_select_init(struct cli_select *s);

/* Takes option ch if ours: 0 taken, 1 not ours, -1 bad value (printed). */
int cli_select_opt(struct cli_select *s, const char *prog, int ch,
    const char *arg);

/* After parsing: --repo is required. Prints the error; 0 or -1. */
int cli_select_check(const struct cli_select *s, const char *prog);

/*
 * Verifies and loads the repository: the index signature (pinned key, or
 * repo.pub with a warning), every manifest, and with payloads every
 * payload's hash too; and that each --component names a component in it.
 * Prints what is wrong. Returns 0 with *out (repo_free) or -1.
 */
int cli_select_open_repo(const struct cli_select *s, const char *prog,
    int payloads, struct repo **out, struct repo_sig *sig);

void cli_select_free(struct cli_select *s);

#endif
