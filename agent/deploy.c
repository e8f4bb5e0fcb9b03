#include "deploy.h"

#include "agent_journal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "diag.h"
#include "signed.h"
#include "engine.h"
#include "err.h"
#include "fetch.h"
#include "install.h"
#include "log.h"
#include "status_push.h"
#include "tls.h"
#include "util.h"

#define DEPLOY_MAX_STAGED	256

struct staged {
	char *id;
	char **files;
	size_t n_files;
	struct signed_installer *si;	/* --require-signed: what may run */
};

struct deploy {
	struct engine *e;
	SSL_CTX *ctx;
	struct status_pusher *pusher;	/* NULL: no controller URL */
	struct fetch *fetch;		/* the staging that runs */
	struct signed_installer *pending_si; /* of the staging that runs */
	struct install *inst;		/* the installer that runs */
	uint32_t op_id;			/* the request it answers */
	char op_component[128];
	char activity[160];
	struct staged staged[DEPLOY_MAX_STAGED];
	size_t n_staged;
	char job_id[64];		/* of the last Stage or Install */
	struct deploy_component *comps;	/* that job's, for Diag */
	size_t n_comps;
	size_t cur;			/* the operation's (n_comps: none) */
	int unreachable;		/* the last staging never got through */
};

/* A name that is safe as one path component. */
static int name_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 100 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789._-+", s[i]))
			return 0;
	return 1;
}

static void staging_dir(const struct deploy *d, const char *id, char *buf,
    size_t len)
{
	fw_snprintf(buf, len, "%s/staging/%s", d->e->bs->workdir, id);
}

static int make_staging_dir(const struct deploy *d, const char *id,
    char *err, size_t errlen)
{
	char dir[1024];

	fw_snprintf(dir, sizeof(dir), "%s/staging", d->e->bs->workdir);
	if (fw_mkdirs(dir, 0700) != 0)
		goto fail;
	staging_dir(d, id, dir, sizeof(dir));
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		goto fail;
	return 0;
fail:
	fw_snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
	return FW_ERR_SYSTEM;
}

/*
 * The operation's component as Diag shows it. An installer's phases carry
 * no bytes: the staged ones stay. A fetch's percent is of its bytes; an
 * installer's is unknown (0) until it is done.
 */
static void track_phase(struct deploy *d, Fwfleet__Phase phase,
    uint64_t done, uint64_t total, const char *error)
{
	struct deploy_component *c;

	if (d->cur >= d->n_comps)
		return;
	c = &d->comps[d->cur];
	c->phase = phase;
	if (total != 0 || phase == FWFLEET__PHASE__PHASE_DOWNLOADING) {
		c->bytes_done = done;
		c->bytes_total = total;
	}
	if (phase == FWFLEET__PHASE__PHASE_DOWNLOADING ||
	    phase == FWFLEET__PHASE__PHASE_VERIFYING)
		c->percent = total ? (unsigned)(done * 100 / total) : 100;
	else if (phase == FWFLEET__PHASE__PHASE_INSTALLING)
		c->percent = 0;
	else if (phase == FWFLEET__PHASE__PHASE_DONE)
		c->percent = 100;
	fw_snprintf(c->error, sizeof(c->error), "%s",
	    error != NULL ? error : "");
}

static void push_phase(struct deploy *d, Fwfleet__Phase phase, uint64_t done,
    uint64_t total, Fwfleet__InstallOutcome outcome, const char *error)
{
	track_phase(d, phase, done, total, error);
	if (d->pusher != NULL)
		status_push_phase(d->pusher, d->op_component, phase, done,
		    total, outcome, error);
}

/* A new job forgets the last one's components. */
static void track_begin(struct deploy *d, const char *job_id,
    const char *component, const char *version)
{
	struct deploy_component *c;
	size_t i;

	if (strcmp(job_id, d->job_id) != 0) {
		fw_snprintf(d->job_id, sizeof(d->job_id), "%.63s", job_id);
		d->n_comps = 0;
	}
	for (i = 0; i < d->n_comps; i++)
		if (strcmp(d->comps[i].id, component) == 0)
			break;
	d->cur = i;
	if (i == d->n_comps) {
		if (d->n_comps == DEPLOY_MAX_STAGED)
			return;		/* d->cur: none */
		d->comps = xrealloc(d->comps, d->n_comps + 1, sizeof(*c));
		c = &d->comps[d->n_comps++];
		memset(c, 0, sizeof(*c));
		fw_snprintf(c->id, sizeof(c->id), "%.127s", component);
	}
	fw_snprintf(d->comps[i].version, sizeof(d->comps[i].version), "%.63s",
	    version);
}

static void op_begin(struct deploy *d, uint32_t id, const char *what,
    const char *component, const char *version, const char *job_id)
{
	track_begin(d, job_id, component, version);
	agent_journal_begin(d->e->journal, job_id, what, component, version);
	d->op_id = id;
	fw_snprintf(d->op_component, sizeof(d->op_component), "%s", component);
	fw_snprintf(d->activity, sizeof(d->activity), "%s %s", what,
	    component);
}

static void op_end(struct deploy *d)
{
	agent_journal_end(d->e->journal, d->cur < d->n_comps &&
	    d->comps[d->cur].phase != FWFLEET__PHASE__PHASE_FAILED ? "done" :
	    "failed");
	d->activity[0] = '\0';
	engine_activity(d->e);
}

/* --- Stage ------------------------------------------------------------- */

static void remember_staged(struct deploy *d, const Fwfleet__StageRequest *req)
{
	struct staged *st = NULL;
	size_t i;

	for (i = 0; i < d->n_staged && st == NULL; i++)
		if (strcmp(d->staged[i].id, req->component_id) == 0)
			st = &d->staged[i];
	if (st == NULL) {
		if (d->n_staged == DEPLOY_MAX_STAGED)
			return;
		st = &d->staged[d->n_staged++];
		st->id = xstrdup(req->component_id);
	} else {
		for (i = 0; i < st->n_files; i++)
			free(st->files[i]);
		free(st->files);
	}
	signed_installer_free(st->si);
	st->si = d->pending_si;
	d->pending_si = NULL;
	st->n_files = req->n_files;
	st->files = xcalloc(req->n_files, sizeof(char *));
	for (i = 0; i < req->n_files; i++)
		st->files[i] = xstrdup(req->files[i]->name);
}

static void on_fetch_progress(void *arg, const struct fetch_progress *p)
{
	push_phase(arg, p->phase, p->bytes_done, p->bytes_total,
	    FWFLEET__INSTALL_OUTCOME__OUTCOME_UNKNOWN, NULL);
}

static void on_fetch_done(void *arg, const struct fetch_result *res)
{
	struct deploy *d = arg;
	Fwfleet__EngineMsg m = FWFLEET__ENGINE_MSG__INIT;
	Fwfleet__StageReply sr = FWFLEET__STAGE_REPLY__INIT;

	d->fetch = NULL;
	d->unreachable = res->unreachable;
	sr.ok = res->status == 0;
	sr.error = (char *)res->error;
	sr.bytes_fetched = res->bytes_fetched;
	if (!sr.ok) {
		engine_note_error(d->e, "staging %s failed: %s",
		    d->op_component, res->error);
		push_phase(d, FWFLEET__PHASE__PHASE_FAILED, 0, 0,
		    FWFLEET__INSTALL_OUTCOME__OUTCOME_FAILED, res->error);
	} else {
		log_info("staged %s (%llu bytes fetched)", d->op_component,
		    (unsigned long long)res->bytes_fetched);
	}
	m.msg_case = FWFLEET__ENGINE_MSG__MSG_STAGE;
	m.stage = &sr;
	op_end(d);
	control_reply_later(d->e, d->op_id, &m);
}


/* The TLS client context for the controller's HTTPS server. */
static SSL_CTX *client_ctx(const Fwfleet__Bootstrap *bs, char *err,
    size_t errlen)
{
	return tls_ctx_new(TLS_ROLE_CLIENT,
	    (const char *)bs->ca_cert_pem.data, bs->ca_cert_pem.len,
	    (const char *)bs->cert_pem.data, bs->cert_pem.len,
	    (const char *)bs->key_pem.data, bs->key_pem.len, err, errlen);
}

/* The status pusher of the session, to the controller at urls (none: no
 * controller to report to, as in tests). */
static int make_pusher(struct deploy *d, char **urls, size_t n, char *err,
    size_t errlen)
{
	const Fwfleet__Bootstrap *bs = d->e->bs;
	struct status_target t = { 0 };

	if (n == 0)
		return 0;
	t.ssl_ctx = d->ctx;
	t.session_id = bs->session_id;
	t.node_name = bs->node_name;
	t.base_urls = (const char *const *)urls;
	t.n_base_urls = n;
	return status_pusher_new(&t, &d->pusher, err, errlen);
}

/*
 * A persistent agent learns where to report from each session's first
 * stage request (the controller's URLs; the session came with Hello), and
 * makes its TLS client context anew, so that a renewed certificate is
 * the one it presents.
 */
static int agent_session(struct deploy *d, const Fwfleet__StageRequest *req,
    char *err, size_t errlen)
{
	SSL_CTX *ctx;

	if (!engine_persistent(d->e) || d->pusher != NULL)
		return 0;
	if ((ctx = client_ctx(d->e->bs, err, errlen)) == NULL)
		return FW_ERR_TLS;
	SSL_CTX_free(d->ctx);
	d->ctx = ctx;
	return make_pusher(d, req->base_urls, req->n_base_urls, err, errlen);
}

/* --require-signed: nothing is fetched for a component the pinned key
 * did not sign. */
static int check_signed(struct deploy *d, const Fwfleet__StageRequest *req,
    char *err, size_t errlen)
{
	int r;

	signed_installer_free(d->pending_si);
	d->pending_si = NULL;
	if (d->e->repo_pub == NULL)
		return 0;
	if ((r = signed_check_stage(d->e->repo_pub, d->e->repo_pub_len, req,
	    &d->pending_si, err, errlen)) != 0)
		engine_note_error(d->e, "refused %s %s: %s", req->component_id,
		    req->version, err);
	return r;
}

int deploy_stage(struct deploy *d, uint32_t id, const Fwfleet__StageRequest *req,
    char *err, size_t errlen)
{
	struct fetch_job job = { 0 };
	char dir[1024];
	size_t i;
	int r;

	if (d->activity[0] != '\0') {
		fw_snprintf(err, errlen, "busy: %s", d->activity);
		return FW_ERR_AGAIN;
	}
	if (!name_ok(req->component_id)) {
		fw_snprintf(err, errlen, "bad component id '%.64s'",
		    req->component_id);
		return FW_ERR_INVALID;
	}
	for (i = 0; i < req->n_files; i++)
		if (!name_ok(req->files[i]->name)) {
			fw_snprintf(err, errlen, "bad file name '%.64s'",
			    req->files[i]->name);
			return FW_ERR_INVALID;
		}
	if ((r = agent_session(d, req, err, errlen)) != 0 ||
	    (r = check_signed(d, req, err, errlen)) != 0 ||
	    (r = make_staging_dir(d, req->component_id, err, errlen)) != 0)
		return r;
	staging_dir(d, req->component_id, dir, sizeof(dir));
	job.req = req;
	job.staging_dir = dir;
	job.ssl_ctx = d->ctx;
	job.session_id = d->e->bs->session_id;
	/* The controller's port was not reached at all last time: one try,
	 * not a minute of them per component (a success resets it). */
	job.max_tries = d->unreachable ? 1 : 0;
	op_begin(d, id, "staging", req->component_id, req->version,
	    req->job_id);
	r = fetch_start(d->e->base, &job, on_fetch_progress, on_fetch_done, d,
	    &d->fetch, err, errlen);
	if (r != 0) {
		d->activity[0] = '\0';
		track_phase(d, FWFLEET__PHASE__PHASE_FAILED, 0, 0, err);
		engine_note_error(d->e, "cannot stage %s: %s",
		    req->component_id, err);
		return r;
	}
	/* The files are staged once the fetch succeeds; noting their names
	 * now is harmless: Install checks they are there. */
	remember_staged(d, req);
	return 0;
}

/* --- Install ----------------------------------------------------------- */

static void on_install_done(void *arg, const struct install_result *res)
{
	struct deploy *d = arg;
	Fwfleet__EngineMsg m = FWFLEET__ENGINE_MSG__INIT;
	Fwfleet__InstallReply ir = FWFLEET__INSTALL_REPLY__INIT;
	int ok = res->outcome != FWFLEET__INSTALL_OUTCOME__OUTCOME_FAILED;

	d->inst = NULL;
	/* The output goes back with the reply, so it reaches the node's log
	 * on the controller whatever happens to status pushes. */
	ir.n_output = res->n_lines;
	ir.output = (char **)res->lines;
	ir.output_truncated = res->output_truncated;
	ir.outcome = res->outcome;
	ir.exit_code = res->exit_code;
	ir.timed_out = res->timed_out;
	ir.cancelled = res->cancelled;
	ir.error = (char *)res->error;
	log_info("installer of %s ended: exit %d, outcome %d%s%s",
	    d->op_component, res->exit_code, res->outcome,
	    res->timed_out ? ", timed out" : "",
	    res->cancelled ? ", cancelled" : "");
	if (!ok)
		engine_note_error(d->e, "installing %s failed (exit %d%s%s)"
		    "%s%s", d->op_component, res->exit_code,
		    res->timed_out ? ", timed out" : "",
		    res->cancelled ? ", cancelled" : "",
		    res->error[0] ? ": " : "", res->error);
	push_phase(d, ok ? FWFLEET__PHASE__PHASE_DONE :
	    FWFLEET__PHASE__PHASE_FAILED, 0, 0, res->outcome,
	    res->error[0] ? res->error : NULL);
	m.msg_case = FWFLEET__ENGINE_MSG__MSG_INSTALL;
	m.install = &ir;
	op_end(d);
	control_reply_later(d->e, d->op_id, &m);
}

static const struct staged *find_staged(const struct deploy *d, const char *id)
{
	size_t i;

	for (i = 0; i < d->n_staged; i++)
		if (strcmp(d->staged[i].id, id) == 0)
			return &d->staged[i];
	return NULL;
}

/*
 * Payloads are staged 0600. When the installer is one of them (a relative
 * argv[0] naming a staged file, checked against the signed index like
 * every payload), it is made executable.
 */
static int make_executable(const struct staged *st, const char *dir,
    const Fwfleet__InstallRequest *req, char *err, size_t errlen)
{
	const char *exe;
	char path[1200];
	size_t i;

	if (req->n_argv == 0 || req->argv[0][0] == '/')
		return 0;
	exe = req->argv[0];
	if (strncmp(exe, "./", 2) == 0)
		exe += 2;
	for (i = 0; i < st->n_files; i++) {
		if (strcmp(st->files[i], exe) != 0)
			continue;
		fw_snprintf(path, sizeof(path), "%s/%s", dir, exe);
		if (chmod(path, 0700) != 0) {
			fw_snprintf(err, errlen, "cannot make %s executable: "
			    "%s", path, strerror(errno));
			return FW_ERR_SYSTEM;
		}
	}
	return 0;
}

int deploy_install(struct deploy *d, uint32_t id,
    const Fwfleet__InstallRequest *req, char *err, size_t errlen)
{
	struct install_spec spec = { 0 };
	const struct staged *st;
	char dir[1024];
	int r;

	if (d->activity[0] != '\0') {
		fw_snprintf(err, errlen, "busy: %s", d->activity);
		return FW_ERR_AGAIN;
	}
	if ((st = find_staged(d, req->component_id)) == NULL) {
		fw_snprintf(err, errlen, "component '%.64s' is not staged",
		    req->component_id);
		return FW_ERR_INVALID;
	}
	if (d->e->repo_pub != NULL &&
	    (r = signed_check_install(st->si, req, err, errlen)) != 0) {
		engine_note_error(d->e, "refused to install %s: %s",
		    req->component_id, err);
		return r;
	}
	staging_dir(d, st->id, dir, sizeof(dir));
	if ((r = make_executable(st, dir, req, err, errlen)) != 0)
		return r;
	spec.req = req;
	spec.staging_dir = dir;
	spec.payloads = (const char *const *)st->files;
	spec.n_payloads = st->n_files;
	op_begin(d, id, "installing", req->component_id, req->version,
	    req->job_id);
	r = install_start(d->e->base, &spec, NULL, on_install_done, d,
	    &d->inst, err, errlen);
	if (r != 0) {
		d->activity[0] = '\0';
		track_phase(d, FWFLEET__PHASE__PHASE_FAILED, 0, 0, err);
		engine_note_error(d->e, "cannot start the installer of %s: %s",
		    req->component_id, err);
		return r;
	}
	push_phase(d, FWFLEET__PHASE__PHASE_INSTALLING, 0, 0,
	    FWFLEET__INSTALL_OUTCOME__OUTCOME_UNKNOWN, NULL);
	return 0;
}

void deploy_cancel(struct deploy *d, int kill_running)
{
	if (d == NULL)
		return;
	if (d->fetch != NULL)
		fetch_cancel(d->fetch);
	if (d->inst != NULL)
		install_cancel(d->inst, kill_running);
}

const char *deploy_activity(const struct deploy *d)
{
	return d != NULL && d->activity[0] != '\0' ? d->activity : NULL;
}

const char *deploy_job_id(const struct deploy *d)
{
	return d != NULL ? d->job_id : "";
}

const struct deploy_component *deploy_components(const struct deploy *d,
    size_t *n)
{
	*n = d != NULL ? d->n_comps : 0;
	return d != NULL ? d->comps : NULL;
}

/* --- life cycle -------------------------------------------------------- */

void deploy_quiesce(struct deploy *d, int flush_ms)
{
	if (d == NULL)
		return;
	status_pusher_free(d->pusher, flush_ms);
	d->pusher = NULL;
}


int deploy_new(struct engine *e, struct deploy **out, char *err,
    size_t errlen)
{
	struct deploy *d = xcalloc(1, sizeof(*d));
	const Fwfleet__Bootstrap *bs = e->bs;
	int r = FW_ERR_TLS;

	*out = NULL;
	d->e = e;
	d->ctx = client_ctx(bs, err, errlen);
	if (d->ctx == NULL)
		goto out;
	if ((r = make_pusher(d, bs->controller_urls, bs->n_controller_urls,
	    err, errlen)) != 0)
		goto out;
	*out = d;
	d = NULL;
out:
	deploy_free(d);
	return r;
}

void deploy_free(struct deploy *d)
{
	size_t i, j;

	if (d == NULL)
		return;
	fetch_free(d->fetch);
	install_free(d->inst);
	status_pusher_free(d->pusher, 1000);
	for (i = 0; i < d->n_staged; i++) {
		for (j = 0; j < d->staged[i].n_files; j++)
			free(d->staged[i].files[j]);
		free(d->staged[i].files);
		free(d->staged[i].id);
		signed_installer_free(d->staged[i].si);
	}
	signed_installer_free(d->pending_si);
	SSL_CTX_free(d->ctx);
	free(d->comps);
	free(d);
}
