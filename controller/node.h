/*
 * The per-node state machine. Only node_set_state() writes node->state;
 * callbacks turn I/O, worker results and timers into events for node_fsm();
 * node_close() is the only way a node ends.
 *
 *  IDLE -start-> CONNECTING -ok-> PREPARING -ok-> TALKING -done-> CLEANING
 *                    |              |  (ship, start)  |               |
 *                    +--fail--> DONE <----------------+-----fail------+
 *
 * Failures after the connection is up go through CLEANING, so no engine,
 * file or port outlives the session.
 */
#ifndef FW_NODE_H
#define FW_NODE_H

#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "fwfleet.pb-c.h"
#include "nodes.h"
#include "transport.h"

struct fleet;
struct bufferevent;
struct event;

enum node_state {
	NODE_IDLE,
	NODE_CONNECTING,
	NODE_PREPARING,
	NODE_TALKING,
	NODE_CLEANING,
	NODE_DONE,
};

enum node_event {
	NEV_START,
	NEV_STEP_OK,		/* a worker step finished well */
	NEV_STEP_FAILED,	/* a worker step failed: see step_err */
	NEV_CHANNEL_UP,		/* TLS handshake done and peer checked */
	NEV_REPLY,		/* a reply arrived: see reply */
	NEV_CHANNEL_FAILED,	/* control channel error or timeout */
	NEV_ABORT,		/* Ctrl-C */
};

enum talk_phase {
	TALK_HELLO, TALK_INVENTORY, TALK_STAGE, TALK_INSTALL, TALK_REBOOT,
	TALK_SHUTDOWN,
};

struct node_deploy;

struct node {
	struct fleet *fleet;
	const struct node_spec *spec;
	int index;
	char addr[300];			/* "host:22", "[2001:db8::5]:22" */
	char label[620];		/* "name" or "name (address)" */
	enum node_state state;
	uint64_t started_ms;
	uint64_t finished_ms;

	/* Used by worker steps only while a step runs. */
	struct transport *tp;
	int step_rc;			/* result of the last step */
	char step_err[512];
	char workdir[512];
	uint16_t engine_port;
	struct sockaddr_storage peer;	/* where SSH reached the node */
	socklen_t peer_len;
	struct sockaddr_storage local;	/* our end of that connection */
	struct tunnel *tun;		/* --tunnel: forwarding over SSH */
	uint16_t tunnel_port;		/* on the node: to our HTTPS server */
	int tunnel_fd;			/* control channel end, until used */
	char *bootstrap;		/* packed Bootstrap (holds a key) */
	size_t bootstrap_len;
	int engine_started;

	/* The control channel (loop thread only). */
	struct bufferevent *bev;
	struct event *timer;
	enum talk_phase phase;
	uint32_t next_id;
	uint32_t inflight_id;		/* the request awaiting its reply */
	int channel_up;			/* TLS handshake done */
	Fwfleet__EngineMsg *reply;	/* the message being handled */

	/* Outcome. */
	int aborted;
	int failed;
	char error[1024];
	Fwfleet__Inventory *inv;	/* owned, from the engine's reply */
	char *sweep_out;		/* fwfleet cleanup: what was swept */
	int leftovers;			/* cleanup could not finish */
	struct node_deploy *dep;	/* deploy runs: owned by deploy.c */
};

void node_init(struct node *n, struct fleet *f, const struct node_spec *spec,
    int index);
void node_fsm(struct node *n, enum node_event ev);
void node_free(struct node *n);

/* node_steps.c: the blocking steps, run on worker threads. */
void node_step_connect(void *arg);
void node_step_prepare(void *arg);
void node_step_cleanup(void *arg);
void node_step_sweep(void *arg);

/* Asks the engine to shut down (the end of the talk). */
void node_send_shutdown(struct node *n);

/* Records a failure and goes to cleanup (the only exit from the talk
 * other than Shutdown). */
void node_abandon(struct node *n, const char *why);

/* node_control.c: the control channel on the loop thread. */
int node_control_open(struct node *n);
/* Sends msg; its reply is awaited for timeout_s (0: the talk timeout). */
int node_control_send(struct node *n, Fwfleet__ControllerMsg *msg,
    unsigned timeout_s);
/* Sends msg expecting no reply (Cancel), keeping the awaited one. */
int node_control_notify(struct node *n, Fwfleet__ControllerMsg *msg);
void node_control_close(struct node *n);

/* fleet.c: services a node asks of its run. */
struct event_base *fleet_base(struct fleet *f);
SSL_CTX *fleet_client_ctx(struct fleet *f);
struct deploy_ctx *fleet_deploy_ctx(struct fleet *f);
/* The controller's HTTPS URL for node n (its SSH connection's family). */
void fleet_controller_url(const struct fleet *f, const struct node *n,
    char *url, size_t len);
const char *fleet_session_id(const struct fleet *f);
/* fwfleet cleanup: the sessions to sweep, and whether all others too. */
char **fleet_dead_sessions(const struct fleet *f, size_t *n);
int fleet_sweep_force(const struct fleet *f);
int fleet_sweep_only(const struct fleet *f);
const struct fleet_opts *fleet_opts(const struct fleet *f);
void fleet_submit(struct fleet *f, struct node *n, void (*step)(void *));
int fleet_issue_engine_cert(struct fleet *f, struct node *n);
/* Sets n->workdir: <remote dir>/fwfleet-<session>-<node index>. */
void fleet_set_workdir(const struct fleet *f, struct node *n);
void fleet_node_done(struct fleet *f, struct node *n);

/* Node-scoped logging: every line names the node. */
void node_log(const struct node *n, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
