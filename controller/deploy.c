#include "deploy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "fleet.h"
#include "https_server.h"
#include "journal.h"
#include "log.h"
#include "manifest.h"
#include "node.h"
#include "repo.h"
#include "util.h"

#define STAGE_TIMEOUT_BASE_S	600
#define STAGE_MIN_RATE		(512u * 1024)	/* bytes/s we wait for */
#define INSTALL_TIMEOUT_SLACK_S	60

struct deploy_ctx {
	const struct repo *repo;
	const struct plan_opts *popts;
	struct journal *j;
	struct https_server *srv;
	struct node *nodes;
	size_t n_nodes;
	int tty;		/* stderr is a terminal: live progress */
	enum reboot_policy reboot;
	unsigned reboot_delay_s;
};

/* What happened to each component of a node's plan. */
struct item_result {
	int done;
	enum journal_outcome outcome;
	int exit_code;
	char *detail;
};

struct node_deploy {
	struct node_plan plan;
	struct item_result *res;	/* one per plan item */
	size_t cur;			/* the install being worked on */
	int reboot_needed;
	int failed;			/* a component failed */
	int cancel_sent;
};

struct deploy_ctx *deploy_ctx_new(const struct repo *repo,
    const struct plan_opts *popts, struct journal *j)
{
	struct deploy_ctx *d = xcalloc(1, sizeof(*d));

	d->repo = repo;
	d->popts = popts;
	d->j = j;
	d->tty = isatty(STDERR_FILENO);
	return d;
}

int reboot_policy_parse(const char *s, enum reboot_policy *out)
{
	if (strcmp(s, "never") == 0)
		*out = REBOOT_NEVER;
	else if (strcmp(s, "if-needed") == 0)
		*out = REBOOT_IF_NEEDED;
	else if (strcmp(s, "always") == 0)
		*out = REBOOT_ALWAYS;
	else
		return FW_ERR_INVALID;
	return 0;
}

void deploy_ctx_set_reboot(struct deploy_ctx *d, enum reboot_policy policy,
    unsigned delay_s)
{
	d->reboot = policy;
	d->reboot_delay_s = delay_s;
}

void deploy_ctx_free(struct deploy_ctx *d)
{
	if (d == NULL)
		return;
	deploy_ctx_stop(d);
	free(d);
}

/* --- progress for the operator ----------------------------------------- */

static void say(struct deploy_ctx *d, const struct node *n, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

/* A line on stderr (clearing a live progress line first). */
static void say(struct deploy_ctx *d, const struct node *n, const char *fmt,
    ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s%s: %s\n", d->tty ? "\r\033[K" : "", n->spec->name,
	    msg);
}

static const char *phase_word(Fwfleet__Phase p)
{
	switch (p) {
	case FWFLEET__PHASE__PHASE_DOWNLOADING: return "downloading";
	case FWFLEET__PHASE__PHASE_VERIFYING: return "verifying";
	case FWFLEET__PHASE__PHASE_INSTALLING: return "installing";
	case FWFLEET__PHASE__PHASE_DONE: return "done";
	case FWFLEET__PHASE__PHASE_FAILED: return "failed";
	default: return "working";
	}
}

/* Where the HTTPS server serves a payload file (caller frees). */
static char *payload_url(const struct repo_component *c,
    const struct repo_file *f)
{
	return xasprintf("/payload/%s/%s/%s", c->m->id, c->m->version,
	    f->name);
}

/* --- status pushes ----------------------------------------------------- */

/* The node whose engine certificate names index tag, or NULL. */
/* The node of the run whose agent was enrolled as name (set once its
 * agent's certificate was checked, before any stage request). */
static struct node *node_named(struct deploy_ctx *d, const char *name)
{
	size_t i;

	for (i = 0; i < d->n_nodes; i++)
		if (strcmp(d->nodes[i].agent_name, name) == 0)
			return &d->nodes[i];
	return NULL;
}

/* The node a sender's certificate names: an engine's index in the run, or
 * "agent:<name>" for a persistent agent. */
static struct node *find_node(struct deploy_ctx *d, const char *tag)
{
	long i;

	if (strncmp(tag, "agent:", 6) == 0)
		return node_named(d, tag + 6);
	if (fw_parse_long(tag, 0, (long)d->n_nodes - 1, &i) != 0)
		return NULL;
	return &d->nodes[i];
}

/* HTTPS server threads: a persistent agent of one of our nodes, not
 * revoked, may fetch payloads and push status. */
static int accept_agent(void *arg, const char *name, const char *serial)
{
	struct deploy_ctx *d = arg;

	return d->n_nodes > 0 && node_named(d, name) != NULL &&
	    !fleet_revoked(d->nodes[0].fleet, serial);
}

static void on_status(void *arg, const Fwfleet__StatusPush *st,
    const char *peer, const char *node)
{
	struct deploy_ctx *d = arg;
	struct node *n = find_node(d, node);
	size_t i;

	/* The node comes from the sender's certificate; the name it wrote
	 * must agree, or one engine could write into another node's log. */
	if (n == NULL || (strcmp(n->spec->name, st->node_name) != 0 &&
	    strcmp(n->agent_name, st->node_name) != 0)) {
		log_warn("status push from %s: its certificate (node '%s') "
		    "does not match the node it names ('%.64s'); dropped",
		    peer, node, st->node_name);
		return;
	}
	for (i = 0; i < st->n_log_lines; i++)
		journal_node_log(d->j, n->spec->name, "%s: %s",
		    st->component_id, st->log_lines[i]);
	if (st->phase >= FWFLEET__PHASE__PHASE_DOWNLOADING &&
	    st->phase <= FWFLEET__PHASE__PHASE_INSTALLING)
		journal_component_phase(d->j, n->spec->name, st->component_id,
		    (enum journal_phase)(st->phase - 1), st->percent,
		    st->bytes_done);
	if (d->tty && st->n_log_lines == 0)
		fprintf(stderr, "\r\033[K%s: %s %s %u%%", n->spec->name,
		    st->component_id, phase_word(st->phase), st->percent);
}

static unsigned serving_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 16 ? 16 : (unsigned)n;
}

int deploy_ctx_start(struct deploy_ctx *d, struct event_base *base,
    SSL_CTX *server_ctx, const char *sid, uint16_t port, struct node *nodes,
    size_t n, char *err, size_t errlen)
{
	struct https_server_opts o = { 0 };
	size_t i, k;
	int r;

	d->nodes = nodes;
	d->n_nodes = n;
	o.ctx = server_ctx;
	o.session_id = sid;
	o.port = port;
	o.on_status = on_status;
	o.accept_agent = accept_agent;
	o.arg = d;
	/* Payload TLS is the controller's heaviest work: one serving
	 * thread per CPU (status pushes still come to this loop). */
	o.threads = serving_threads();
	if ((r = https_server_start(base, &o, &d->srv, err, errlen)) != 0)
		return r;
	for (i = 0; i < repo_count(d->repo); i++) {
		const struct repo_component *c = repo_get(d->repo, i);

		for (k = 0; k < c->n_files; k++) {
			char *path = repo_file_path(d->repo, c, &c->files[k]);
			char *url = payload_url(c, &c->files[k]);

			r = https_server_add_file(d->srv, url, path);
			free(url);
			free(path);
			if (r != 0) {
				fw_snprintf(err, errlen, "cannot serve the "
				    "payloads of %s", c->m->id);
				return r;
			}
		}
	}
	return 0;
}

void deploy_ctx_stop(struct deploy_ctx *d)
{
	if (d == NULL)
		return;
	https_server_free(d->srv);
	d->srv = NULL;
}

/* --- a node's plan ----------------------------------------------------- */

static void journal_plan(struct deploy_ctx *d, struct node *n)
{
	const struct node_plan *p = &n->dep->plan;
	struct journal_plan_entry *e = xcalloc(p->n, sizeof(*e));
	size_t i;

	for (i = 0; i < p->n; i++) {
		const struct manifest *m = p->items[i].c->m;

		e[i].id = m->id;
		e[i].name = m->name;
		e[i].kind = manifest_kind_name(m->kind);
		e[i].installed = p->items[i].installed;
		e[i].target = m->version;
		e[i].action = p->items[i].action == PLAN_INSTALL ?
		    JOURNAL_ACTION_INSTALL : JOURNAL_ACTION_SKIP;
		e[i].reason = p->items[i].reason;
	}
	journal_node_plan(d->j, n->spec->name, e, p->n);
	free(e);
}

static void record(struct deploy_ctx *d, struct node *n, size_t i,
    enum journal_outcome o, int exit_code, const char *detail)
{
	struct item_result *res = &n->dep->res[i];
	const struct manifest *m = n->dep->plan.items[i].c->m;

	res->done = 1;
	res->outcome = o;
	res->exit_code = exit_code;
	res->detail = detail != NULL ? xstrdup(detail) : NULL;
	journal_component_result(d->j, n->spec->name, m->id, o, exit_code,
	    detail);
	say(d, n, "%s %s: %s%s%s", m->id, m->version, journal_outcome_name(o),
	    detail != NULL && detail[0] ? ": " : "", detail ? detail : "");
	if (o == JOURNAL_OUTCOME_SUCCESS_REBOOT ||
	    (o == JOURNAL_OUTCOME_SUCCESS && m->reboot_required))
		n->dep->reboot_needed = 1;
	if (o == JOURNAL_OUTCOME_FAILED)
		n->dep->failed = 1;
}

/* A dependency of item i that did not get installed in this run, or NULL. */
static const char *failed_dependency(const struct node *n, size_t i)
{
	const struct node_deploy *dep = n->dep;
	const struct manifest *m = dep->plan.items[i].c->m;
	size_t k, j;

	for (k = 0; k < m->n_deps; k++)
		for (j = 0; j < i; j++) {
			const struct item_result *r = &dep->res[j];

			if (strcmp(dep->plan.items[j].c->m->id,
			    m->deps[k].id) == 0 && r->done &&
			    r->outcome != JOURNAL_OUTCOME_SUCCESS &&
			    r->outcome != JOURNAL_OUTCOME_SUCCESS_REBOOT &&
			    r->outcome != JOURNAL_OUTCOME_ALREADY_CURRENT)
				return m->deps[k].id;
		}
	return NULL;
}

static void send_stage(struct deploy_ctx *d, struct node *n, size_t i);

/* Whether to reboot n now that its components are done. */
static int want_reboot(struct deploy_ctx *d, struct node *n)
{
	struct node_deploy *dep = n->dep;
	int wanted = d->reboot == REBOOT_ALWAYS ||
	    (d->reboot == REBOOT_IF_NEEDED && dep->reboot_needed);

	if (!wanted || n->aborted)
		return 0;
	if (dep->failed) {
		say(d, n, "not rebooting: a component failed (the report "
		    "lists what needs a reboot)");
		return 0;
	}
	return 1;
}

static void send_reboot(struct deploy_ctx *d, struct node *n)
{
	Fwfleet__ControllerMsg m = FWFLEET__CONTROLLER_MSG__INIT;
	Fwfleet__RebootRequest rr = FWFLEET__REBOOT_REQUEST__INIT;

	rr.delay_s = d->reboot_delay_s;
	rr.message = (char *)"fwfleet: rebooting to finish updates";
	m.msg_case = FWFLEET__CONTROLLER_MSG__MSG_REBOOT;
	m.reboot = &rr;
	n->phase = TALK_REBOOT;
	if (node_control_send(n, &m, 0) != 0)
		node_abandon(n, "cannot send to the engine");
}

/* Starts the next component to install, or ends the talk. */
static void deploy_next(struct deploy_ctx *d, struct node *n)
{
	struct node_deploy *dep = n->dep;
	const char *dep_id;
	char why[256];

	for (; dep->cur < dep->plan.n_install; dep->cur++) {
		if (n->aborted) {
			record(d, n, dep->cur, JOURNAL_OUTCOME_CANCELLED,
			    JOURNAL_NO_EXIT, "not started: cancelled by the "
			    "operator");
			continue;
		}
		if ((dep_id = failed_dependency(n, dep->cur)) != NULL) {
			fw_snprintf(why, sizeof(why), "it needs %s, which "
			    "was not installed", dep_id);
			record(d, n, dep->cur, JOURNAL_OUTCOME_SKIPPED,
			    JOURNAL_NO_EXIT, why);
			continue;
		}
		send_stage(d, n, dep->cur);
		return;
	}
	if (want_reboot(d, n))
		send_reboot(d, n);
	else
		node_send_shutdown(n);
}

void deploy_node_inventory(struct deploy_ctx *d, struct node *n)
{
	struct node_deploy *dep = xcalloc(1, sizeof(*dep));
	size_t i;

	n->dep = dep;
	if (plan_node(n->inv, d->repo, d->popts, &dep->plan) != 0) {
		node_abandon(n, "cannot plan this node's updates");
		return;
	}
	dep->res = xcalloc(dep->plan.n ? dep->plan.n : 1, sizeof(*dep->res));
	journal_plan(d, n);
	for (i = 0; i < dep->plan.n_install; i++)
		say(d, n, "plan: %s %s -> %s", dep->plan.items[i].c->m->id,
		    dep->plan.items[i].installed ?
		    dep->plan.items[i].installed : "(unknown)",
		    dep->plan.items[i].c->m->version);
	if (dep->plan.n_install == 0)
		say(d, n, "nothing to do");
	deploy_next(d, n);
}

/* --- stage and install ------------------------------------------------- */

static void free_stage(Fwfleet__PayloadFile *pf, Fwfleet__PayloadFile **pfp,
    char ***chunks, size_t n)
{
	size_t k;

	for (k = 0; k < n; k++) {
		free(pf[k].url_path);
		free(chunks[k]);
	}
	free(chunks);
	free(pfp);
	free(pf);
}

/* Reads rel in the repository into b. */
static int read_repo_file(struct deploy_ctx *d, const char *rel,
    ProtobufCBinaryData *b)
{
	char *path = xasprintf("%s/%s", repo_dir(d->repo), rel), *data = NULL;
	size_t len = 0;
	int r = fw_read_file(path, 64u << 20, &data, &len);

	free(path);
	b->data = (uint8_t *)data;
	b->len = len;
	return r;
}

/*
 * For an agent that installs only signed components: the index, its
 * signature and the component's manifest, as the repository has them
 * (the agent checks them against the key pinned at its install).
 */
static int attach_signed(struct deploy_ctx *d, const struct repo_component *c,
    Fwfleet__StageRequest *sr, struct node *n)
{
	char *rel = xasprintf("%s/component.json", c->dir);
	int r = read_repo_file(d, "index.json", &sr->repo_index) != 0 ||
	    read_repo_file(d, "index.json.sig", &sr->repo_index_sig) != 0 ||
	    read_repo_file(d, rel, &sr->manifest) != 0;

	free(rel);
	if (r) {
		free(sr->repo_index.data);
		free(sr->repo_index_sig.data);
		free(sr->manifest.data);
		node_abandon(n, "the agent installs only signed components, "
		    "and the repository has no signed index (fwfleet repo "
		    "sign)");
	}
	return r;
}

static void send_stage(struct deploy_ctx *d, struct node *n, size_t i)
{
	const struct repo_component *c = n->dep->plan.items[i].c;
	Fwfleet__ControllerMsg m = FWFLEET__CONTROLLER_MSG__INIT;
	Fwfleet__StageRequest sr = FWFLEET__STAGE_REQUEST__INIT;
	Fwfleet__PayloadFile *pf = xcalloc(c->n_files ? c->n_files : 1,
	    sizeof(*pf));
	Fwfleet__PayloadFile **pfp = xcalloc(c->n_files ? c->n_files : 1,
	    sizeof(*pfp));
	char ***chunks = xcalloc(c->n_files ? c->n_files : 1, sizeof(char **));
	char url[128], *urls[1] = { url };
	uint64_t total = 0;
	size_t k, q;

	for (k = 0; k < c->n_files; k++) {
		const struct repo_file *rf = &c->files[k];

		fwfleet__payload_file__init(&pf[k]);
		pf[k].name = rf->name;
		pf[k].url_path = payload_url(c, rf);
		pf[k].size = rf->size;
		pf[k].sha256 = (char *)rf->sha256;
		pf[k].chunk_size = rf->chunk_size;
		chunks[k] = xcalloc(rf->n_chunks ? rf->n_chunks : 1,
		    sizeof(char *));
		for (q = 0; q < rf->n_chunks; q++)
			chunks[k][q] = rf->chunk_sha256[q];
		pf[k].n_chunk_sha256 = rf->n_chunks;
		pf[k].chunk_sha256 = chunks[k];
		pfp[k] = &pf[k];
		total += rf->size;
	}
	fleet_controller_url(n->fleet, n, url, sizeof(url));
	sr.component_id = c->m->id;
	sr.version = c->m->version;
	sr.n_files = c->n_files;
	sr.files = pfp;
	sr.n_base_urls = 1;
	sr.base_urls = urls;
	sr.job_id = (char *)journal_id(d->j);
	if (n->require_signed && attach_signed(d, c, &sr, n) != 0) {
		free_stage(pf, pfp, chunks, c->n_files);
		return;
	}
	m.msg_case = FWFLEET__CONTROLLER_MSG__MSG_STAGE;
	m.stage = &sr;
	n->phase = TALK_STAGE;
	say(d, n, "%s %s: downloading %llu bytes", c->m->id, c->m->version,
	    (unsigned long long)total);
	if (node_control_send(n, &m, STAGE_TIMEOUT_BASE_S +
	    (unsigned)(total / STAGE_MIN_RATE)) != 0)
		node_abandon(n, "cannot send to the engine");
	free(sr.repo_index.data);
	free(sr.repo_index_sig.data);
	free(sr.manifest.data);
	free_stage(pf, pfp, chunks, c->n_files);
}

static void send_install(struct deploy_ctx *d, struct node *n, size_t i)
{
	const struct manifest *mf = n->dep->plan.items[i].c->m;
	Fwfleet__ControllerMsg m = FWFLEET__CONTROLLER_MSG__INIT;
	Fwfleet__InstallRequest ir = FWFLEET__INSTALL_REQUEST__INIT;

	ir.component_id = mf->id;
	ir.version = mf->version;
	ir.n_argv = mf->argc;
	ir.argv = mf->argv;
	ir.timeout_s = mf->timeout_s;
	ir.return_codes = mf->rc;
	ir.job_id = (char *)journal_id(d->j);
	m.msg_case = FWFLEET__CONTROLLER_MSG__MSG_INSTALL;
	m.install = &ir;
	n->phase = TALK_INSTALL;
	say(d, n, "%s %s: installing", mf->id, mf->version);
	if (node_control_send(n, &m, mf->timeout_s +
	    INSTALL_TIMEOUT_SLACK_S) != 0)
		node_abandon(n, "cannot send to the engine");
}

static enum journal_outcome outcome_of(const Fwfleet__InstallReply *r)
{
	if (r->cancelled)
		return JOURNAL_OUTCOME_CANCELLED;
	switch (r->outcome) {
	case FWFLEET__INSTALL_OUTCOME__OUTCOME_SUCCESS:
		return JOURNAL_OUTCOME_SUCCESS;
	case FWFLEET__INSTALL_OUTCOME__OUTCOME_SUCCESS_REBOOT:
		return JOURNAL_OUTCOME_SUCCESS_REBOOT;
	case FWFLEET__INSTALL_OUTCOME__OUTCOME_ALREADY_CURRENT:
		return JOURNAL_OUTCOME_ALREADY_CURRENT;
	case FWFLEET__INSTALL_OUTCOME__OUTCOME_NOT_APPLICABLE:
		return JOURNAL_OUTCOME_NOT_APPLICABLE;
	default:
		return JOURNAL_OUTCOME_FAILED;
	}
}

static void on_install_reply(struct deploy_ctx *d, struct node *n,
    const Fwfleet__InstallReply *r)
{
	const struct manifest *mf = n->dep->plan.items[n->dep->cur].c->m;
	char detail[512] = "";
	size_t i;

	if (r->output_truncated)
		journal_node_log(d->j, n->spec->name, "%s: (installer output "
		    "truncated: its last 64 KiB follow)", mf->id);
	for (i = 0; i < r->n_output; i++)
		journal_node_log(d->j, n->spec->name, "%s: %s", mf->id,
		    r->output[i]);
	if (r->timed_out)
		fw_snprintf(detail, sizeof(detail), "the installer timed out "
		    "after %u s and was stopped", mf->timeout_s);
	else if (r->error != NULL && r->error[0] != '\0')
		fw_snprintf(detail, sizeof(detail), "%s", r->error);
	else if (outcome_of(r) == JOURNAL_OUTCOME_FAILED)
		fw_snprintf(detail, sizeof(detail), "the installer exited "
		    "with %d", r->exit_code);
	record(d, n, n->dep->cur, outcome_of(r), r->exit_code,
	    detail[0] ? detail : NULL);
	n->dep->cur++;
	deploy_next(d, n);
}

void deploy_node_reply(struct deploy_ctx *d, struct node *n,
    const Fwfleet__EngineMsg *r)
{
	struct node_deploy *dep = n->dep;

	if (n->phase == TALK_STAGE &&
	    r->msg_case == FWFLEET__ENGINE_MSG__MSG_STAGE) {
		if (r->stage->ok && !n->aborted) {
			send_install(d, n, dep->cur);
			return;
		}
		record(d, n, dep->cur, n->aborted ?
		    JOURNAL_OUTCOME_CANCELLED : JOURNAL_OUTCOME_FAILED,
		    JOURNAL_NO_EXIT, r->stage->ok ? "not started: cancelled "
		    "by the operator" : r->stage->error);
		dep->cur++;
		deploy_next(d, n);
	} else if (n->phase == TALK_INSTALL &&
	    r->msg_case == FWFLEET__ENGINE_MSG__MSG_INSTALL) {
		on_install_reply(d, n, r->install);
	} else if (n->phase == TALK_REBOOT &&
	    r->msg_case == FWFLEET__ENGINE_MSG__MSG_REBOOT) {
		say(d, n, "%s%s", r->reboot->ok ? "" : "reboot failed: ",
		    r->reboot->detail);
		journal_node_log(d->j, n->spec->name, "reboot: %s%s",
		    r->reboot->ok ? "" : "failed: ", r->reboot->detail);
		node_send_shutdown(n);
	} else {
		node_abandon(n, "unexpected reply from the engine");
	}
}

int deploy_node_abort(struct deploy_ctx *d, struct node *n, int hard)
{
	Fwfleet__ControllerMsg m = FWFLEET__CONTROLLER_MSG__INIT;
	Fwfleet__CancelRequest c = FWFLEET__CANCEL_REQUEST__INIT;

	if (n->dep == NULL || (n->dep->cancel_sent && !hard))
		return 1;
	c.kill_running = hard;
	m.msg_case = FWFLEET__CONTROLLER_MSG__MSG_CANCEL;
	m.cancel = &c;
	if (node_control_notify(n, &m) != 0)
		return 0;
	n->dep->cancel_sent = 1;
	say(d, n, hard ? "stopping the running installer" : "cancelling: "
	    "the running installer finishes, the rest is skipped");
	return 1;
}

void deploy_node_state(struct deploy_ctx *d, struct node *n,
    const char *state)
{
	journal_node_state(d->j, n->spec->name, state);
}

void deploy_node_done(struct deploy_ctx *d, struct node *n)
{
	enum journal_node_status st = JOURNAL_NODE_OK;
	int reboot = n->dep != NULL && n->dep->reboot_needed;

	if (n->aborted)
		st = JOURNAL_NODE_CANCELLED;
	else if (n->failed)
		st = JOURNAL_NODE_FAILED;
	journal_node_done(d->j, n->spec->name, st, n->failed ? n->error : NULL,
	    reboot);
	if (reboot)
		say(d, n, "needs a reboot");
}

void deploy_node_print(FILE *f, const struct node *n)
{
	const struct node_deploy *dep = n->dep;
	size_t i;

	if (dep == NULL)
		return;
	for (i = 0; i < dep->plan.n_install; i++) {
		const struct item_result *r = &dep->res[i];
		const struct plan_item *it = &dep->plan.items[i];

		fprintf(f, "  %-24s %-12s -> %-12s %s%s%s\n", it->c->m->id,
		    it->installed ? it->installed : "-", it->c->m->version,
		    r->done ? journal_outcome_name(r->outcome) : "not run",
		    r->detail ? ": " : "", r->detail ? r->detail : "");
	}
}

void deploy_node_free(struct node *n)
{
	struct node_deploy *dep = n->dep;
	size_t i;

	if (dep == NULL)
		return;
	for (i = 0; i < dep->plan.n && dep->res != NULL; i++)
		free(dep->res[i].detail);
	free(dep->res);
	node_plan_clear(&dep->plan);
	free(dep);
	n->dep = NULL;
}
