#include "proto.h"

#include <stdlib.h>

#include <event2/buffer.h>

#include "err.h"
#include "frame.h"
#include "log.h"
#include "util.h"

static int send_packed(struct evbuffer *out, const ProtobufCMessage *m)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	uint8_t *buf;
	int r;

	if (len > FW_MSG_MAX)
		return FW_ERR_FRAME_TOO_BIG;
	buf = xmalloc(len);
	protobuf_c_message_pack(m, buf);
	r = frame_push(out, buf, len, FW_MSG_MAX);
	free(buf);
	return r;
}

int proto_send_controller(struct evbuffer *out, const Fwfleet__ControllerMsg *msg)
{
	return send_packed(out, &msg->base);
}

int proto_send_engine(struct evbuffer *out, const Fwfleet__EngineMsg *msg)
{
	return send_packed(out, &msg->base);
}

/*
 * Pulls and unpacks one message of type desc whose oneof case (read by
 * has_case) must be set. The two directions differ only in their types.
 */
static int recv_msg(struct evbuffer *in, const ProtobufCMessageDescriptor *desc,
    int (*has_case)(const ProtobufCMessage *), ProtobufCMessage **msg)
{
	uint8_t *buf;
	size_t len;
	int r;

	*msg = NULL;
	if ((r = frame_pull(in, FW_MSG_MAX, &buf, &len)) != 0)
		return r;
	*msg = protobuf_c_message_unpack(desc, NULL, len, buf);
	free(buf);
	if (*msg == NULL)
		return FW_ERR_PROTOCOL;
	if (!has_case(*msg)) {
		protobuf_c_message_free_unpacked(*msg, NULL);
		*msg = NULL;
		return FW_ERR_PROTOCOL;
	}
	return 0;
}

static int controller_has_case(const ProtobufCMessage *m)
{
	return ((const Fwfleet__ControllerMsg *)m)->msg_case !=
	    FWFLEET__CONTROLLER_MSG__MSG__NOT_SET;
}

static int engine_has_case(const ProtobufCMessage *m)
{
	return ((const Fwfleet__EngineMsg *)m)->msg_case !=
	    FWFLEET__ENGINE_MSG__MSG__NOT_SET;
}

int proto_recv_controller(struct evbuffer *in, Fwfleet__ControllerMsg **msg)
{
	return recv_msg(in, &fwfleet__controller_msg__descriptor,
	    controller_has_case, (ProtobufCMessage **)msg);
}

int proto_recv_engine(struct evbuffer *in, Fwfleet__EngineMsg **msg)
{
	return recv_msg(in, &fwfleet__engine_msg__descriptor, engine_has_case,
	    (ProtobufCMessage **)msg);
}

ProtobufCMessage *proto_copy(const ProtobufCMessage *m)
{
	size_t len;
	uint8_t *buf;
	ProtobufCMessage *copy;

	if (m == NULL)
		return NULL;
	len = protobuf_c_message_get_packed_size(m);
	buf = xmalloc(len);
	protobuf_c_message_pack(m, buf);
	copy = protobuf_c_message_unpack(m->descriptor, NULL, len, buf);
	free(buf);
	if (copy == NULL)
		fatal("cannot copy a %s message", m->descriptor->name);
	return copy;
}
