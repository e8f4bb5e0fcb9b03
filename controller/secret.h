/*
 * The SSH password, from FWFLEET_SSH_PASSWORD, a file, or a prompt on the
 * terminal. Never from argv.
 */
#ifndef FW_SECRET_H
#define FW_SECRET_H

#include <stddef.h>

/*
 * Reads the first line of path (which must not be readable by group or
 * others). Returns 0 with *out (free with secret_free) or FW_ERR_* with
 * err filled.
 */
int secret_from_file(const char *path, char **out, char *err, size_t errlen);

/* Prompts on /dev/tty with echo off. FW_ERR_NOT_FOUND without a TTY. */
int secret_prompt(const char *prompt, char **out, char *err, size_t errlen);

/* Zeroes and frees. NULL is a no-op. */
void secret_free(char *s);

#endif
