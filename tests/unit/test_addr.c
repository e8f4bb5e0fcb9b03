/* Node addresses: every accepted form, each rejection, and formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "addr.h"
#include "err.h"

struct good_case {
	const char *in;
	enum addr_kind kind;
	const char *host;
	const char *zone;
	uint16_t port;
};

struct bad_case {
	const char *in;
	const char *needle;	/* must appear in the error text */
};

static void test_parse_accepted(void **state)
{
	static const struct good_case cases[] = {
		{ "node1", ADDR_NAME, "node1", "", 22 },
		{ "node1:2222", ADDR_NAME, "node1", "", 2222 },
		{ "web-01.example.com", ADDR_NAME, "web-01.example.com", "", 22 },
		{ "db_primary", ADDR_NAME, "db_primary", "", 22 },
		{ "node1.example.com.", ADDR_NAME, "node1.example.com.", "",
		    22 },
		{ "localhost:1", ADDR_NAME, "localhost", "", 1 },
		{ "x:65535", ADDR_NAME, "x", "", 65535 },
		{ "198.18.0.5", ADDR_IPV4, "198.18.0.5", "", 22 },
		{ "198.18.0.5:22", ADDR_IPV4, "198.18.0.5", "", 22 },
		{ "127.0.0.1:8022", ADDR_IPV4, "127.0.0.1", "", 8022 },
		{ "::1", ADDR_IPV6, "::1", "", 22 },
		{ "2001:db8::5", ADDR_IPV6, "2001:db8::5", "", 22 },
		{ "2001:db8::5:22", ADDR_IPV6, "2001:db8::5:22", "", 22 },
		{ "::ffff:192.0.2.1", ADDR_IPV6, "::ffff:192.0.2.1", "", 22 },
		{ "[2001:db8::5]", ADDR_IPV6, "2001:db8::5", "", 22 },
		{ "[2001:db8::5]:2200", ADDR_IPV6, "2001:db8::5", "", 2200 },
		{ "[::1]:22", ADDR_IPV6, "::1", "", 22 },
		{ "fe80::1%eth0", ADDR_IPV6, "fe80::1", "eth0", 22 },
		{ "fe80::1%2", ADDR_IPV6, "fe80::1", "2", 22 },
		{ "[fe80::1%eth0]", ADDR_IPV6, "fe80::1", "eth0", 22 },
		{ "[fe80::1%veth-n1.10]:2022", ADDR_IPV6, "fe80::1",
		    "veth-n1.10", 2022 },
	};
	struct fw_addr a;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = 'x';
		if (addr_parse(cases[i].in, 22, &a, err, sizeof(err)) != 0)
			fail_msg("'%s' rejected: %s", cases[i].in, err);
		assert_string_equal(err, "");
		assert_int_equal(a.kind, cases[i].kind);
		assert_string_equal(a.host, cases[i].host);
		assert_string_equal(a.zone, cases[i].zone);
		assert_int_equal(a.port, cases[i].port);
	}
}

static void test_parse_default_port(void **state)
{
	struct fw_addr a;
	char err[128];

	assert_int_equal(addr_parse("node1", 4022, &a, err, sizeof(err)), 0);
	assert_int_equal(a.port, 4022);
	assert_int_equal(addr_parse("::1", 0, &a, err, sizeof(err)), 0);
	assert_int_equal(a.port, 0);
	/* An explicit port beats the default. */
	assert_int_equal(addr_parse("[::1]:7", 4022, &a, err, sizeof(err)), 0);
	assert_int_equal(a.port, 7);
}

static void test_parse_name_limits(void **state)
{
	char name[300], err[512];
	struct fw_addr a;

	/* A 63-character label is fine, 64 is not. */
	memset(name, 'a', 63);
	memcpy(name + 63, ".example", 9);
	assert_int_equal(addr_parse(name, 22, &a, err, sizeof(err)), 0);
	assert_int_equal(a.kind, ADDR_NAME);
	memset(name, 'a', 64);
	memcpy(name + 64, ".example", 9);
	assert_int_equal(addr_parse(name, 22, &a, err, sizeof(err)),
	    FW_ERR_INVALID);
	assert_non_null(strstr(err, "label longer than 63"));

	/* 253 characters in all at most: labels of 63, 63, 63 and 61. */
	memset(name, 'b', 253);
	name[63] = name[127] = name[191] = '.';
	name[253] = '\0';
	assert_int_equal(addr_parse(name, 22, &a, err, sizeof(err)), 0);
	name[253] = 'd';
	name[254] = '\0';
	assert_int_equal(addr_parse(name, 22, &a, err, sizeof(err)),
	    FW_ERR_INVALID);
	assert_non_null(strstr(err, "longer than 253"));
}

static void test_parse_rejected(void **state)
{
	static const struct bad_case cases[] = {
		{ "", "empty address" },
		{ "node1:99999", "port 99999 out of range 1-65535 in "
		    "'node1:99999'" },
		{ "node1:0", "port 0 out of range 1-65535" },
		{ "[::1]:65536", "port 65536 out of range" },
		{ "node1:ssh", "invalid port 'ssh' in 'node1:ssh'" },
		{ "node1:-1", "invalid port '-1'" },
		{ "node1:", "missing port after ':' in 'node1:'" },
		{ ":22", "missing host in ':22'" },
		{ "[2001:db8::5:22", "missing ']' in '[2001:db8::5:22'" },
		{ "2001:db8::5]:22", "unbalanced ']'" },
		{ "[]:22", "empty brackets" },
		{ "[::1]22", "expected ':port' after ']'" },
		{ "[::1]:", "missing port after ':'" },
		{ "[198.18.0.5]:22", "brackets are only for IPv6" },
		{ "[node1]:22", "brackets are only for IPv6" },
		{ "[fe80::1%]:22", "empty zone in '[fe80::1%]:22'" },
		{ "fe80::1%", "empty zone in 'fe80::1%'" },
		{ "fe80::1%averyverylongifname0", "longer than 15" },
		{ "fe80::1%et/h0", "invalid zone 'et/h0'" },
		{ "198.18.0.5%eth0", "zone only allowed on IPv6 addresses" },
		{ "node1%eth0:22", "zone only allowed on IPv6 addresses" },
		{ "2001:db8:1:2:3:4:5:6:22", "IPv6 address with a port must be "
		    "bracketed: use [addr]:port" },
		{ "fe80::1%eth0:22", "IPv6 address with a port must be "
		    "bracketed" },
		{ "2001:db8::g", "invalid IPv6 address '2001:db8::g'" },
		{ "[2001:db8:::5]", "invalid IPv6 address" },
		{ "no de", "invalid host name 'no de'" },
		{ "node$1", "invalid host name 'node$1' (bad character '$')" },
		{ "a..b", "invalid host name 'a..b' (empty label)" },
		{ ".a", "empty label" },
		{ "-web", "label starts with '-'" },
		{ "web-.example", "label ends with '-'" },
		{ "tab\there", "bad character 0x09" },
		{ "1.2.3.4.5", "invalid IPv4 address '1.2.3.4.5'" },
		{ "256.1.1.1:22", "invalid IPv4 address '256.1.1.1'" },
		{ "1.2.3", "invalid IPv4 address" },
		{ "web[01:10]", "unexpected '['" },
	};
	struct fw_addr a;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&a, 0x55, sizeof(a));
		if (addr_parse(cases[i].in, 22, &a, err, sizeof(err)) !=
		    FW_ERR_INVALID)
			fail_msg("'%s' accepted", cases[i].in);
		if (strstr(err, cases[i].needle) == NULL)
			fail_msg("'%s': error '%s' lacks '%s'", cases[i].in, err,
			    cases[i].needle);
		/* The out-parameter is cleared, not half filled. */
		assert_string_equal(a.host, "");
		assert_int_equal(a.port, 0);
	}
}

static void test_parse_null_and_long(void **state)
{
	char buf[1024], err[128];
	struct fw_addr a;

	assert_int_equal(addr_parse(NULL, 22, &a, err, sizeof(err)),
	    FW_ERR_INVALID);
	assert_non_null(strstr(err, "empty"));
	memset(buf, 'a', sizeof(buf) - 1);
	buf[sizeof(buf) - 1] = '\0';
	assert_int_equal(addr_parse(buf, 22, &a, err, sizeof(err)),
	    FW_ERR_INVALID);
	assert_non_null(strstr(err, "too long"));
	/* A NULL or tiny error buffer is allowed. */
	assert_int_equal(addr_parse("a:0", 22, &a, NULL, 0), FW_ERR_INVALID);
	assert_int_equal(addr_parse("a:0", 22, &a, err, 4), FW_ERR_INVALID);
	assert_string_equal(err, "por");
}

static void check_format(const char *in, const char *host_zone,
    const char *hostport, const char *url)
{
	struct fw_addr a;
	char buf[128], err[128];

	if (addr_parse(in, 22, &a, err, sizeof(err)) != 0)
		fail_msg("'%s' rejected: %s", in, err);
	assert_int_equal(addr_host_zone(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, host_zone);
	assert_int_equal(addr_format(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, hostport);
	assert_int_equal(addr_format_url_host(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, url);
}

static void test_format(void **state)
{
	check_format("node1", "node1", "node1:22", "node1");
	check_format("node1:2222", "node1", "node1:2222", "node1");
	check_format("198.18.0.5", "198.18.0.5", "198.18.0.5:22",
	    "198.18.0.5");
	check_format("2001:db8::5", "2001:db8::5", "[2001:db8::5]:22",
	    "[2001:db8::5]");
	check_format("[2001:db8::5]:2200", "2001:db8::5", "[2001:db8::5]:2200",
	    "[2001:db8::5]");
	check_format("fe80::1%eth0", "fe80::1%eth0", "[fe80::1%eth0]:22",
	    "[fe80::1%25eth0]");
	check_format("[fe80::1%eth0]:2022", "fe80::1%eth0",
	    "[fe80::1%eth0]:2022", "[fe80::1%25eth0]");
}

static void test_format_roundtrip(void **state)
{
	static const char *const in[] = {
		"node1:2222", "198.18.0.5:22", "[2001:db8::5]:22",
		"[fe80::1%eth0]:2022",
	};
	struct fw_addr a, b;
	char buf[128], err[128];
	size_t i;

	/* What addr_format writes, addr_parse reads back the same. */
	for (i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		assert_int_equal(addr_parse(in[i], 1, &a, err, sizeof(err)), 0);
		assert_int_equal(addr_format(&a, buf, sizeof(buf)), 0);
		assert_string_equal(buf, in[i]);
		assert_int_equal(addr_parse(buf, 1, &b, err, sizeof(err)), 0);
		assert_memory_equal(&a, &b, sizeof(a));
	}
}

static void test_format_truncation(void **state)
{
	struct fw_addr a;
	char buf[8], err[128];

	assert_int_equal(addr_parse("[fe80::1%eth0]:2022", 22, &a, err,
	    sizeof(err)), 0);
	assert_int_equal(addr_format(&a, buf, sizeof(buf)), FW_ERR_INVALID);
	assert_string_equal(buf, "");
	assert_int_equal(addr_format_url_host(&a, buf, sizeof(buf)),
	    FW_ERR_INVALID);
	assert_string_equal(buf, "");
	assert_int_equal(addr_host_zone(&a, buf, sizeof(buf)), FW_ERR_INVALID);
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_accepted),
		cmocka_unit_test(test_parse_default_port),
		cmocka_unit_test(test_parse_name_limits),
		cmocka_unit_test(test_parse_rejected),
		cmocka_unit_test(test_parse_null_and_long),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_roundtrip),
		cmocka_unit_test(test_format_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
