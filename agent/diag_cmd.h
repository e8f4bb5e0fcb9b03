/*
 * `fwfleet-engine diag [--json] [--socket PATH] [--remote-dir DIR]`: asks
 * the engines running on this node, through their local diag sockets
 * (root only), what `fwfleet diag` would show. Without --socket it asks
 * every engine found: <remote dir, default /tmp>/fwfleet-<session>-<n>/
 * diag.sock, and the persistent agent's /var/lib/fwfleet/diag.sock.
 */
#ifndef FW_DIAG_CMD_H
#define FW_DIAG_CMD_H

/* argv[0] is "diag". Returns the exit code: 0 every engine answered,
 * 1 one did not (or none was found), 2 bad usage. */
int diag_cmd_main(int argc, char **argv);

#endif
