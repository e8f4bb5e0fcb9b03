/*
 * Certificate renewal of a persistent agent over the control channel
 * (proto: RenewRequest, RenewCsr, RenewCert, RenewDone). The new key
 * stays in memory until its certificate arrives; then both replace the
 * agent's files (agent.key, agent.crt in its state directory) and the
 * TLS context of new connections.
 */
#ifndef FW_RENEW_H
#define FW_RENEW_H

#include <stddef.h>
#include <stdint.h>

struct engine;

/* Makes a new key (pending) and its CSR (PEM, free with free()). */
int renew_begin(struct engine *e, char **csr, size_t *csr_len, char *err,
    size_t errlen);

/*
 * Takes the certificate for the pending key: checks it is for that key
 * and signed by the agent's CA, writes key and certificate, and serves
 * new connections with them. *not_after is its expiry (unix time).
 */
int renew_finish(struct engine *e, const uint8_t *pem, size_t len,
    int64_t *not_after, char *err, size_t errlen);

#endif
