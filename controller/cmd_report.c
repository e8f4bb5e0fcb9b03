#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "err.h"
#include "journal.h"
#include "report.h"
#include "util.h"

static const char report_usage[] =
	"usage: fwfleet report JOB [--format json|html|csv] [-o FILE] [--save]\n"
	"\n"
	"Rebuilds a job's report from its journal, the record of what\n"
	"happened. JOB is a job id (see 'fwfleet jobs'), a unique prefix of\n"
	"one, or 'last'. A journal cut short by a crash still gives a report:\n"
	"the broken line is skipped with a warning on stderr.\n"
	"\n"
	"  -f, --format FMT  json (default; the whole model), html (one page,\n"
	"                    readable offline) or csv (a row per node and\n"
	"                    component)\n"
	"  -o, --output FILE write to FILE (replaced atomically) instead of\n"
	"                    stdout\n"
	"      --save        also rewrite report.json, report.html and\n"
	"                    report.csv in the job's folder\n"
	"\n"
	"exit status: 0 written, 254 bad parameters or unknown job, 255 the\n"
	"journal or the output could not be read or written\n";

struct report_opts {
	const char *job;
	const char *output;
	enum report_format fmt;
	int save;
};

static int parse_args(int argc, char **argv, struct report_opts *o)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "save", no_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->fmt = REPORT_JSON;
	while ((ch = getopt_long(argc, argv, "f:o:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (report_format_parse(optarg, &o->fmt) == 0)
				break;
			fprintf(stderr, "fwfleet report: bad --format '%s'; "
			    "json, html or csv\n", optarg);
			return -1;
		case 'o': o->output = optarg; break;
		case 's': o->save = 1; break;
		default: return -1;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "fwfleet report: name one job (an id, a "
		    "prefix or 'last'); see --help\n");
		return -1;
	}
	o->job = argv[optind];
	return 0;
}

static void print_warnings(const struct report *rep)
{
	size_t i;
	char *w;

	for (i = 0; i < report_warning_count(rep); i++) {
		w = xstrdup(report_warning(rep, i));
		journal_clean_text(w, false);
		fprintf(stderr, "fwfleet report: job %s: journal %s\n",
		    report_job_id(rep), w);
		free(w);
	}
}

static int report_exec(const struct global_opts *g, int argc, char **argv)
{
	struct report *rep = NULL;
	struct report_opts o;
	char dir[4096], err[512];
	int r = EXIT_FW_BAD_PARAM;

	if (parse_args(argc, argv, &o) != 0)
		goto out;
	if (journal_resolve(g->state_dir, o.job, dir, sizeof(dir), err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "fwfleet report: %s\n", err);
		goto out;
	}
	r = EXIT_FW_FAILURE;
	if (report_load(dir, &rep) != 0) {
		fprintf(stderr, "fwfleet report: %s/%s: %m\n", dir,
		    JOURNAL_FILE);
		goto out;
	}
	print_warnings(rep);
	if (o.save && report_save(rep, dir) != 0) {
		fprintf(stderr, "fwfleet report: cannot write the reports in "
		    "%s: %m\n", dir);
		goto out;
	}
	if (o.output != NULL ? report_write_file(rep, o.fmt, o.output) != 0 :
	    report_write(rep, o.fmt, stdout) != 0 || fflush(stdout) != 0) {
		fprintf(stderr, "fwfleet report: cannot write %s: %m\n",
		    o.output != NULL ? o.output : "the report");
		goto out;
	}
	r = EXIT_FW_OK;
out:
	report_free(rep);
	return r;
}

const struct command cmd_report = {
	.name = "report",
	.summary = "rebuild a job's report (JSON, HTML or CSV) from its journal",
	.usage = report_usage,
	.exec = report_exec,
};
