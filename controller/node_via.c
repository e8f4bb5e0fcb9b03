/*
 * Sessions through persistent agents (--via auto|agent): the node is
 * reached by mutual TLS on the agent's port, no SSH. The agent must hold
 * a certificate of our CA for this node's address, with role engine and
 * TLS_AGENT_URI_PREFIX<its name>, not revoked (`fwfleet pki revoke`). After its Hello, a
 * certificate that expires within --renew-within is renewed: the agent
 * makes a new key and CSR, we sign it.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ssl.h>

#include "err.h"
#include "fleet.h"
#include "log.h"
#include "node.h"
#include "pki.h"
#include "tls.h"
#include "util.h"

int node_agent_check(struct node *n, SSL *ssl, char *err, size_t errlen)
{
	X509 *peer = SSL_get0_peer_certificate(ssl);
	char role[64] = "", name[300] = "", serial[128];

	if (tls_peer_uri_suffix(ssl, TLS_ROLE_URI_PREFIX, role,
	    sizeof(role)) != 0 || strcmp(role, TLS_ROLE_ENGINE) != 0 ||
	    tls_peer_uri_suffix(ssl, TLS_AGENT_URI_PREFIX, name,
	    sizeof(name)) != 0) {
		fw_snprintf(err, errlen, "what answers on port %u is not a "
		    "persistent agent (an engine of another run?)",
		    n->engine_port);
		return FW_ERR_CERT;
	}
	fw_snprintf(n->agent_name, sizeof(n->agent_name), "%s", name);
	/* TLS checked the address; a node given by name must be the one the
	 * agent was enrolled as. */
	if (strcmp(n->spec->name, n->spec->addr.host) != 0 &&
	    strcmp(name, n->spec->name) != 0) {
		fw_snprintf(err, errlen, "the agent on port %u was enrolled as "
		    "'%s', not '%s'", n->engine_port, name, n->spec->name);
		return FW_ERR_CERT;
	}
	if (peer != NULL && pki_cert_serial(peer, serial, sizeof(serial)) == 0 &&
	    fleet_revoked(n->fleet, serial)) {
		fw_snprintf(err, errlen, "the agent's certificate (serial %s) "
		    "was revoked with `fwfleet pki revoke`: reinstall the agent "
		    "with `fwfleet agent install`", serial);
		return FW_ERR_CERT;
	}
	return 0;
}

static int send_renew(struct node *n, Fwfleet__ControllerMsg *m,
    enum talk_phase phase)
{
	n->phase = phase;
	if (node_control_send(n, m, 0) != 0) {
		node_abandon(n, "cannot send to the agent");
		return -1;
	}
	return 0;
}

int node_agent_hello(struct node *n, const Fwfleet__Hello *h)
{
	Fwfleet__ControllerMsg m = FWFLEET__CONTROLLER_MSG__INIT;
	Fwfleet__RenewRequest rr = FWFLEET__RENEW_REQUEST__INIT;
	long left = (long)(h->cert_not_after_unix - time(NULL));

	if (!n->via_agent || h->cert_not_after_unix == 0 ||
	    left > fleet_opts(n->fleet)->renew_within_s)
		return 0;
	node_log(n, LOG_LVL_INFO, "the agent's certificate expires in %ld s: "
	    "renewing it", left);
	m.msg_case = FWFLEET__CONTROLLER_MSG__MSG_RENEW;
	m.renew = &rr;
	return send_renew(n, &m, TALK_RENEW) == 0;
}

/* The CSR came: sign it and send the certificate. */
static int renew_sign(struct node *n, const Fwfleet__RenewCsr *csr)
{
	Fwfleet__ControllerMsg m = FWFLEET__CONTROLLER_MSG__INIT;
	Fwfleet__RenewCert rc = FWFLEET__RENEW_CERT__INIT;
	char *chain = NULL;
	size_t len;
	int r;

	if (fleet_sign_agent(n->fleet, n, (const char *)csr->csr_pem.data,
	    csr->csr_pem.len, &chain, &len) != 0) {
		node_log(n, LOG_LVL_WARN, "cannot renew the agent's "
		    "certificate: %s", n->step_err);
		return 1;
	}
	rc.cert_pem.data = (uint8_t *)chain;
	rc.cert_pem.len = len;
	m.msg_case = FWFLEET__CONTROLLER_MSG__MSG_RENEW_CERT;
	m.renew_cert = &rc;
	r = send_renew(n, &m, TALK_RENEW_CERT);
	free(chain);
	return r == 0 ? 0 : -1;
}

int node_agent_reply(struct node *n, const Fwfleet__EngineMsg *r)
{
	if (n->phase == TALK_RENEW &&
	    r->msg_case == FWFLEET__ENGINE_MSG__MSG_RENEW_CSR)
		return renew_sign(n, r->renew_csr);
	if (n->phase == TALK_RENEW_CERT &&
	    r->msg_case == FWFLEET__ENGINE_MSG__MSG_RENEW_DONE) {
		if (r->renew_done->ok) {
			time_t t = (time_t)r->renew_done->not_after_unix;
			char when[32];

			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ",
			    gmtime(&t));
			node_log(n, LOG_LVL_INFO, "agent certificate renewed, "
			    "valid until %s", when);
		}
		else
			node_log(n, LOG_LVL_WARN, "the agent did not take its "
			    "new certificate: %s", r->renew_done->error);
		return 1;
	}
	node_abandon(n, "unexpected reply from the agent during renewal");
	return -1;
}

int node_agent_fallback(struct node *n)
{
	return n->via_agent && !n->channel_up &&
	    fleet_opts(n->fleet)->via == VIA_AUTO;
}
