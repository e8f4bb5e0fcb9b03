/*
 * One error space for fwfleet: 0 is success, negative FW_ERR_* codes are
 * failures, fw_strerror() gives their text.
 */
#ifndef FW_ERR_H
#define FW_ERR_H

#define FW_OK			0
#define FW_ERR_INTERNAL		-1	/* broken invariant */
#define FW_ERR_NOMEM		-2
#define FW_ERR_INVALID		-3	/* bad argument or input */
#define FW_ERR_SYSTEM		-4	/* see errno */
#define FW_ERR_AGAIN		-5	/* not complete yet; try again */
#define FW_ERR_EOF		-6	/* peer closed */
#define FW_ERR_FRAME_TOO_BIG	-7
#define FW_ERR_PROTOCOL		-8	/* malformed or unexpected message */
#define FW_ERR_TLS		-9
#define FW_ERR_CERT		-10	/* certificate rejected */
#define FW_ERR_TIMEOUT		-11
#define FW_ERR_SSH		-12
#define FW_ERR_HOSTKEY_UNKNOWN	-13
#define FW_ERR_HOSTKEY_CHANGED	-14
#define FW_ERR_AUTH		-15
#define FW_ERR_REMOTE		-16	/* remote command failed */
#define FW_ERR_UNSUPPORTED	-17
#define FW_ERR_NOT_FOUND	-18
#define FW_ERR_CANCELLED	-19
#define FW_ERR_PARSE		-20
#define FW_ERR_EXISTS		-21

/* Returns a static description of an FW_ERR_* code. */
const char *fw_strerror(int err);

#endif
