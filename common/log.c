#include "log.h"

#include <stdint.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static const char *log_progname = "fwfleet";
static enum log_level log_level_cur = LOG_LVL_INFO;
static int log_fd = STDERR_FILENO;
static uint64_t log_t0_ms;

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARN] = "warning",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

void log_init(const char *progname, enum log_level level)
{
	log_progname = progname;
	log_level_cur = level;
	log_t0_ms = fw_now_ms();
}

void log_set_level(enum log_level level)
{
	log_level_cur = level;
}

void log_set_fd(int fd)
{
	log_fd = fd;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[2048];
	int n, m;

	if (level > log_level_cur || log_fd < 0)
		return;
	if (log_level_cur >= LOG_LVL_DEBUG)
		n = snprintf(line, sizeof(line), "%s: %8.3f %s: ", log_progname,
		    (double)(fw_now_ms() - log_t0_ms) / 1000.0,
		    level_names[level]);
	else
		n = snprintf(line, sizeof(line), "%s: %s: ", log_progname,
		    level_names[level]);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(log_fd, line, n);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERROR, fmt, ap);
	va_end(ap);
	exit(255);
}
