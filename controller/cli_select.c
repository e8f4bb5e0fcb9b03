#include "cli_select.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_nodes.h"
#include "manifest.h"
#include "util.h"

void cli_select_init(struct cli_select *s)
{
	memset(s, 0, sizeof(*s));
	plan_opts_init(&s->plan);
}

int cli_select_opt(struct cli_select *s, const char *prog, int ch,
    const char *arg)
{
	enum manifest_kind k;

	switch (ch) {
	case 'r': s->repo = arg; return 0;
	case CLI_SEL_PUBKEY: s->pubkey = arg; return 0;
	case CLI_SEL_ALLOW_UNSIGNED: s->allow_unsigned = 1; return 0;
	case CLI_SEL_DOWNGRADE: s->plan.downgrade = 1; return 0;
	case CLI_SEL_REWRITE: s->plan.rewrite = 1; return 0;
	case CLI_SEL_KIND:
		if (manifest_kind_parse(arg, &k) != 0)
			return cli_bad(prog, "--kind (firmware, driver or software)",
			    arg);
		s->plan.kind = (int)k;
		return 0;
	case 'c':
		if (!manifest_id_valid(arg))
			return cli_bad(prog, "--component", arg);
		s->components = xrealloc(s->components,
		    s->plan.n_components + 1, sizeof(*s->components));
		s->components[s->plan.n_components++] = arg;
		s->plan.components = s->components;
		return 0;
	}
	return 1;
}

int cli_select_check(const struct cli_select *s, const char *prog)
{
	if (s->repo != NULL)
		return 0;
	fprintf(stderr, "fwfleet %s: --repo DIR is required; see --help\n",
	    prog);
	return -1;
}

int cli_select_open_repo(const struct cli_select *s, const char *prog,
    int payloads, struct repo **out, struct repo_sig *sig)
{
	struct repo_verify_opts o = { s->pubkey, s->allow_unsigned, payloads };
	struct repo_report rep = { 0 };
	char err[1024];
	size_t i;
	int r;

	*out = NULL;
	r = repo_verify(s->repo, &o, out, sig, &rep, err, sizeof(err));
	repo_report_print(stderr, prog, &rep);
	repo_report_clear(&rep);
	if (r != 0) {
		fprintf(stderr, "fwfleet %s: %s; nothing was done\n", prog, err);
		return -1;
	}
	if (sig->verified && !sig->pinned)
		fprintf(stderr, "fwfleet %s: WARNING: no --pubkey: the index "
		    "signature was checked with the repository's own %s (%s);\n"
		    "  whoever can change the repository can replace it. Pin "
		    "the key with --pubkey FILE.\n", prog, REPO_PUB,
		    sig->key_id);
	for (i = 0; i < s->plan.n_components; i++) {
		if (repo_find(*out, s->plan.components[i], NULL) == NULL) {
			fprintf(stderr, "fwfleet %s: --component %s: not in "
			    "the repository\n", prog, s->plan.components[i]);
			repo_free(*out);
			*out = NULL;
			return -1;
		}
	}
	return 0;
}

void cli_select_free(struct cli_select *s)
{
	free(s->components);
	s->components = NULL;
}
