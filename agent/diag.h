/*
 * The engine's diagnostics: what `fwfleet diag` (over the control channel,
 * with a certificate of role diag) and `fwfleet-engine diag` (over a local
 * unix socket, root only) are shown. One function fills a Diag from the
 * engine; a ring keeps the last DIAG_MAX_ERRORS errors the operator would
 * want to see, with their times.
 *
 * The local socket is <dir>/diag.sock, dir being the engine's work
 * directory (or a persistent agent's state directory): 0600 in a 0700
 * directory, and each peer's SO_PEERCRED uid must be 0. Same frames as
 * the control channel, without TLS: a ControllerMsg with a DiagRequest in,
 * an EngineMsg with the Diag (or an Error) out, then the engine closes.
 */
#ifndef FW_DIAG_H
#define FW_DIAG_H

#include <stddef.h>

#include "fwfleet.pb-c.h"

struct engine;
struct diag;

#define DIAG_SOCKET_NAME	"diag.sock"
#define DIAG_MAX_ERRORS		20
#define DIAG_MSG_MAX		240	/* bytes kept of each error */
#define DIAG_LOCAL_MAX_CONNS	4
#define DIAG_LOCAL_TIMEOUT_S	5

/* A new, empty ring of errors, no socket yet. */
struct diag *diag_new(void);

/* Closes the local socket (removing it unless its directory is gone) and
 * frees d. NULL is a no-op. */
void diag_free(struct diag *d);

/*
 * Notes an error the operator would want to see: logs it (error level)
 * and keeps it, with the time, in e's ring (the oldest goes when
 * DIAG_MAX_ERRORS are kept).
 */
void engine_note_error(struct engine *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "ephemeral", or "persistent" for an installed agent. */
const char *diag_engine_mode(const struct engine *e);

/*
 * The directory that holds the engine's local socket: its work directory,
 * or a persistent agent's state directory. The one place that says so.
 */
const char *diag_socket_dir(const struct engine *e);

/* Writes <dir>/DIAG_SOCKET_NAME into buf. Returns 0 or FW_ERR_INVALID. */
int diag_socket_path(const char *dir, char *buf, size_t len);

/*
 * What e shows: version, build, mode, uptime, pid, state, job and its
 * components, recent errors, firewall rules, directories, certificate,
 * when the controller was last seen. The caller owns the result: free it
 * with fwfleet__diag__free_unpacked(d, NULL).
 */
Fwfleet__Diag *diag_collect(const struct engine *e);

/*
 * Starts the local socket in diag_socket_dir(e) on e's event loop.
 * Returns 0, or FW_ERR_* with err (then there is no socket; the engine
 * serves without it).
 */
int diag_listen(struct engine *e, char *err, size_t errlen);

#endif
