#include "node.h"
#include "tunnel.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deploy.h"
#include "fleet.h"
#include "log.h"
#include "proto.h"
#include "util.h"

static const char *const state_names[] = {
	[NODE_IDLE] = "idle",
	[NODE_CONNECTING] = "connecting",
	[NODE_PREPARING] = "preparing",
	[NODE_TALKING] = "talking",
	[NODE_CLEANING] = "cleaning up",
	[NODE_DONE] = "done",
};

void node_log(const struct node *n, int level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg((enum log_level)level, "%s: %s", n->label, msg);
}

void node_init(struct node *n, struct fleet *f, const struct node_spec *spec,
    int index)
{
	memset(n, 0, sizeof(*n));
	n->fleet = f;
	n->spec = spec;
	n->index = index;
	n->state = NODE_IDLE;
	n->next_id = 1;
	n->channel_fd = -1;
	if (addr_format(&spec->addr, n->addr, sizeof(n->addr)) != 0)
		n->addr[0] = '\0';
	if (strcmp(spec->name, spec->addr.host) == 0)
		fw_snprintf(n->label, sizeof(n->label), "%s", spec->name);
	else
		fw_snprintf(n->label, sizeof(n->label), "%s (%s)", spec->name,
		    n->addr);
}

static void node_set_state(struct node *n, enum node_state s)
{
	struct deploy_ctx *d = fleet_deploy_ctx(n->fleet);

	node_log(n, LOG_LVL_DEBUG, "%s -> %s", state_names[n->state],
	    state_names[s]);
	n->state = s;
	if (d != NULL)
		deploy_node_state(d, n, state_names[s]);
}

/* Records the first failure; later ones are logged only. */
static void node_fail(struct node *n, const char *why)
{
	if (n->failed) {
		node_log(n, LOG_LVL_DEBUG, "also: %s", why);
		return;
	}
	n->failed = 1;
	fw_snprintf(n->error, sizeof(n->error), "%s", why);
	node_log(n, LOG_LVL_DEBUG, "failed: %s", why);
}

/* Leftovers matter to the operator whatever failed first: the cleanup's
 * failure joins the node's error. */
static void cleanup_failed(struct node *n)
{
	char first[sizeof(n->error)];

	n->leftovers = 1;
	if (!n->failed) {
		node_fail(n, n->step_err);
		return;
	}
	fw_snprintf(first, sizeof(first), "%s", n->error);
	fw_snprintf(n->error, sizeof(n->error), "%s; and %s", first,
	    n->step_err);
	node_log(n, LOG_LVL_DEBUG, "also: %s", n->step_err);
}

/* The only way a node ends. */
static void node_close(struct node *n)
{
	struct deploy_ctx *d = fleet_deploy_ctx(n->fleet);

	node_control_close(n);
	node_set_state(n, NODE_DONE);
	if (d != NULL)
		deploy_node_done(d, n);
	n->finished_ms = fw_now_ms();
	fleet_node_done(n->fleet, n);
}

static void node_cleanup(struct node *n)
{
	/* A failure can be reported twice (a connect error both returned and
	 * raised as an event); clean up once. */
	if (n->state == NODE_CLEANING || n->state == NODE_DONE)
		return;
	node_control_close(n);
	if (n->tp == NULL) {
		node_close(n);
		return;
	}
	node_set_state(n, NODE_CLEANING);
	fleet_submit(n->fleet, n, node_step_cleanup);
}

static void send_request(struct node *n, enum talk_phase phase)
{
	Fwfleet__ControllerMsg m = FWFLEET__CONTROLLER_MSG__INIT;
	Fwfleet__Hello hello = FWFLEET__HELLO__INIT;
	Fwfleet__InventoryRequest inv = FWFLEET__INVENTORY_REQUEST__INIT;
	Fwfleet__ShutdownRequest sd = FWFLEET__SHUTDOWN_REQUEST__INIT;

	n->phase = phase;
	switch (phase) {
	case TALK_STAGE:
	case TALK_INSTALL:
	case TALK_REBOOT:
	case TALK_RENEW:
	case TALK_RENEW_CERT:
		return;		/* sent by deploy.c, node_via.c */
	case TALK_HELLO:
		hello.protocol_version = FW_PROTOCOL_VERSION;
		hello.software_version = (char *)FWFLEET_VERSION;
		hello.session_id = (char *)fleet_session_id(n->fleet);
		m.msg_case = FWFLEET__CONTROLLER_MSG__MSG_HELLO;
		m.hello = &hello;
		break;
	case TALK_INVENTORY:
		m.msg_case = FWFLEET__CONTROLLER_MSG__MSG_INVENTORY;
		m.inventory = &inv;
		break;
	case TALK_SHUTDOWN:
		sd.remove_workdir = 1;
		m.msg_case = FWFLEET__CONTROLLER_MSG__MSG_SHUTDOWN;
		m.shutdown = &sd;
		break;
	}
	if (node_control_send(n, &m, 0) != 0) {
		node_abandon(n, "cannot send to the engine");
	}
}

void node_send_shutdown(struct node *n)
{
	send_request(n, TALK_SHUTDOWN);
}

void node_abandon(struct node *n, const char *why)
{
	node_fail(n, why);
	node_cleanup(n);
}

static void on_reply(struct node *n)
{
	Fwfleet__EngineMsg *r = n->reply;
	char msg[512];

	if (r->msg_case == FWFLEET__ENGINE_MSG__MSG_ERROR) {
		fw_snprintf(msg, sizeof(msg), "the engine refused the "
		    "request: %s", r->error->message);
		node_abandon(n, msg);
		return;
	}
	switch (n->phase) {
	case TALK_HELLO:
		if (r->msg_case != FWFLEET__ENGINE_MSG__MSG_HELLO)
			break;
		if (r->hello->protocol_version != FW_PROTOCOL_VERSION ||
		    (!n->via_agent && strcmp(r->hello->session_id,
		    fleet_session_id(n->fleet)) != 0)) {
			fw_snprintf(msg, sizeof(msg), "the engine speaks "
			    "protocol %u for session '%.32s' (want %u, %s)",
			    r->hello->protocol_version, r->hello->session_id,
			    FW_PROTOCOL_VERSION, fleet_session_id(n->fleet));
			node_abandon(n, msg);
			return;
		}
		node_log(n, LOG_LVL_DEBUG, "%s %s, protocol %u",
		    n->via_agent ? "agent" : "engine",
		    r->hello->software_version, r->hello->protocol_version);
		n->require_signed = r->hello->require_signed;
		for (size_t i = 0; i < r->hello->n_interrupted; i++)
			node_log(n, LOG_LVL_WARN, "the agent reports: %s",
			    r->hello->interrupted[i]);
		if (!n->aborted && node_agent_hello(n, r->hello))
			return;
		send_request(n, n->aborted ? TALK_SHUTDOWN : TALK_INVENTORY);
		return;
	case TALK_RENEW:
	case TALK_RENEW_CERT:
		if (node_agent_reply(n, r) == 1)
			send_request(n, n->aborted ? TALK_SHUTDOWN :
			    TALK_INVENTORY);
		return;
	case TALK_INVENTORY:
		if (r->msg_case != FWFLEET__ENGINE_MSG__MSG_INVENTORY)
			break;
		n->inv = r->inventory;
		r->inventory = NULL;	/* now owned by the node */
		r->msg_case = FWFLEET__ENGINE_MSG__MSG__NOT_SET;
		if (fleet_deploy_ctx(n->fleet) != NULL)
			deploy_node_inventory(fleet_deploy_ctx(n->fleet), n);
		else
			send_request(n, TALK_SHUTDOWN);
		return;
	case TALK_STAGE:
	case TALK_INSTALL:
	case TALK_REBOOT:
		deploy_node_reply(fleet_deploy_ctx(n->fleet), n, r);
		return;
	case TALK_SHUTDOWN:
		if (r->msg_case != FWFLEET__ENGINE_MSG__MSG_SHUTDOWN)
			break;
		if (r->shutdown->workdir_removed)
			n->engine_started = 0;	/* nothing left to clean */
		else
			node_log(n, LOG_LVL_WARN, "engine could not remove "
			    "its work directory: %s", r->shutdown->detail);
		node_cleanup(n);
		return;
	}
	node_abandon(n, "unexpected reply from the engine");
}

/* --via auto: no agent answered; the node goes the SSH way. */
static void go_ssh(struct node *n, const char *why)
{
	node_log(n, LOG_LVL_DEBUG, "no agent (%s): going by SSH", why);
	node_control_close(n);
	n->via_agent = 0;
	n->channel_up = 0;
	node_set_state(n, NODE_CONNECTING);
	fleet_submit(n->fleet, n, node_step_connect);
}

static void fsm_step_done(struct node *n, enum node_event ev)
{
	if (ev == NEV_STEP_FAILED && node_agent_fallback(n)) {
		go_ssh(n, n->step_err);
		return;
	}
	if (ev == NEV_STEP_FAILED) {
		node_abandon(n, n->step_err);
		return;
	}
	if (n->state == NODE_CONNECTING && n->via_agent) {
		/* The agent's port answered: TLS over that connection. */
		node_set_state(n, NODE_TALKING);
		if (node_control_open(n) != 0 && n->state == NODE_TALKING)
			node_abandon(n, n->step_err);
		return;
	}
	if (n->aborted) {
		node_abandon(n, "cancelled by the operator");
		return;
	}
	if (n->state == NODE_CONNECTING && fleet_job_step(n->fleet) != NULL) {
		node_set_state(n, NODE_PREPARING);
		fleet_set_workdir(n->fleet, n);
		fleet_submit(n->fleet, n, fleet_job_step(n->fleet));
		return;
	}
	if (n->state == NODE_PREPARING && fleet_job_step(n->fleet) != NULL) {
		node_cleanup(n);
		return;
	}
	if (n->state == NODE_CONNECTING) {
		node_set_state(n, NODE_PREPARING);
		if (fleet_issue_engine_cert(n->fleet, n) != 0) {
			node_abandon(n, n->step_err);
			return;
		}
		fleet_submit(n->fleet, n, node_step_prepare);
		return;
	}
	/* PREPARING done: the engine is up. */
	node_set_state(n, NODE_TALKING);
	if (node_control_open(n) != 0 && n->state == NODE_TALKING) {
		node_abandon(n, n->step_err);
	}
}

void node_fsm(struct node *n, enum node_event ev)
{
	switch (n->state) {
	case NODE_IDLE:
		if (ev == NEV_ABORT) {
			node_fail(n, "cancelled by the operator before it "
			    "started");
			node_close(n);
		} else if (ev == NEV_START) {
			n->started_ms = fw_now_ms();
			node_set_state(n, NODE_CONNECTING);
			n->via_agent = fleet_job(n->fleet) == FLEET_SESSION &&
			    fleet_opts(n->fleet)->via != VIA_SSH &&
			    !fleet_opts(n->fleet)->tunnel;
			fleet_submit(n->fleet, n, n->via_agent ?
			    node_step_probe : node_step_connect);
		}
		break;
	case NODE_CONNECTING:
	case NODE_PREPARING:
		if (ev == NEV_ABORT)
			n->aborted = 1;	/* acted on when the step returns */
		else if (ev == NEV_STEP_OK || ev == NEV_STEP_FAILED)
			fsm_step_done(n, ev);
		break;
	case NODE_TALKING:
		if (ev == NEV_CHANNEL_UP) {
			send_request(n, TALK_HELLO);
		} else if (ev == NEV_REPLY) {
			on_reply(n);
		} else if (ev == NEV_CHANNEL_FAILED && node_agent_fallback(n)) {
			go_ssh(n, n->step_err);
		} else if (ev == NEV_CHANNEL_FAILED) {
			node_abandon(n, n->step_err);
		} else if (ev == NEV_ABORT) {
			int hard = n->aborted;

			n->aborted = 1;
			/* A deploy lets the installer that runs finish (the
			 * second Ctrl-C kills it) and then shuts down. */
			if ((n->phase == TALK_STAGE || n->phase == TALK_INSTALL) &&
			    deploy_node_abort(fleet_deploy_ctx(n->fleet), n,
			    hard))
				break;
			if (!hard) {
				node_abandon(n, "cancelled by the operator");
			}
		}
		break;
	case NODE_CLEANING:
		if (ev == NEV_ABORT) {
			n->aborted = 1;
		} else if (ev == NEV_STEP_OK || ev == NEV_STEP_FAILED) {
			if (ev == NEV_STEP_FAILED)
				cleanup_failed(n);
			node_close(n);
		}
		break;
	case NODE_DONE:
		break;
	}
}

void node_free(struct node *n)
{
	node_control_close(n);
	tunnel_close(n->tun);
	n->tun = NULL;
	if (n->channel_fd >= 0)
		close(n->channel_fd);
	n->channel_fd = -1;
	transport_close(n->tp);
	n->tp = NULL;
	if (n->bootstrap != NULL) {
		explicit_bzero(n->bootstrap, n->bootstrap_len);
		free(n->bootstrap);
		n->bootstrap = NULL;
	}
	free(n->job_out);
	n->job_out = NULL;
	if (n->inv != NULL)
		fwfleet__inventory__free_unpacked(n->inv, NULL);
	n->inv = NULL;
	deploy_node_free(n);
}
