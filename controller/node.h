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
#include "fleet.h"
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
	TALK_HELLO, TALK_RENEW, TALK_RENEW_CERT, TALK_INVENTORY, TALK_STAGE,
	TALK_INSTALL, TALK_REBOOT, TALK_SHUTDOWN,
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
	int channel_fd;			/* a connected control channel socket
					 * (--tunnel's pump, an agent probe),
					 * until the channel takes it */
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
	int via_agent;			/* talking to a persistent agent */
	char agent_name[256];		/* the name it was enrolled as */
	int require_signed;		/* its repository key is pinned */
	Fwfleet__EngineMsg *reply;	/* the message being handled */

	/* Outcome. */
	int aborted;
	int failed;
	char error[1024];
	Fwfleet__Inventory *inv;	/* owned, from the engine's reply */
	char *job_out;			/* a job's report (cleanup, agent) */
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
void node_step_probe(void *arg);

/* A TCP connection from here to port on n's address, each address tried
 * for at most timeout_s; -1 with errno and why ("198.18.0.11 port 62286
 * (Connection timed out)") if none took it. */
int node_dial(const struct node *n, uint16_t port, int timeout_s,
    char *why, size_t whylen);

/*
 * Runs cmd on the node (stdin in[0..inlen)); a failure to run it, or a
 * non-zero exit, is described in step_err as "what: ..." (with stderr).
 */
int node_exec(struct node *n, const char *what, const char *cmd,
    const void *in, size_t inlen, int timeout_ms, struct exec_result *res);

/*
 * Ships the engine into n->workdir and runs tail (a shell fragment; $d is
 * the work directory) as the script's end. Returns 0 when the script
 * exited 0, with its output in *res; else step_err says what failed.
 */
int node_ship(struct node *n, const char *tail, struct exec_result *res);

/* node_agent.c: the persistent agent over SSH (output in job_out). */
void node_step_agent_install(void *arg);
void node_step_agent_upgrade(void *arg);
void node_step_agent_remove(void *arg);
void node_step_agent_status(void *arg);

/* Asks the engine to shut down (the end of the talk). */
void node_send_shutdown(struct node *n);

/* Records a failure and goes to cleanup (the only exit from the talk
 * other than Shutdown). */
void node_abandon(struct node *n, const char *why);

/* node_via.c: persistent agents in a session (--via auto|agent). */
/* Checks the peer of a direct connection is our agent for this node. */
int node_agent_check(struct node *n, SSL *ssl, char *err, size_t errlen);
/* After the agent's Hello: renews its certificate if it expires soon.
 * Returns 1 if a renewal started (its replies go to node_agent_reply). */
int node_agent_hello(struct node *n, const Fwfleet__Hello *h);
/* A renewal reply; returns the next phase to send, or -1 on failure
 * (the node was abandoned). */
int node_agent_reply(struct node *n, const Fwfleet__EngineMsg *r);
/* True if the agent path failed and the node should go by SSH. */
int node_agent_fallback(struct node *n);

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
/* The sessions of this controller that died (their leftovers go). */
char **fleet_dead_sessions(const struct fleet *f, size_t *n);
/* What the run does on nodes; the step of a job other than a session. */
typedef void (*fleet_step_fn)(void *);
enum fleet_job fleet_job(const struct fleet *f);
fleet_step_fn fleet_job_step(const struct fleet *f);
const struct fleet_opts *fleet_opts(const struct fleet *f);
void fleet_submit(struct fleet *f, struct node *n, void (*step)(void *));
int fleet_issue_engine_cert(struct fleet *f, struct node *n);
/*
 * Signs a persistent agent's certificate request (worker threads): names
 * from the node, role engine, TLS_AGENT_URI_PREFIX<node name>. *chain is the certificate
 * then the CA certificate, PEM. Records the serial for `pki revoke`.
 */
int fleet_sign_agent(struct fleet *f, struct node *n, const char *csr,
    size_t csr_len, char **chain, size_t *chain_len);
/* True if the certificate serial (hex) was revoked (`pki revoke`). */
int fleet_revoked(const struct fleet *f, const char *serial);
/* Sets n->workdir: <remote dir>/fwfleet-<session>-<node index>. */
void fleet_set_workdir(const struct fleet *f, struct node *n);
void fleet_node_done(struct fleet *f, struct node *n);

/* Node-scoped logging: every line names the node. */
void node_log(const struct node *n, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
