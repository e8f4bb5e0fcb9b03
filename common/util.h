/*
 * Small helpers shared by both binaries: allocation that cannot fail
 * silently, bounded string formatting, whole-file I/O, sha256.
 */
#ifndef FW_UTIL_H
#define FW_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);

/* snprintf that returns FW_ERR_INVALID on truncation or error. */
int fw_snprintf(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Formats into a newly allocated string; fatal on out of memory. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap)
	__attribute__((format(printf, 1, 0)));

/*
 * Reads a whole file of at most max bytes into *out (NUL-terminated, so
 * text can be used as a string) and its length into *len.
 * Returns 0, FW_ERR_SYSTEM (errno set), or FW_ERR_FRAME_TOO_BIG if larger.
 */
int fw_read_file(const char *path, size_t max, char **out, size_t *len);

/*
 * Writes len bytes to path atomically (temp file + fsync + rename) with the
 * given mode. Returns 0 or FW_ERR_SYSTEM.
 */
int fw_write_file(const char *path, const void *data, size_t len, int mode);

/* Appends len bytes to path (created with mode), then fsync. Returns 0 or
 * FW_ERR_SYSTEM. */
int fw_append_file(const char *path, const void *data, size_t len, int mode);

/* Writes all len bytes to fd (retrying short writes and EINTR).
 * Returns 0 or FW_ERR_SYSTEM (errno set). */
int fw_write_all(int fd, const void *data, size_t len);

/* mkdir -p: creates dir and its missing parents with mode; 0 if dir is
 * then a directory, else FW_ERR_SYSTEM (errno set). */
int fw_mkdirs(const char *dir, int mode);

/* Parses a decimal integer in [min, max]; the whole string must match. */
int fw_parse_long(const char *s, long min, long max, long *out);

/* Writes n bytes as lowercase hex into hex (2n + 1 bytes with the NUL). */
void fw_hex_encode(const unsigned char *p, size_t n, char *hex);

/* Writes the lowercase hex sha256 of data (65 bytes with NUL) into hex. */
void fw_sha256_hex(const void *data, size_t len, char hex[65]);

/* Single-quotes s for /bin/sh ('it'\''s'); caller frees. */
char *fw_sh_quote(const char *s);

/*
 * Length (1..4) of the valid UTF-8 sequence at s, or 0 if the byte there
 * does not start one (overlong forms, surrogates, past U+10FFFF: as
 * jansson sees them). s is NUL-terminated; NUL is never a continuation
 * byte, so this never reads past the end.
 */
size_t fw_utf8_seq_len(const unsigned char *s);

/* What fw_text_clean keeps (it replaces the rest). */
#define FW_TEXT_KEEP_TAB	0x1	/* '\t' */
#define FW_TEXT_KEEP_BREAKS	0x2	/* '\n', '\r' */
#define FW_TEXT_KEEP_C0		0x4	/* every C0 control and DEL */
#define FW_TEXT_KEEP_C1		0x8	/* U+0080..U+009F */

/*
 * Makes str valid UTF-8 for logs and terminals, in place: every byte that
 * does not start a valid sequence, and every control character not kept,
 * becomes '?' (a two-byte C1 control becomes "??").
 */
void fw_text_clean(char *str, unsigned keep);

/* Trims trailing whitespace and newlines in place. */
void fw_rtrim(char *s);

/* Monotonic time in milliseconds. */
uint64_t fw_now_ms(void);

#endif
