#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "err.h"
#include "log.h"

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		fatal("out of memory");
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (p == NULL)
		fatal("out of memory");
	return p;
}

void *xrealloc(void *p, size_t nmemb, size_t size)
{
	void *q;

	if (size && nmemb > SIZE_MAX / size)
		fatal("allocation overflow");
	if ((q = realloc(p, nmemb * size != 0 ? nmemb * size : 1)) == NULL)
		fatal("out of memory");
	return q;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fatal("out of memory");
	return p;
}

int fw_snprintf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len)
		return FW_ERR_INVALID;
	return 0;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		fatal("out of memory");
	return s;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

int fw_read_file(const char *path, size_t max, char **out, size_t *len)
{
	int fd, r = FW_ERR_SYSTEM;
	char *buf = NULL, extra;
	size_t cap = max < 4096 ? max : 4096, n = 0;
	ssize_t got;

	*out = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return FW_ERR_SYSTEM;
	buf = xmalloc(cap + 1);
	for (;;) {
		if (n == cap && cap >= max) {
			/* Full: exactly max bytes is fine, one more is not. */
			got = read(fd, &extra, 1);
			if (got < 0 && errno == EINTR)
				continue;
			if (got < 0)
				goto out;
			if (got == 0)
				break;
			r = FW_ERR_FRAME_TOO_BIG;
			goto out;
		}
		if (n == cap) {
			cap = cap * 2 > max ? max : cap * 2;
			buf = xrealloc(buf, cap + 1, 1);
		}
		got = read(fd, buf + n, cap - n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			goto out;
		if (got == 0)
			break;
		n += (size_t)got;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

int fw_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return FW_ERR_SYSTEM;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int fw_append_file(const char *path, const void *data, size_t len, int mode)
{
	int fd, r = FW_ERR_SYSTEM, saved;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    mode)) < 0)
		return FW_ERR_SYSTEM;
	if (fw_write_all(fd, data, len) == 0 && fsync(fd) == 0)
		r = 0;
	saved = errno;
	close(fd);
	errno = saved;
	return r;
}

int fw_write_file(const char *path, const void *data, size_t len, int mode)
{
	char tmp[4096];
	int fd = -1, r = FW_ERR_SYSTEM, saved;

	if (fw_snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
	    (long)getpid()) != 0)
		return FW_ERR_INVALID;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    mode)) < 0)
		return FW_ERR_SYSTEM;
	if (fchmod(fd, mode) != 0 || fw_write_all(fd, data, len) != 0)
		goto out;
	if (fsync(fd) != 0 || close(fd) != 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	r = 0;
out:
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (r != 0)
		unlink(tmp);
	errno = saved;
	return r;
}

int fw_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return FW_ERR_INVALID;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return FW_ERR_INVALID;
	*out = v;
	return 0;
}

void fw_hex_encode(const unsigned char *p, size_t n, char *hex)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		hex[2 * i] = digits[p[i] >> 4];
		hex[2 * i + 1] = digits[p[i] & 15];
	}
	hex[2 * n] = '\0';
}

void fw_sha256_hex(const void *data, size_t len, char hex[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
	fw_hex_encode(md, 32, hex);
}

void fw_rtrim(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' ||
	    s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
}

uint64_t fw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

char *fw_sh_quote(const char *s)
{
	size_t n = 3, i;
	char *q, *p;

	for (i = 0; s[i] != '\0'; i++)
		n += s[i] == '\'' ? 4 : 1;
	p = q = xmalloc(n);
	*p++ = '\'';
	for (; *s != '\0'; s++) {
		if (*s == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else {
			*p++ = *s;
		}
	}
	*p++ = '\'';
	*p = '\0';
	return q;
}

size_t fw_utf8_seq_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	}
	return n;
}

/* A control character kept by keep? (a single byte) */
static int text_byte_kept(unsigned char c, unsigned keep)
{
	if (c >= 0x20 && c != 0x7f)
		return 1;
	if (keep & FW_TEXT_KEEP_C0)
		return 1;
	if (c == '\t')
		return (keep & FW_TEXT_KEEP_TAB) != 0;
	if (c == '\n' || c == '\r')
		return (keep & FW_TEXT_KEEP_BREAKS) != 0;
	return 0;
}

void fw_text_clean(char *str, unsigned keep)
{
	unsigned char *s = (unsigned char *)str;
	size_t i = 0, n;

	while (s[i] != '\0') {
		n = fw_utf8_seq_len(s + i);
		if (n == 0 || (n == 1 && !text_byte_kept(s[i], keep))) {
			s[i++] = '?';
			continue;
		}
		/* C1 controls: U+0080..U+009F, two bytes in UTF-8. */
		if (n == 2 && s[i] == 0xc2 && s[i + 1] < 0xa0 &&
		    !(keep & FW_TEXT_KEEP_C1))
			s[i] = s[i + 1] = '?';
		i += n;
	}
}

int fw_mkdirs(const char *dir, int mode)
{
	char path[4096];
	struct stat st;
	char *p, c;

	if (fw_snprintf(path, sizeof(path), "%s", dir) != 0) {
		errno = ENAMETOOLONG;
		return FW_ERR_SYSTEM;
	}
	for (p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(path, (mode_t)mode) != 0 && errno != EEXIST)
			return FW_ERR_SYSTEM;
		*p = c;
		if (c == '\0')
			break;
	}
	if (stat(dir, &st) != 0)
		return FW_ERR_SYSTEM;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return FW_ERR_SYSTEM;
	}
	return 0;
}
