/*
 * The persistent agent: the engine installed for good on a host that is
 * updated often (`fwfleet agent install`). Its files, under the node's
 * root (/ on a real host; a test tree on the namespace test nodes):
 *
 *   usr/local/libexec/fwfleet/fwfleet-engine   the binary
 *   etc/fwfleet/agent.conf                     "port=62286"
 *   var/lib/fwfleet/                           state (0700): agent.key,
 *                                              agent.crt, ca.crt, run/,
 *                                              supervisor.pid, agent.log
 *   etc/systemd/system/fwfleet-agent.service   where systemd runs the host
 *
 * The agent serves the control channel on its fixed port to any
 * controller whose certificate the enrolled CA signed (role controller,
 * any session); it has no idle watchdog and Shutdown only ends the
 * controller's session. Where systemd does not run the host (and always
 * on a test tree), `fwfleet-engine agent start` supervises it instead: a
 * detached supervisor restarts the agent when it exits.
 *
 *   fwfleet-engine agent csr [--root R]        new key (pending), CSR on stdout
 *   fwfleet-engine agent enroll [--root R] [--port N]   cert + CA PEM on stdin
 *   fwfleet-engine agent run [--root R]        serve in the foreground
 *   fwfleet-engine agent start|stop|status [--root R]
 */
#ifndef FW_AGENT_H
#define FW_AGENT_H

#define AGENT_BIN	"usr/local/libexec/fwfleet/fwfleet-engine"
#define AGENT_CONF	"etc/fwfleet/agent.conf"
#define AGENT_STATE	"var/lib/fwfleet"
#define AGENT_UNIT	"etc/systemd/system/fwfleet-agent.service"

/* `fwfleet-engine agent ...`: argv[0] is "agent". Returns the exit code. */
int agent_main(const char *self, int argc, char **argv);

#endif
