/*
 * Private to the SSH modules (transport_ssh.c, tunnel_ssh.c): the libssh
 * session behind a transport made by transport_ssh_connect. Whoever uses
 * it must be the only thread touching the transport meanwhile.
 */
#ifndef FW_TRANSPORT_SSH_H
#define FW_TRANSPORT_SSH_H

#include <libssh/libssh.h>

#include "transport.h"

/* The connected, authenticated session; owned by t. */
ssh_session transport_ssh_session(struct transport *t);

/* The node for messages: "node1:22", "[::1]:2222"; owned by t. */
const char *transport_ssh_host(struct transport *t);

#endif
