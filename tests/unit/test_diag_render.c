/*
 * Unit tests for common/diag_render.c: what `fwfleet diag` and
 * `fwfleet-engine diag` print, for people and as JSON, and the JSON
 * string escaper (control characters, non-ASCII, bad UTF-8).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "diag_render.h"

#define NOW	((time_t)1700000000)	/* 2023-11-14T22:13:20Z */

static Fwfleet__Diag sample = FWFLEET__DIAG__INIT;
static Fwfleet__ComponentProgress comp = FWFLEET__COMPONENT_PROGRESS__INIT;
static Fwfleet__ComponentProgress *comps[] = { &comp };
static Fwfleet__DiagEvent ev1 = FWFLEET__DIAG_EVENT__INIT;
static Fwfleet__DiagEvent ev2 = FWFLEET__DIAG_EVENT__INIT;
static Fwfleet__DiagEvent *evs[] = { &ev1, &ev2 };
static char *rules[] = { "nft inet filter input: tcp dport 62286 accept "
    "comment \"fwfleet:0123456789abcdef\"" };

static int sample_setup(void **state)
{
	sample.version = "0.1.0";
	sample.build = "gcc 12.2.0, sha256 ab12";
	sample.mode = "ephemeral";
	sample.state = "installing slow-agent";
	sample.uptime_s = 75;
	sample.pid = 4242;
	sample.workdir = "/tmp/fwfleet-0123456789abcdef-0";
	sample.session_id = "0123456789abcdef";
	sample.last_seen_unix = NOW - 12;
	sample.port = 62286;
	sample.cert_subject = "CN=fwfleet-engine 198.18.0.11";
	sample.cert_not_before_unix = NOW - 300;
	sample.cert_not_after_unix = NOW + 86400 + 3600;
	sample.idle_timeout_s = 600;
	sample.job_id = "20231114-221000-a1b2";
	sample.node_name = "node1";
	comp.component_id = "slow-agent";
	comp.version = "1.0";
	comp.phase = FWFLEET__PHASE__PHASE_INSTALLING;
	comp.percent = 0;
	comp.bytes_done = 1572864;
	comp.bytes_total = 1572864;
	sample.n_components = 1;
	sample.components = comps;
	ev1.time_unix = NOW - 90;
	ev1.message = "staging x failed: \"quoted\"\nsecond line\x01";
	ev2.time_unix = NOW - 5;
	ev2.message = "refused a control connection from 198.18.0.9: "
	    "caf\xc3\xa9";
	sample.n_recent_errors = 2;
	sample.recent_errors = evs;
	sample.n_firewall_rules = 1;
	sample.firewall_rules = rules;
	return 0;
}

/* What fn writes, as a string the caller frees. */
static char *capture_json_string(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	diag_json_string(f, s);
	fclose(f);
	return buf;
}

static char *render(const struct diag_entry *v, size_t n, int json)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	if (json)
		diag_render_json(f, v, n, NOW);
	else
		diag_render_text(f, v, n, NOW);
	fclose(f);
	return buf;
}

static void expect_json_string(const char *in, const char *want)
{
	char *got = capture_json_string(in);

	assert_string_equal(got, want);
	free(got);
}

static void test_json_string_escapes(void **state)
{
	expect_json_string("plain", "\"plain\"");
	expect_json_string("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
	expect_json_string("\n\t\r\b\f", "\"\\n\\t\\r\\u0008\\u000c\"");
	expect_json_string("\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"");
	expect_json_string("", "\"\"");
	expect_json_string(NULL, "null");
}

static void test_json_string_utf8(void **state)
{
	/* Valid UTF-8 is kept as it is, 2, 3 and 4 bytes long. */
	expect_json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xa5",
	    "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\xa5\"");
	/* C1 controls are escaped like C0 ones. */
	expect_json_string("a\xc2\x85" "b\xc2\x9f", "\"a\\u0085b\\u009f\"");
	/* U+00A0 is not a control. */
	expect_json_string("\xc2\xa0", "\"\xc2\xa0\"");
	/* Each byte that does not start a valid sequence: U+FFFD. */
	expect_json_string("\xff", "\"\\ufffd\"");
	expect_json_string("x\xe2\x82", "\"x\\ufffd\\ufffd\"");
	expect_json_string("\xc0\xaf", "\"\\ufffd\\ufffd\"");	/* overlong */
	expect_json_string("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
}

static void test_format_bytes(void **state)
{
	char b[64];

	diag_format_bytes(0, b, sizeof(b));
	assert_string_equal(b, "0 bytes");
	diag_format_bytes(1023, b, sizeof(b));
	assert_string_equal(b, "1023 bytes");
	diag_format_bytes(1024, b, sizeof(b));
	assert_string_equal(b, "1.0 KiB (1024 bytes)");
	diag_format_bytes(1572864, b, sizeof(b));
	assert_string_equal(b, "1.5 MiB (1572864 bytes)");
	diag_format_bytes(5ull << 40, b, sizeof(b));
	assert_string_equal(b, "5.0 TiB (5497558138880 bytes)");
}

static void test_format_time(void **state)
{
	char b[80];

	diag_format_time(NOW - 12, NOW, b, sizeof(b));
	assert_string_equal(b, "2023-11-14T22:13:08Z (12 s ago)");
	diag_format_time(NOW, NOW, b, sizeof(b));
	assert_string_equal(b, "2023-11-14T22:13:20Z (0 s ago)");
	diag_format_time(NOW + 600, NOW, b, sizeof(b));
	assert_string_equal(b, "2023-11-14T22:23:20Z (in 10 min)");
	diag_format_time(NOW + 3 * 3600, NOW, b, sizeof(b));
	assert_string_equal(b, "2023-11-15T01:13:20Z (in 3 h)");
	diag_format_time(NOW + 3 * 86400, NOW, b, sizeof(b));
	assert_string_equal(b, "2023-11-17T22:13:20Z (in 3 d)");
	diag_format_time(0, NOW, b, sizeof(b));
	assert_string_equal(b, "-");
}

static void test_text(void **state)
{
	struct diag_entry v[2] = {
		{ .name = "node1", .address = "198.18.0.11", .diag = &sample },
		{ .name = "node2", .address = "198.18.0.12", .error = "no "
		    "engine\x1b[31m answers" },
	};
	char *out = render(v, 2, 0);

	assert_non_null(strstr(out, "node1 (198.18.0.11)\n"));
	assert_non_null(strstr(out, "  version:         0.1.0\n"));
	assert_non_null(strstr(out, "  build:           gcc 12.2.0, sha256 "
	    "ab12\n"));
	assert_non_null(strstr(out, "  mode:            ephemeral\n"));
	assert_non_null(strstr(out, "  pid:             4242\n"));
	assert_non_null(strstr(out, "  uptime:          75 s (since "
	    "2023-11-14T22:12:05Z)\n"));
	assert_non_null(strstr(out, "  state:           installing "
	    "slow-agent\n"));
	assert_non_null(strstr(out, "  job:             "
	    "20231114-221000-a1b2\n"));
	assert_non_null(strstr(out, "  session:         0123456789abcdef\n"));
	assert_non_null(strstr(out, "  idle timeout:    600 s\n"));
	assert_non_null(strstr(out, "  work dir:        "
	    "/tmp/fwfleet-0123456789abcdef-0\n"));
	assert_null(strstr(out, "state dir:"));	/* empty: left out */
	assert_non_null(strstr(out, "  controller seen: "
	    "2023-11-14T22:13:08Z (12 s ago)\n"));
	assert_non_null(strstr(out, "  cert subject:    CN=fwfleet-engine "
	    "198.18.0.11\n"));
	assert_non_null(strstr(out, "  cert expires:    2023-11-15T23:13:20Z "
	    "(in 25 h)\n"));
	assert_non_null(strstr(out, "    slow-agent 1.0: installing, 0%, "
	    "1.5 MiB (1572864 bytes) of 1.5 MiB (1572864 bytes)\n"));
	assert_non_null(strstr(out, "  recent errors:   2\n"));
	/* Control characters from the engine never reach the terminal. */
	assert_non_null(strstr(out, "    2023-11-14T22:11:50Z (90 s ago): "
	    "staging x failed: \"quoted\"?second line?\n"));
	assert_non_null(strstr(out, "caf\xc3\xa9\n"));
	assert_non_null(strstr(out, "  firewall rules:  1\n    nft inet"));
	assert_non_null(strstr(out, "\n\nnode2 (198.18.0.12)\n"
	    "  error:           no engine?[31m answers\n"));
	assert_null(strchr(out, '\x1b'));
	free(out);
}

static void test_text_same_name(void **state)
{
	struct diag_entry v = { .name = "198.18.0.11",
	    .address = "198.18.0.11", .error = "x" };
	char *out = render(&v, 1, 0);

	assert_string_equal(out, "198.18.0.11\n  error:           x\n");
	free(out);
}

static void test_json(void **state)
{
	struct diag_entry v[2] = {
		{ .name = "node1", .address = "198.18.0.11", .diag = &sample },
		{ .name = "node2", .address = "198.18.0.12", .error = "no "
		    "engine \x01 answers" },
	};
	char *out = render(v, 2, 1);
	json_error_t je;
	json_t *doc = json_loads(out, 0, &je), *o, *c, *e;

	if (doc == NULL)
		fail_msg("not JSON (%s at %d): %s", je.text, je.position, out);
	assert_true(json_is_array(doc));
	assert_int_equal(json_array_size(doc), 2);
	o = json_array_get(doc, 0);
	assert_string_equal(json_string_value(json_object_get(o, "node")),
	    "node1");
	assert_true(json_is_true(json_object_get(o, "ok")));
	assert_true(json_is_null(json_object_get(o, "error")));
	assert_string_equal(json_string_value(json_object_get(o, "mode")),
	    "ephemeral");
	assert_int_equal(json_integer_value(json_object_get(o, "pid")), 4242);
	assert_int_equal(json_integer_value(json_object_get(o, "port")), 62286);
	assert_string_equal(json_string_value(json_object_get(o, "job_id")),
	    "20231114-221000-a1b2");
	assert_string_equal(json_string_value(json_object_get(o,
	    "state_dir")), "");
	assert_int_equal(json_integer_value(json_object_get(o,
	    "last_seen_ago_s")), 12);
	assert_string_equal(json_string_value(json_object_get(o,
	    "last_seen")), "2023-11-14T22:13:08Z");
	assert_int_equal(json_integer_value(json_object_get(o,
	    "cert_expires_in_s")), 86400 + 3600);
	assert_int_equal(json_integer_value(json_object_get(o,
	    "cert_not_before_unix")), NOW - 300);
	c = json_array_get(json_object_get(o, "components"), 0);
	assert_string_equal(json_string_value(json_object_get(c, "id")),
	    "slow-agent");
	assert_string_equal(json_string_value(json_object_get(c, "phase")),
	    "installing");
	assert_int_equal(json_integer_value(json_object_get(c,
	    "bytes_total")), 1572864);
	e = json_array_get(json_object_get(o, "recent_errors"), 0);
	/* The message comes back byte for byte. */
	assert_string_equal(json_string_value(json_object_get(e, "message")),
	    ev1.message);
	assert_int_equal(json_integer_value(json_object_get(e, "time_unix")),
	    NOW - 90);
	e = json_array_get(json_object_get(o, "recent_errors"), 1);
	assert_string_equal(json_string_value(json_object_get(e, "message")),
	    ev2.message);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(o, "firewall_rules"), 0)), rules[0]);
	o = json_array_get(doc, 1);
	assert_true(json_is_false(json_object_get(o, "ok")));
	assert_string_equal(json_string_value(json_object_get(o, "error")),
	    "no engine \x01 answers");
	assert_null(json_object_get(o, "mode"));
	json_decref(doc);
	free(out);
}

/* Times that are not known are null, with what derives from them. */
static void test_json_unknown_times(void **state)
{
	Fwfleet__Diag d = FWFLEET__DIAG__INIT;
	struct diag_entry v = { .address = "/tmp/fwfleet-x/diag.sock",
	    .diag = &d };
	char *out = render(&v, 1, 1);
	json_t *doc = json_loads(out, 0, NULL), *o;

	assert_non_null(doc);
	o = json_array_get(doc, 0);
	assert_true(json_is_null(json_object_get(o, "node")));
	assert_true(json_is_null(json_object_get(o, "last_seen")));
	assert_true(json_is_null(json_object_get(o, "last_seen_unix")));
	assert_true(json_is_null(json_object_get(o, "last_seen_ago_s")));
	assert_true(json_is_null(json_object_get(o, "cert_not_after")));
	assert_true(json_is_null(json_object_get(o, "cert_expires_in_s")));
	assert_int_equal(json_array_size(json_object_get(o, "components")), 0);
	json_decref(doc);
	free(out);
}

static void test_json_empty(void **state)
{
	char *out = render(NULL, 0, 1);

	assert_string_equal(out, "[]\n");
	free(out);
}

/* Every byte value in a string still gives JSON that parses to valid
 * UTF-8 text. */
static void test_json_every_byte(void **state)
{
	char in[256 * 2], *out, *doc_text;
	json_t *doc;
	size_t i, k = 0;

	for (i = 1; i < 256; i++) {
		in[k++] = (char)i;
		in[k++] = 'a';
	}
	in[k] = '\0';
	out = capture_json_string(in);
	doc_text = malloc(strlen(out) + 3);
	assert_non_null(doc_text);
	snprintf(doc_text, strlen(out) + 3, "[%s]", out);
	doc = json_loads(doc_text, 0, NULL);
	assert_non_null(doc);
	assert_true(json_is_string(json_array_get(doc, 0)));
	json_decref(doc);
	free(doc_text);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_string_escapes),
		cmocka_unit_test(test_json_string_utf8),
		cmocka_unit_test(test_json_every_byte),
		cmocka_unit_test(test_format_bytes),
		cmocka_unit_test(test_format_time),
		cmocka_unit_test_setup(test_text, sample_setup),
		cmocka_unit_test(test_text_same_name),
		cmocka_unit_test_setup(test_json, sample_setup),
		cmocka_unit_test(test_json_unknown_times),
		cmocka_unit_test(test_json_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
