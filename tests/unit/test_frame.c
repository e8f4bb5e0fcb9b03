/* Framing and message decoding: good, oversize, truncated, garbage. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/buffer.h>

#include "err.h"
#include "frame.h"
#include "proto.h"

static void test_decode_complete(void **state)
{
	const uint8_t buf[] = { 0, 0, 0, 3, 'a', 'b', 'c', 'x' };
	const uint8_t *p;
	size_t plen, used;

	assert_int_equal(frame_decode(buf, sizeof(buf), 16, &p, &plen, &used), 0);
	assert_int_equal(plen, 3);
	assert_int_equal(used, 7);
	assert_memory_equal(p, "abc", 3);
}

static void test_decode_truncated(void **state)
{
	const uint8_t buf[] = { 0, 0, 0, 5, 'a', 'b' };
	const uint8_t *p;
	size_t plen, used, i;

	/* Every prefix of an incomplete frame asks for more. */
	for (i = 0; i <= sizeof(buf); i++)
		assert_int_equal(frame_decode(buf, i, 16, &p, &plen, &used),
		    FW_ERR_AGAIN);
	assert_null(p);
	assert_int_equal(used, 0);
}

static void test_decode_oversize(void **state)
{
	const uint8_t buf[] = { 0x7f, 0xff, 0xff, 0xff };
	const uint8_t at_max[] = { 0, 0, 0, 16 };
	const uint8_t over[] = { 0, 0, 0, 17 };
	const uint8_t *p;
	size_t plen, used;

	/* Refused from the header alone, before any payload arrives. */
	assert_int_equal(frame_decode(buf, sizeof(buf), FRAME_MAX_DEFAULT, &p,
	    &plen, &used), FW_ERR_FRAME_TOO_BIG);
	assert_int_equal(frame_decode(over, sizeof(over), 16, &p, &plen,
	    &used), FW_ERR_FRAME_TOO_BIG);
	assert_int_equal(frame_decode(at_max, sizeof(at_max), 16, &p, &plen,
	    &used), FW_ERR_AGAIN);
}

static void test_decode_empty_frame(void **state)
{
	const uint8_t buf[] = { 0, 0, 0, 0 };
	const uint8_t *p;
	size_t plen, used;

	assert_int_equal(frame_decode(buf, 4, 16, &p, &plen, &used), 0);
	assert_int_equal(plen, 0);
	assert_int_equal(used, 4);
}

static void test_encode_header(void **state)
{
	uint8_t hdr[4];

	assert_int_equal(frame_encode_header(0x01020304, 0x7fffffff, hdr), 0);
	assert_memory_equal(hdr, "\x01\x02\x03\x04", 4);
	assert_int_equal(frame_encode_header(17, 16, hdr),
	    FW_ERR_FRAME_TOO_BIG);
}

static void test_evbuffer_roundtrip(void **state)
{
	struct evbuffer *b = evbuffer_new();
	uint8_t *out;
	size_t len;

	assert_int_equal(frame_push(b, "hello", 5, 16), 0);
	assert_int_equal(frame_push(b, "", 0, 16), 0);
	assert_int_equal(frame_pull(b, 16, &out, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(out, "hello", 5);
	free(out);
	assert_int_equal(frame_pull(b, 16, &out, &len), 0);
	assert_int_equal(len, 0);
	free(out);
	assert_int_equal(frame_pull(b, 16, &out, &len), FW_ERR_AGAIN);
	assert_int_equal(evbuffer_get_length(b), 0);
	evbuffer_free(b);
}

static void test_evbuffer_partial_then_complete(void **state)
{
	struct evbuffer *b = evbuffer_new();
	uint8_t *out;
	size_t len;

	evbuffer_add(b, "\0\0\0\x04" "ab", 6);
	assert_int_equal(frame_pull(b, 16, &out, &len), FW_ERR_AGAIN);
	/* Nothing consumed while incomplete. */
	assert_int_equal(evbuffer_get_length(b), 6);
	evbuffer_add(b, "cd", 2);
	assert_int_equal(frame_pull(b, 16, &out, &len), 0);
	assert_memory_equal(out, "abcd", 4);
	free(out);
	evbuffer_free(b);
}

static void test_evbuffer_oversize_untouched(void **state)
{
	struct evbuffer *b = evbuffer_new();
	uint8_t *out;
	size_t len;

	evbuffer_add(b, "\xff\xff\xff\xff", 4);
	assert_int_equal(frame_pull(b, FRAME_MAX_DEFAULT, &out, &len),
	    FW_ERR_FRAME_TOO_BIG);
	assert_null(out);
	evbuffer_free(b);
}

static void test_proto_roundtrip(void **state)
{
	struct evbuffer *b = evbuffer_new();
	Fwfleet__ControllerMsg m = FWFLEET__CONTROLLER_MSG__INIT;
	Fwfleet__Hello h = FWFLEET__HELLO__INIT;
	Fwfleet__ControllerMsg *got;

	h.protocol_version = FW_PROTOCOL_VERSION;
	h.session_id = (char *)"abc";
	m.id = 7;
	m.msg_case = FWFLEET__CONTROLLER_MSG__MSG_HELLO;
	m.hello = &h;
	assert_int_equal(proto_send_controller(b, &m), 0);
	assert_int_equal(proto_recv_controller(b, &got), 0);
	assert_int_equal(got->id, 7);
	assert_int_equal(got->msg_case, FWFLEET__CONTROLLER_MSG__MSG_HELLO);
	assert_string_equal(got->hello->session_id, "abc");
	fwfleet__controller_msg__free_unpacked(got, NULL);
	evbuffer_free(b);
}

static void test_proto_garbage(void **state)
{
	struct evbuffer *b = evbuffer_new();
	Fwfleet__ControllerMsg *got;
	Fwfleet__EngineMsg *egot;
	/* Field 2 (hello) as length-delimited with a length past the end. */
	const uint8_t garbage[] = { 0x12, 0x7f, 0x01 };
	/* Valid encoding but no oneof case: just id = 1. */
	const uint8_t no_case[] = { 0x08, 0x01 };

	frame_push(b, garbage, sizeof(garbage), 16);
	assert_int_equal(proto_recv_controller(b, &got), FW_ERR_PROTOCOL);
	assert_null(got);
	frame_push(b, no_case, sizeof(no_case), 16);
	assert_int_equal(proto_recv_controller(b, &got), FW_ERR_PROTOCOL);
	frame_push(b, garbage, sizeof(garbage), 16);
	assert_int_equal(proto_recv_engine(b, &egot), FW_ERR_PROTOCOL);
	assert_int_equal(evbuffer_get_length(b), 0);
	evbuffer_free(b);
}

static void test_proto_random_bytes(void **state)
{
	struct evbuffer *b = evbuffer_new();
	Fwfleet__ControllerMsg *got;
	uint8_t junk[64];
	unsigned i, j, seed = 12345;
	int r;

	/* Random payloads never crash the decoder; each is either a valid
	 * message or a protocol error, and the frame is always consumed. */
	for (i = 0; i < 2000; i++) {
		for (j = 0; j < sizeof(junk); j++) {
			seed = seed * 1103515245 + 12345;
			junk[j] = (uint8_t)(seed >> 16);
		}
		frame_push(b, junk, 1 + i % sizeof(junk), FW_MSG_MAX);
		r = proto_recv_controller(b, &got);
		assert_true(r == 0 || r == FW_ERR_PROTOCOL);
		if (r == 0)
			fwfleet__controller_msg__free_unpacked(got, NULL);
		assert_int_equal(evbuffer_get_length(b), 0);
	}
	evbuffer_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_complete),
		cmocka_unit_test(test_decode_truncated),
		cmocka_unit_test(test_decode_oversize),
		cmocka_unit_test(test_decode_empty_frame),
		cmocka_unit_test(test_encode_header),
		cmocka_unit_test(test_evbuffer_roundtrip),
		cmocka_unit_test(test_evbuffer_partial_then_complete),
		cmocka_unit_test(test_evbuffer_oversize_untouched),
		cmocka_unit_test(test_proto_roundtrip),
		cmocka_unit_test(test_proto_garbage),
		cmocka_unit_test(test_proto_random_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
