/*
 * The host's firewall, opened for one incoming TCP port while a session
 * runs: a rule in every input filter the host has (iptables legacy,
 * iptables-nft, native nftables; several at once when the host mixes
 * them), each tagged with the comment FIREWALL_TAG_PREFIX "<tag>" so that
 * a later sweep finds the rules of sessions that crashed. A tag is a
 * session id: 1 to FIREWALL_TAG_MAX of A-Z a-z 0-9 '-'.
 *
 * Tables and chains are never created, so a host that does not filter
 * input gets no rules and nothing can be left behind. The work is done
 * by the host's own tools (nft, iptables...: fork and exec, no shell), so
 * every call needs root, blocks (up to 10 s per command: call it from a
 * worker thread, never from the event loop) and waits for its children by
 * pid (SIGCHLD must not be ignored). firewall_linux.c says how each
 * backend is found.
 */
#ifndef FW_FIREWALL_H
#define FW_FIREWALL_H

#include <stddef.h>
#include <stdint.h>

#define FIREWALL_TAG_PREFIX	"fwfleet:"
#define FIREWALL_TAG_MAX	64

/* The tag of a persistent agent's rules (agent install --open-firewall):
 * held while the agent runs, so firewall_sweep never removes them;
 * firewall_sweep_agent removes those an agent that was killed left. */
#define FIREWALL_AGENT_TAG	"agent"

/* The rules one firewall_open added. */
struct firewall;

/*
 * Opens incoming TCP port, IPv4 and IPv6, in every input filter of the
 * host, each rule tagged FIREWALL_TAG_PREFIX tag. On success *out lists
 * what was added, possibly nothing (nothing filters input); the caller
 * owns it and passes it to firewall_close. On failure the rules already
 * added are removed again, *out is NULL and err names the command that
 * failed and what it said. Returns 0, FW_ERR_INVALID (port 0 or a bad
 * tag, refused before any command runs), FW_ERR_UNSUPPORTED (an input
 * chain this module cannot change), FW_ERR_PARSE, FW_ERR_TIMEOUT,
 * FW_ERR_FRAME_TOO_BIG or FW_ERR_SYSTEM.
 */
int firewall_open(uint16_t port, const char *tag, struct firewall **out,
    char *err, size_t errlen);

/* The number of rules fw added (0 for NULL). */
size_t firewall_count(const struct firewall *fw);

/*
 * Rule i of fw, for logs and diagnostics:
 * "nft inet filter input tcp dport 62286 accept",
 * "iptables-legacy filter INPUT tcp dport 62286 accept",
 * "ip6tables-nft filter INPUT tcp dport 62286 accept". NULL past the end.
 * Owned by fw.
 */
const char *firewall_rule(const struct firewall *fw, size_t i);

/*
 * Removes every rule fw added, trying all of them even when one fails,
 * and frees fw. A rule that is already gone (a firewall reload, a sweep)
 * counts as removed. NULL is a no-op. Returns 0 or the first failure,
 * described in err.
 */
int firewall_close(struct firewall *fw, char *err, size_t errlen);

/*
 * Finds every rule tagged FIREWALL_TAG_PREFIX "<x>" (x a valid tag other
 * than FIREWALL_AGENT_TAG) in every backend and removes it unless keep(x,
 * arg) returns nonzero (a NULL keep removes them all): the rules of
 * sessions that crashed. *removed is the number removed. Goes on after a
 * failure; returns 0 or the first failure, described in err.
 */
int firewall_sweep(int (*keep)(const char *tag, void *arg), void *arg,
    size_t *removed, char *err, size_t errlen);

/* Removes every rule tagged FIREWALL_AGENT_TAG, as firewall_sweep does
 * the others: before a persistent agent opens its port, and once it is
 * stopped. */
int firewall_sweep_agent(size_t *removed, char *err, size_t errlen);

/*
 * Calls cb(tag, desc, arg) for each tagged rule in the ruleset, as
 * firewall_sweep would find it; desc says where and what it is ("nft inet
 * filter input tcp dport 62286 counter packets 0 bytes 0 accept comment
 * ...", "iptables-legacy -t filter -A INPUT -p tcp ..."). Changes nothing.
 * Returns 0 or the first failure, described in err.
 */
int firewall_list(void (*cb)(const char *tag, const char *desc, void *arg),
    void *arg, char *err, size_t errlen);

#endif
