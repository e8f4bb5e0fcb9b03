/* Inventories: plain lines, INI groups and variables, targets, bad files. */
#include <stdarg.h>
#include <fcntl.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "err.h"
#include "nodes.h"

/* One expected node; user and key NULL mean "not set". */
struct want {
	const char *name;
	enum addr_kind kind;
	const char *host;
	const char *zone;
	uint16_t port;
	const char *user;
	const char *key;
};

static void check_nodes(const struct node_list *l, const struct want *w,
    size_t n)
{
	size_t i;

	assert_int_equal(l->n, n);
	for (i = 0; i < n; i++) {
		assert_string_equal(l->v[i].name, w[i].name);
		assert_int_equal(l->v[i].addr.kind, w[i].kind);
		assert_string_equal(l->v[i].addr.host, w[i].host);
		assert_string_equal(l->v[i].addr.zone, w[i].zone);
		assert_int_equal(l->v[i].addr.port, w[i].port);
		if (w[i].user == NULL)
			assert_null(l->v[i].user);
		else
			assert_string_equal(l->v[i].user, w[i].user);
		if (w[i].key == NULL)
			assert_null(l->v[i].key_file);
		else
			assert_string_equal(l->v[i].key_file, w[i].key);
	}
}

static void parse_ok(const char *text, struct node_list *l)
{
	char err[512];

	if (nodes_parse_text("inv", text, 22, l, err, sizeof(err)) != 0)
		fail_msg("rejected: %s", err);
	assert_string_equal(err, "");
}

static void test_plain_lines(void **state)
{
	static const char text[] =
	    "# plain list, CRLF endings\r\n"
	    "node1\r\n"
	    "\r\n"
	    "  node2:2222   \r\n"
	    "; another comment\r\n"
	    "198.18.0.5\r\n"
	    "198.18.0.6:2200\r\n"
	    "[2001:db8::5]:2022\r\n"
	    "[2001:db8::6]\r\n"
	    "2001:db8::7\r\n"
	    "fe80::1%eth0\r\n"
	    "[fe80::2%veth1]:23";	/* no final newline */
	static const struct want w[] = {
		{ "node1", ADDR_NAME, "node1", "", 22, NULL, NULL },
		{ "node2:2222", ADDR_NAME, "node2", "", 2222, NULL, NULL },
		{ "198.18.0.5", ADDR_IPV4, "198.18.0.5", "", 22, NULL, NULL },
		{ "198.18.0.6:2200", ADDR_IPV4, "198.18.0.6", "", 2200, NULL,
		    NULL },
		{ "[2001:db8::5]:2022", ADDR_IPV6, "2001:db8::5", "", 2022,
		    NULL, NULL },
		{ "[2001:db8::6]", ADDR_IPV6, "2001:db8::6", "", 22, NULL,
		    NULL },
		{ "2001:db8::7", ADDR_IPV6, "2001:db8::7", "", 22, NULL, NULL },
		{ "fe80::1%eth0", ADDR_IPV6, "fe80::1", "eth0", 22, NULL,
		    NULL },
		{ "[fe80::2%veth1]:23", ADDR_IPV6, "fe80::2", "veth1", 23, NULL,
		    NULL },
	};
	struct node_list l = { NULL, 0 };

	parse_ok(text, &l);
	check_nodes(&l, w, sizeof(w) / sizeof(w[0]));
	nodes_free(&l);
	assert_null(l.v);
	assert_int_equal(l.n, 0);
}

static void test_ini_groups_vars_children(void **state)
{
	static const char text[] =
	    "\xef\xbb\xbf# fleet inventory\n"
	    "[web]\n"
	    "web1 ansible_host=198.18.0.11\n"
	    "web2 ansible_port=2200 ansible_user='deploy user'\n"
	    "web3:2022 ansible_user=\"ops\"   # inline comment\n"
	    "\n"
	    "[db]   # the databases\n"
	    "db1 ansible_host=2001:db8::10 "
	    "ansible_ssh_private_key_file=~/.ssh/db_key\n"
	    "web1\n"
	    "\n"
	    "[prod:children]\n"
	    "web\n"
	    "db\n"
	    "\n"
	    "[prod:vars]\n"
	    "ansible_user=produser\n"
	    "ansible_port=2201\n"
	    "\n"
	    "[web:vars]\n"
	    "ansible_port = 2300\n"
	    "\n"
	    "[all:vars]\n"
	    "ansible_user=root\n"
	    "ansible_ssh_private_key_file=/etc/fwfleet/key\n";
	static const struct want w[] = {
		/* web:vars (distance 0) beats prod:vars (distance 1). */
		{ "web1", ADDR_IPV4, "198.18.0.11", "", 2300, "produser",
		    "/etc/fwfleet/key" },
		{ "web2", ADDR_NAME, "web2", "", 2200, "deploy user",
		    "/etc/fwfleet/key" },
		/* A port in the pattern beats group variables. */
		{ "web3:2022", ADDR_NAME, "web3", "", 2022, "ops",
		    "/etc/fwfleet/key" },
		{ "db1", ADDR_IPV6, "2001:db8::10", "", 2201, "produser",
		    "/home/tester/.ssh/db_key" },
	};
	struct node_list l = { NULL, 0 };

	setenv("HOME", "/home/tester/", 1);
	parse_ok(text, &l);
	check_nodes(&l, w, sizeof(w) / sizeof(w[0]));
	nodes_free(&l);
}

static void test_precedence(void **state)
{
	static const char text[] =
	    "[grand:children]\n"
	    "parent\n"
	    "[parent:children]\n"
	    "child\n"
	    "[child]\n"
	    "c1\n"
	    "c2 ansible_user=own\n"
	    "[zeta]\n"
	    "c3\n"
	    "[alpha]\n"
	    "c3\n"
	    "[all]\n"
	    "c4\n"
	    "[aardvark]\n"
	    "c4\n"
	    "[grand:vars]\n"
	    "ansible_user=grand\n"
	    "ansible_port=1001\n"
	    "[parent:vars]\n"
	    "ansible_user=parent\n"
	    "[alpha:vars]\n"
	    "ansible_user=alpha\n"
	    "[zeta:vars]\n"
	    "ansible_user=zeta\n"
	    "[aardvark:vars]\n"
	    "ansible_user=aardvark\n"
	    "[all:vars]\n"
	    "ansible_user=everyone\n"
	    "ansible_port=1000\n";
	static const struct want w[] = {
		/* The nearer group wins; further ones fill the gaps. */
		{ "c1", ADDR_NAME, "c1", "", 1001, "parent", NULL },
		{ "c2", ADDR_NAME, "c2", "", 1001, "own", NULL },
		/* Same distance: the name sorting last wins, as in Ansible. */
		{ "c3", ADDR_NAME, "c3", "", 1000, "zeta", NULL },
		/* [all:vars] is weakest even for hosts listed under [all]. */
		{ "c4", ADDR_NAME, "c4", "", 1000, "aardvark", NULL },
	};
	struct node_list l = { NULL, 0 };

	parse_ok(text, &l);
	check_nodes(&l, w, sizeof(w) / sizeof(w[0]));
	nodes_free(&l);
}

static void test_duplicates_merge(void **state)
{
	static const char text[] =
	    "h1 ansible_user=first ansible_port=2001\n"
	    "h2\n"
	    "[g1]\n"
	    "h1 ansible_user=second\n"
	    "h3\n"
	    "[g2]\n"
	    "h2\n"
	    "h1\n"
	    "[g2:vars]\n"
	    "ansible_ssh_private_key_file=/k/g2\n";
	static const struct want w[] = {
		/* Once, first position, later host values win, groups add. */
		{ "h1", ADDR_NAME, "h1", "", 2001, "second", "/k/g2" },
		{ "h2", ADDR_NAME, "h2", "", 22, NULL, "/k/g2" },
		{ "h3", ADDR_NAME, "h3", "", 22, NULL, NULL },
	};
	struct node_list l = { NULL, 0 };

	parse_ok(text, &l);
	check_nodes(&l, w, sizeof(w) / sizeof(w[0]));
	nodes_free(&l);
}

static void test_vars_only_groups_are_not_hosts(void **state)
{
	static const char text[] =
	    "[ghost:vars]\n"
	    "ansible_host=198.18.0.99\n"
	    "[ghost2:children]\n"
	    "ghost\n"
	    "[empty]\n"
	    "[all:vars]\n"
	    "ansible_user=root\n";
	struct node_list l = { NULL, 0 };

	parse_ok(text, &l);
	assert_int_equal(l.n, 0);
	assert_null(l.v);
	parse_ok("", &l);
	parse_ok("\n\n# only comments\n", &l);
	assert_int_equal(l.n, 0);
}

static void test_quotes_and_old_spellings(void **state)
{
	static const char text[] =
	    "[g]\n"
	    "q1 ansible_user=\"a # b\" ansible_ssh_private_key_file='~/k 1'\n"
	    "q2 ansible_ssh_user=old ansible_ssh_port=2002 "
	    "ansible_ssh_host=198.18.0.2\n"
	    "q3 ansible_user= ansible_port=\"2003\"\n"
	    "q4 ansible_host=\"fe80::4%eth1\" ansible_port='2004'\n"
	    "q5 ansible_private_key_file=/k/new\n"
	    "[g:vars]\n"
	    "ansible_user = \"group user\"   # trailing comment\n"
	    "ansible_ssh_private_key_file = /k/with space  # comment\n";
	static const struct want w[] = {
		{ "q1", ADDR_NAME, "q1", "", 22, "a # b", "/root/k 1" },
		{ "q2", ADDR_IPV4, "198.18.0.2", "", 2002, "old",
		    "/k/with space" },
		/* An empty value means "not set" and does not fall back. */
		{ "q3", ADDR_NAME, "q3", "", 2003, NULL, "/k/with space" },
		{ "q4", ADDR_IPV6, "fe80::4", "eth1", 2004, "group user",
		    "/k/with space" },
		{ "q5", ADDR_NAME, "q5", "", 22, "group user", "/k/new" },
	};
	struct node_list l = { NULL, 0 };

	setenv("HOME", "/root", 1);
	parse_ok(text, &l);
	check_nodes(&l, w, sizeof(w) / sizeof(w[0]));
	nodes_free(&l);
}

static void test_ipv6_hosts(void **state)
{
	static const char text[] =
	    "[v6]\n"
	    "[2001:db8::5]:22\n"
	    "[2001:db8::6]:2022 ansible_user=six\n"
	    "[fe80::1%eth0]:2200\n"
	    "[fe80::9%eth0]\n"
	    "n1 ansible_host=2001:db8::20\n"
	    "n2 ansible_host=[2001:db8::21] ansible_port=2021\n"
	    "n3 ansible_host=fe80::22%veth0\n"
	    "n4:2024 ansible_host=2001:db8::24\n"
	    "[2001:db8::5]:2222\n"
	    "[v6:vars]\n"
	    "ansible_user=v6user\n";
	static const struct want w[] = {
		{ "[2001:db8::5]:22", ADDR_IPV6, "2001:db8::5", "", 22,
		    "v6user", NULL },
		{ "[2001:db8::6]:2022", ADDR_IPV6, "2001:db8::6", "", 2022,
		    "six", NULL },
		{ "[fe80::1%eth0]:2200", ADDR_IPV6, "fe80::1", "eth0", 2200,
		    "v6user", NULL },
		{ "[fe80::9%eth0]", ADDR_IPV6, "fe80::9", "eth0", 22, "v6user",
		    NULL },
		{ "n1", ADDR_IPV6, "2001:db8::20", "", 22, "v6user", NULL },
		{ "n2", ADDR_IPV6, "2001:db8::21", "", 2021, "v6user", NULL },
		{ "n3", ADDR_IPV6, "fe80::22", "veth0", 22, "v6user", NULL },
		{ "n4:2024", ADDR_IPV6, "2001:db8::24", "", 2024, "v6user",
		    NULL },
		/* Same address, other port: a different node. */
		{ "[2001:db8::5]:2222", ADDR_IPV6, "2001:db8::5", "", 2222,
		    "v6user", NULL },
	};
	struct node_list l = { NULL, 0 };

	parse_ok(text, &l);
	check_nodes(&l, w, sizeof(w) / sizeof(w[0]));
	nodes_free(&l);
}

static void test_port_override_and_cycles(void **state)
{
	static const char text[] =
	    "[a]\n"
	    "node1:2222 ansible_port=22\n"
	    "[a:children]\n"
	    "b\n"
	    "[b:children]\n"
	    "a\n"
	    "[b]\n"
	    "node2\n"
	    "[a:vars]\n"
	    "ansible_port=3000\n";
	static const struct want w[] = {
		{ "node1:2222", ADDR_NAME, "node1", "", 22, NULL, NULL },
		{ "node2", ADDR_NAME, "node2", "", 3000, NULL, NULL },
	};
	struct node_list l = { NULL, 0 };

	parse_ok(text, &l);
	check_nodes(&l, w, sizeof(w) / sizeof(w[0]));
	nodes_free(&l);
}

static void test_appends_to_list(void **state)
{
	struct node_list l = { NULL, 0 };
	char err[256];

	parse_ok("a\nb\n", &l);
	assert_int_equal(nodes_parse_text("two", "c:2000\n", 22, &l, err,
	    sizeof(err)), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0].name, "a");
	assert_string_equal(l.v[2].name, "c:2000");
	assert_int_equal(l.v[2].addr.port, 2000);
	nodes_free(&l);
}

struct bad_file {
	const char *text;
	const char *want;	/* the error must start with this */
};

static void test_bad_files(void **state)
{
	static const struct bad_file cases[] = {
		{ "[web\nweb1\n", "bad:1: unknown section syntax '[web'" },
		{ "[web]\nweb1\n[web:foo]\n",
		    "bad:3: unknown section syntax '[web:foo]' (expected" },
		{ "\n[web] extra\n", "bad:2: unknown section syntax" },
		{ "[bad group]\n", "bad:1: unknown section syntax" },
		{ "[]\n", "bad:1: unknown section syntax '[]'" },
		{ "[g]\nweb1 ansible_user\n",
		    "bad:2: bad key=value 'ansible_user'" },
		{ "web1 =x\n", "bad:1: bad key=value '=x'" },
		{ "web1 9x=1\n", "bad:1: bad variable name '9x'" },
		{ "a\nb\nweb1:99999\n", "bad:3: bad address: port 99999 out of "
		    "range 1-65535 in 'web1:99999'" },
		{ "web1 ansible_port=0\n",
		    "bad:1: bad port '0' in ansible_port (expected 1-65535)" },
		{ "web1 ansible_ssh_port=ssh\n",
		    "bad:1: bad port 'ssh' in ansible_ssh_port" },
		{ "[g:vars]\n# c\nansible_port = 70000\n",
		    "bad:3: bad port '70000' in ansible_port" },
		{ "[web]\nweb[01:10]\n", "bad:2: host ranges like 'web[01:10]' "
		    "are not supported; list the hosts" },
		{ "db-[a:f].example.com\n", "bad:1: host ranges like "
		    "'db-[a:f].example.com' are not supported" },
		{ "web1 ansible_host=10.0.0.1:22\n", "bad:1: bad address in "
		    "ansible_host: '10.0.0.1:22' includes a port; use "
		    "ansible_port" },
		{ "web1 ansible_ssh_host=bad..name\n", "bad:1: bad address in "
		    "ansible_ssh_host: invalid host name 'bad..name'" },
		{ "web1 ansible_user=\"x\n", "bad:1: unterminated \" quote" },
		{ "web1 ansible_user=a\"b\"\n",
		    "bad:1: quotes must enclose the whole value" },
		{ "[g:vars]\nnoequals\n", "bad:2: bad key=value 'noequals' in "
		    "[g:vars]" },
		{ "[g:vars]\nk='x' y\n",
		    "bad:2: unexpected text after the quoted value of 'k'" },
		{ "[g:vars]\nk='x\n", "bad:2: unterminated ' quote" },
		{ "[g:children]\na b\n", "bad:2: expected one group name per "
		    "line in [g:children], got 'b'" },
		{ "[g:children]\ng\n", "bad:2: group 'g' cannot be its own "
		    "child" },
		{ "[g:children]\nbad/name\n", "bad:2: bad group name" },
		{ "ansible_user=x\n", "bad:1: expected a host, got "
		    "'ansible_user=x'" },
		{ "ok\nfe80::1%eth0:22\n", "bad:2: bad address: IPv6 address "
		    "with a port must be bracketed" },
		{ "no$de\n", "bad:1: bad address: invalid host name 'no$de'" },
		{ "1.2.3.4.5\n", "bad:1: bad address: invalid IPv4 address" },
		{ "198.18.0.5%eth0\n",
		    "bad:1: bad address: zone only allowed on IPv6" },
		{ "[2001:db8::5:22\n", "bad:1: unknown section syntax" },
	};
	struct node_list l = { NULL, 0 };
	char err[512];
	size_t i;

	/* On error the caller's list is left as it was. */
	parse_ok("keep\n", &l);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (nodes_parse_text("bad", cases[i].text, 22, &l, err,
		    sizeof(err)) != FW_ERR_PARSE)
			fail_msg("accepted: %s", cases[i].text);
		if (strncmp(err, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("error '%s', wanted '%s...'", err,
			    cases[i].want);
		assert_int_equal(l.n, 1);
		assert_string_equal(l.v[0].name, "keep");
	}
	nodes_free(&l);
}

static void test_home_unset(void **state)
{
	struct node_list l = { NULL, 0 };
	char *saved = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
	char err[256];

	unsetenv("HOME");
	assert_int_equal(nodes_parse_text("inv", "a\n\nb "
	    "ansible_ssh_private_key_file=~/.ssh/k\n", 22, &l, err,
	    sizeof(err)), FW_ERR_PARSE);
	assert_string_equal(err, "inv:3: cannot expand '~/.ssh/k' for 'b': "
	    "HOME is not set");
	assert_int_equal(l.n, 0);
	/* Without "~/" nothing needs expanding. */
	assert_int_equal(nodes_parse_text("inv", "b "
	    "ansible_ssh_private_key_file=k~/x\n", 22, &l, err, sizeof(err)),
	    0);
	assert_string_equal(l.v[0].key_file, "k~/x");
	nodes_free(&l);
	if (saved != NULL)
		setenv("HOME", saved, 1);
	free(saved);
}

static char *write_temp(const void *data, size_t len)
{
	char *path = strdup("/tmp/test_nodes.XXXXXX");
	int fd;

	assert_non_null(path);
	assert_true((fd = mkstemp(path)) >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
	return path;
}

static void test_parse_file(void **state)
{
	static const char text[] = "[g]\nf1\nf2:2200 ansible_user=u\n";
	static const char nul[] = "f1\nf2\n\0f3\n";
	struct node_list l = { NULL, 0 };
	char err[512], want[600], *path;

	path = write_temp(text, sizeof(text) - 1);
	assert_int_equal(nodes_parse_file(path, 2022, &l, err, sizeof(err)), 0);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0].name, "f1");
	assert_int_equal(l.v[0].addr.port, 2022);
	assert_string_equal(l.v[1].user, "u");
	assert_int_equal(l.v[1].addr.port, 2200);
	nodes_free(&l);
	unlink(path);
	free(path);

	/* Errors name the file and line. */
	path = write_temp("ok\n[x:y]\n", 9);
	assert_int_equal(nodes_parse_file(path, 22, &l, err, sizeof(err)),
	    FW_ERR_PARSE);
	snprintf(want, sizeof(want), "%s:2: unknown section syntax", path);
	assert_memory_equal(err, want, strlen(want));
	unlink(path);
	free(path);

	path = write_temp(nul, sizeof(nul) - 1);
	assert_int_equal(nodes_parse_file(path, 22, &l, err, sizeof(err)),
	    FW_ERR_PARSE);
	snprintf(want, sizeof(want), "%s:3: NUL byte", path);
	assert_memory_equal(err, want, strlen(want));
	unlink(path);
	free(path);

	assert_int_equal(nodes_parse_file("/nonexistent/inventory", 22, &l, err,
	    sizeof(err)), FW_ERR_SYSTEM);
	assert_string_equal(err,
	    "/nonexistent/inventory: No such file or directory");
	assert_int_equal(l.n, 0);
}

static void test_parse_file_too_big(void **state)
{
	struct node_list l = { NULL, 0 };
	char err[512], *path;
	int fd;

	path = write_temp("", 0);
	assert_true((fd = open(path, O_WRONLY)) >= 0);
	assert_int_equal(ftruncate(fd, 16 * 1024 * 1024 + 1), 0);
	close(fd);
	assert_int_equal(nodes_parse_file(path, 22, &l, err, sizeof(err)),
	    FW_ERR_PARSE);
	assert_non_null(strstr(err, "larger than 16 MiB"));
	assert_int_equal(l.n, 0);
	unlink(path);
	free(path);
}

static void test_targets(void **state)
{
	static const struct want w[] = {
		{ "a", ADDR_NAME, "a", "", 22, NULL, NULL },
		{ "b:2222", ADDR_NAME, "b", "", 2222, NULL, NULL },
		{ "[2001:db8::5]:2022", ADDR_IPV6, "2001:db8::5", "", 2022, NULL,
		    NULL },
		{ "fe80::1%eth0", ADDR_IPV6, "fe80::1", "eth0", 22, NULL,
		    NULL },
		{ "198.18.0.5", ADDR_IPV4, "198.18.0.5", "", 22, NULL, NULL },
	};
	struct node_list l = { NULL, 0 };
	char err[256];

	assert_int_equal(nodes_parse_targets("a,b:2222,[2001:db8::5]:2022, "
	    "fe80::1%eth0 ,a,198.18.0.5", 22, &l, err, sizeof(err)), 0);
	check_nodes(&l, w, sizeof(w) / sizeof(w[0]));

	/* Bad lists leave the list alone. */
	assert_int_equal(nodes_parse_targets("x,,y", 22, &l, err,
	    sizeof(err)), FW_ERR_PARSE);
	assert_string_equal(err, "empty target in 'x,,y'");
	assert_int_equal(nodes_parse_targets("x,", 22, &l, err, sizeof(err)),
	    FW_ERR_PARSE);
	assert_int_equal(nodes_parse_targets("", 22, &l, err, sizeof(err)),
	    FW_ERR_PARSE);
	assert_int_equal(nodes_parse_targets("x,y:0", 22, &l, err,
	    sizeof(err)), FW_ERR_PARSE);
	assert_string_equal(err,
	    "bad target: port 0 out of range 1-65535 in 'y:0'");
	assert_int_equal(nodes_parse_targets("2001:db8:1:2:3:4:5:6:22", 22, &l,
	    err, sizeof(err)), FW_ERR_PARSE);
	assert_non_null(strstr(err, "must be bracketed"));
	check_nodes(&l, w, sizeof(w) / sizeof(w[0]));

	/* And appends after what is there. */
	assert_int_equal(nodes_parse_targets("z", 7, &l, err, sizeof(err)),
	    0);
	assert_int_equal(l.n, 6);
	assert_string_equal(l.v[5].name, "z");
	assert_int_equal(l.v[5].addr.port, 7);
	nodes_free(&l);
	nodes_free(NULL);
}

static void test_many_hosts(void **state)
{
	struct node_list l = { NULL, 0 };
	size_t i, n = 5000, off = 0, cap = n * 32 + 64;
	char *text = malloc(cap), err[256];

	/* Each host twice, so the index and the merging both get work. */
	assert_non_null(text);
	off += (size_t)snprintf(text + off, cap - off, "[g]\n");
	for (i = 0; i < 2 * n; i++)
		off += (size_t)snprintf(text + off, cap - off, "h%zu.ex\n",
		    i % n);
	assert_int_equal(nodes_parse_text("big", text, 22, &l, err,
	    sizeof(err)), 0);
	assert_int_equal(l.n, n);
	assert_string_equal(l.v[0].name, "h0.ex");
	assert_string_equal(l.v[n - 1].name, "h4999.ex");
	nodes_free(&l);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_lines),
		cmocka_unit_test(test_ini_groups_vars_children),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_duplicates_merge),
		cmocka_unit_test(test_vars_only_groups_are_not_hosts),
		cmocka_unit_test(test_quotes_and_old_spellings),
		cmocka_unit_test(test_ipv6_hosts),
		cmocka_unit_test(test_port_override_and_cycles),
		cmocka_unit_test(test_appends_to_list),
		cmocka_unit_test(test_bad_files),
		cmocka_unit_test(test_home_unset),
		cmocka_unit_test(test_parse_file),
		cmocka_unit_test(test_parse_file_too_big),
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_many_hosts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
