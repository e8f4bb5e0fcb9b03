/*
 * `fwfleet diag`'s client: asks the engine or persistent agent on a node
 * for its Diag over mutual TLS, with a short-lived certificate of role
 * diag issued from the controller's CA (the engine lets such a client see
 * Hello and Diag, whatever its session). The engine's certificate must be
 * signed by our CA, have role engine and name the node's address.
 * Blocking I/O, bounded by timeouts; one client serves many threads.
 */
#ifndef FW_DIAG_CLIENT_H
#define FW_DIAG_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "fwfleet.pb-c.h"

#define DIAG_CERT_VALID_S	600

struct diag_client;

struct diag_client_opts {
	uint16_t first_port;	/* tried upward while refused (62286) */
	int connect_timeout_s;	/* per port (5) */
	int timeout_s;		/* the TLS handshake and each reply (10) */
};

/* Fills o with the defaults above. */
void diag_client_opts_init(struct diag_client_opts *o);

/*
 * Loads the CA in pki_dir and issues this run's diag certificate (valid
 * DIAG_CERT_VALID_S). Returns 0, or FW_ERR_* with err (FW_ERR_NOT_FOUND:
 * no CA; run `fwfleet pki init`).
 */
int diag_client_new(const char *pki_dir, const struct diag_client_opts *o,
    struct diag_client **out, char *err, size_t errlen);

/*
 * Asks the node at addr (its port is SSH's, not used): connects to the
 * ports from first_port upward while connections are refused, at most
 * FW_ENGINE_PORT_TRIES, and asks the first that answers for Hello and
 * Diag. Returns 0 with *out (free with fwfleet__diag__free_unpacked) and
 * *port, or FW_ERR_* with err saying what failed and what to do.
 * Thread safe.
 */
int diag_client_ask(struct diag_client *dc, const struct fw_addr *addr,
    Fwfleet__Diag **out, uint16_t *port, char *err, size_t errlen);

void diag_client_free(struct diag_client *dc);

#endif
