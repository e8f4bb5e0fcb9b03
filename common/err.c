#include "err.h"

const char *fw_strerror(int err)
{
	switch (err) {
	case FW_OK:			return "success";
	case FW_ERR_INTERNAL:		return "internal error";
	case FW_ERR_NOMEM:		return "out of memory";
	case FW_ERR_INVALID:		return "invalid argument";
	case FW_ERR_SYSTEM:		return "system error";
	case FW_ERR_AGAIN:		return "incomplete, try again";
	case FW_ERR_EOF:		return "connection closed by peer";
	case FW_ERR_FRAME_TOO_BIG:	return "frame exceeds the maximum size";
	case FW_ERR_PROTOCOL:		return "protocol error";
	case FW_ERR_TLS:		return "TLS error";
	case FW_ERR_CERT:		return "certificate rejected";
	case FW_ERR_TIMEOUT:		return "timed out";
	case FW_ERR_SSH:		return "SSH error";
	case FW_ERR_HOSTKEY_UNKNOWN:	return "unknown host key";
	case FW_ERR_HOSTKEY_CHANGED:	return "host key changed";
	case FW_ERR_AUTH:		return "authentication failed";
	case FW_ERR_REMOTE:		return "remote command failed";
	case FW_ERR_UNSUPPORTED:	return "unsupported";
	case FW_ERR_NOT_FOUND:		return "not found";
	case FW_ERR_CANCELLED:		return "cancelled";
	case FW_ERR_PARSE:		return "parse error";
	case FW_ERR_EXISTS:		return "already exists";
	}
	return "unknown error";
}
