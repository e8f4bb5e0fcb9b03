/*
 * The list of nodes an operator targets: from an Ansible-style INI
 * inventory, plain "host[:port]" lines, or --target a,b,c.
 *
 * INI support: host lines ("name key=value ..."), [group] sections,
 * [group:vars] (variables applied to the group's hosts), [group:children]
 * (groups nested in a group), [all:vars], '#' and ';' comments.
 * Variables used: ansible_host, ansible_port, ansible_user,
 * ansible_ssh_private_key_file (ansible_ssh_host / ansible_ssh_port /
 * ansible_ssh_user are accepted as old spellings). Host variables win over
 * group variables. A host named in several groups appears once, in the
 * order first seen. Ansible range patterns (web[01:10]) are rejected with
 * a clear error.
 */
#ifndef FW_NODES_H
#define FW_NODES_H

#include <stddef.h>

#include "addr.h"

struct node_spec {
	char *name;		/* as the operator wrote it (inventory name) */
	struct fw_addr addr;	/* where to connect (ansible_host or name) */
	char *user;		/* NULL = the default user */
	char *key_file;		/* NULL = the default key / ssh-agent */
};

struct node_list {
	struct node_spec *v;
	size_t n;
};

/*
 * Parses the file at path (INI or plain lines) and appends its hosts to
 * list; default_port applies where no port is given. On error returns
 * FW_ERR_PARSE (or FW_ERR_SYSTEM when unreadable) and fills err with
 * "path:line: what was wrong"; list is left unchanged.
 */
int nodes_parse_file(const char *path, uint16_t default_port,
    struct node_list *list, char *err, size_t errlen);

/* Same for an in-memory text; name is used in error messages. */
int nodes_parse_text(const char *name, const char *text, uint16_t default_port,
    struct node_list *list, char *err, size_t errlen);

/* Appends the comma-separated targets in csv ("a,b:2222,[2001:db8::5]:22"). */
int nodes_parse_targets(const char *csv, uint16_t default_port,
    struct node_list *list, char *err, size_t errlen);

/* Frees every entry and resets list to empty. */
void nodes_free(struct node_list *list);

#endif
