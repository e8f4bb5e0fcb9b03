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
	struct stat st;
	char *buf = NULL, *nl;
	size_t len;
	int r;

	*out = NULL;
	if (stat(path, &st) != 0) {
		fw_snprintf(err, errlen, "cannot read password file %s: %s",
		    path, strerror(errno));
		return FW_ERR_SYSTEM;
	}
	if (st.st_mode & 077) {
		fw_snprintf(err, errlen, "password file %s is readable by "
		    "others; chmod 600 it", path);
		return FW_ERR_INVALID;
	}
	if ((r = fw_read_file(path, SECRET_MAX, &buf, &len)) != 0) {
		fw_snprintf(err, errlen, "cannot read password file %s", path);
		return r;
	}
	if ((nl = strpbrk(buf, "\r\n")) != NULL)
		*nl = '\0';
	*out = buf;
	return 0;
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
