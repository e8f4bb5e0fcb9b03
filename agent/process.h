/*
 * The platform part of running installers and staging payloads: spawning a
 * child in its own process group with its output on a pipe, polling it
 * for exit, signalling the whole group, and free disk space. One file per
 * OS (process_linux.c, diskspace_linux.c), so install.c and fetch.c
 * compile unchanged for each target.
 */
#ifndef FW_PROCESS_H
#define FW_PROCESS_H

#include <stddef.h>
#include <stdint.h>

struct process_spec {
	const char *path;	/* executable, absolute; run without PATH */
	char *const *argv;	/* NULL-terminated, argv[0] included */
	char *const *envp;	/* the child's whole environment */
	const char *cwd;	/* working directory */
};

struct process;

/*
 * Starts spec->path in a new process group of its own (it leads it), with
 * stdin on /dev/null, stdout and stderr on one pipe whose read end
 * (non-blocking, close-on-exec) process_output_fd() gives, every other
 * descriptor closed and signal dispositions reset. Returns once the child
 * has exec'd: 0 and *out, or FW_ERR_SYSTEM / FW_ERR_NOT_FOUND with err
 * saying which step failed ("chdir /x: No such file or directory").
 * On Linux the caller becomes a child subreaper, so descendants orphaned
 * by the installer can still be reaped by process_reap_group().
 */
int process_spawn(const struct process_spec *spec, struct process **out,
    char *err, size_t errlen);

/* The read end of the child's stdout+stderr pipe; owned by p. */
int process_output_fd(const struct process *p);

/* Closes the output pipe early (the caller has seen EOF). */
void process_close_output(struct process *p);

/* The child's process id, which is also its process group id. */
long process_id(const struct process *p);

/*
 * Checks, without blocking, whether the child has ended. Returns 0 with
 * *ended = 0 if it runs; with *ended = 1 and either *exit_code (>= 0,
 * *signo = 0) or *signo (killed by that signal, *exit_code = -1) once it
 * has. Safe to call again after it ended (same answer).
 */
int process_poll(struct process *p, int *ended, int *exit_code, int *signo);

/*
 * Signals every process of the child's group: hard = 0 asks politely
 * (SIGTERM), hard = 1 kills (SIGKILL). A group already gone is not an
 * error. Returns 0 or FW_ERR_SYSTEM.
 */
int process_kill_group(struct process *p, int hard);

/*
 * Reaps whatever has ended in the child's group (its leader and adopted
 * orphans) and tells whether any process of the group remains: 1 if so,
 * 0 if the group is gone.
 */
int process_reap_group(struct process *p);

/*
 * Waits up to timeout_ms for the child to end (for teardown paths; the
 * event loop polls instead). Returns 0 once it has, FW_ERR_TIMEOUT.
 */
int process_wait(struct process *p, int timeout_ms);

/* Closes the pipe and frees p; does not signal or wait (see above). */
void process_free(struct process *p);

/*
 * Free bytes for an unprivileged user in the file system holding dir.
 * Returns 0 or FW_ERR_SYSTEM (errno set).
 */
int diskspace_free(const char *dir, uint64_t *out);

#endif
