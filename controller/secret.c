#include "secret.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "err.h"
#include "util.h"

#define SECRET_MAX 4096

void secret_free(char *s)
{
	if (s == NULL)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

int secret_from_file(const char *path, char **out, char *err, size_t errlen)
{
	char buf[SECRET_MAX + 1];
	struct stat st;
	ssize_t n = 0, got;
	int fd, r = FW_ERR_SYSTEM;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
		fw_snprintf(err, errlen, "cannot read password file %s: %s",
		    path, strerror(errno));
		goto out;
	}
	if (st.st_mode & 077) {
		fw_snprintf(err, errlen, "password file %s is readable by "
		    "others; chmod 600 it", path);
		r = FW_ERR_INVALID;
		goto out;
	}
	while (n < SECRET_MAX && (got = read(fd, buf + n,
	    (size_t)(SECRET_MAX - n))) > 0)
		n += got;
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	*out = xstrdup(buf);
	r = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	return r;
}

int secret_prompt(const char *prompt, char **out, char *err, size_t errlen)
{
	struct termios old, quiet;
	char buf[SECRET_MAX];
	ssize_t n;
	size_t len = 0;
	int fd;

	*out = NULL;
	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) < 0) {
		fw_snprintf(err, errlen, "no terminal to ask for the password; "
		    "use FWFLEET_SSH_PASSWORD or --password-file");
		return FW_ERR_NOT_FOUND;
	}
	(void)!write(fd, prompt, strlen(prompt));
	tcgetattr(fd, &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fd, TCSAFLUSH, &quiet);
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, 1)) == 1 &&
	    buf[len] != '\n')
		len++;
	buf[len] = '\0';
	tcsetattr(fd, TCSAFLUSH, &old);
	(void)!write(fd, "\n", 1);
	close(fd);
	*out = xstrdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}
