/*
 * Protocol constants and helpers for sending and receiving the top-level
 * messages of proto/fwfleet.proto over framed byte streams.
 */
#ifndef FW_PROTO_H
#define FW_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "fwfleet.pb-c.h"

struct evbuffer;

#define FW_PROTOCOL_VERSION	1
#define FW_ENGINE_PORT		62286
#define FW_ENGINE_PORT_TRIES	64
#define FW_HTTPS_PORT		63002
#define FW_SSH_PORT		22
#define FW_IDLE_TIMEOUT_S	600
#define FW_MSG_MAX		(4u * 1024 * 1024)

/* Packs msg and appends it as one frame to out. Returns 0 or FW_ERR_*. */
int proto_send_controller(struct evbuffer *out, const Fwfleet__ControllerMsg *msg);
int proto_send_engine(struct evbuffer *out, const Fwfleet__EngineMsg *msg);

/*
 * Pulls one frame from in and unpacks it into *msg (free with
 * protobuf_c_message_free_unpacked). Returns 0, FW_ERR_AGAIN (need more
 * bytes), FW_ERR_FRAME_TOO_BIG or FW_ERR_PROTOCOL (not a valid message, or
 * no oneof case set).
 */
int proto_recv_controller(struct evbuffer *in, Fwfleet__ControllerMsg **msg);
int proto_recv_engine(struct evbuffer *in, Fwfleet__EngineMsg **msg);

/*
 * A deep copy of m (NULL for NULL), owned by the caller: free with
 * protobuf_c_message_free_unpacked(copy, NULL).
 */
ProtobufCMessage *proto_copy(const ProtobufCMessage *m);

#endif
