#include <getopt.h>
#include <stdio.h>

#include "command.h"
#include "proto.h"
#include "util.h"

static int ports_exec(const struct global_opts *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ssh-port", required_argument, NULL, 'p' },
		{ "engine-port", required_argument, NULL, 'e' },
		{ "port", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	long ssh = FW_SSH_PORT, engine = FW_ENGINE_PORT, https = FW_HTTPS_PORT;
	char ssh_s[32], engine_s[48], https_s[32];
	long *dst;
	int ch;

	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		dst = ch == 'p' ? &ssh : ch == 'e' ? &engine :
		    ch == 'P' ? &https : NULL;
		if (dst == NULL || fw_parse_long(optarg, 1, 65535, dst) != 0) {
			fprintf(stderr, "fwfleet ports: bad port\n");
			return EXIT_FW_BAD_PARAM;
		}
	}
	snprintf(ssh_s, sizeof(ssh_s), "%ld/tcp", ssh);
	snprintf(engine_s, sizeof(engine_s), "%ld/tcp (or next free)", engine);
	snprintf(https_s, sizeof(https_s), "%ld/tcp", https);
	printf("%-22s %-18s %s\n", "PORT", "DIRECTION", "WHAT");
	printf("%-22s %-18s %s\n", ssh_s,
	    "controller -> node", "SSH (Linux, and Windows OpenSSH)");
	printf("%-22s %-18s %s\n", "445/tcp", "controller -> node",
	    "SMB admin$ (Windows, where used)");
	printf("%-22s %-18s %s\n", engine_s, "controller -> node",
	    "engine control channel, mutual TLS");
	printf("%-22s %-18s %s\n", https_s,
	    "node -> controller",
	    "HTTPS: payload chunks and status pushes, mutual TLS");
	printf("\n--open-firewall opens %s on each Linux node and %s on this "
	    "host for the run\n(iptables/ip6tables or nftables, rules tagged "
	    "fwfleet:<session>) and closes them after.\n--tunnel needs only "
	    "%s: the engine's traffic rides inside SSH.\n", engine_s, https_s,
	    ssh_s);
	return EXIT_FW_OK;
}

const struct command cmd_ports = {
	.name = "ports",
	.summary = "print the network ports fwfleet uses",
	.usage = "usage: fwfleet ports [--ssh-port N] [--engine-port N] "
	    "[--port N]\n\n"
	    "Prints the ports table with the ports actually configured, for\n"
	    "firewall planning. The engine tries up to 64 ports from its\n"
	    "first port when one is taken.\n",
	.exec = ports_exec,
};
