/*
 * Installer processes on Linux: fork, a process group of their own, exec;
 * group signals; reaping as a child subreaper. Between fork and exec the
 * child calls only async-signal-safe functions: the engine has threads.
 */
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "util.h"

struct process {
	pid_t pid;
	int out_fd;
	int ended;
	int exit_code;
	int signo;
};

/* Which step failed in the child, sent with errno over the error pipe. */
enum spawn_step { STEP_PGRP = 1, STEP_STDIO, STEP_CHDIR, STEP_EXEC };

struct spawn_report {
	int step;
	int err;
};

static const char *step_name(int step)
{
	switch (step) {
	case STEP_PGRP:
		return "setpgid";
	case STEP_STDIO:
		return "redirect stdio";
	case STEP_CHDIR:
		return "chdir";
	default:
		return "exec";
	}
}

/* Closes every descriptor from 3 up except keep. */
static void child_close_fds(int keep, int maxfd)
{
	int fd;

	if (close_range(3, (unsigned)keep - 1, 0) == 0 &&
	    close_range((unsigned)keep + 1, ~0U, 0) == 0)
		return;
	for (fd = 3; fd < maxfd; fd++)
		if (fd != keep)
			close(fd);
}

static void child_reset_signals(void)
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);	/* fails for KILL/STOP: fine */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static void child_fail(int errfd, int step) __attribute__((noreturn));

static void child_fail(int errfd, int step)
{
	struct spawn_report rep = { step, errno };

	while (write(errfd, &rep, sizeof(rep)) < 0 && errno == EINTR)
		;
	_exit(127);
}

/* In the child: only async-signal-safe calls from here on. */
static void child_run(const struct process_spec *spec, int in_fd,
    int out_fd, int errfd, int maxfd)
{
	if (setpgid(0, 0) != 0)
		child_fail(errfd, STEP_PGRP);
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
		child_fail(errfd, STEP_STDIO);
	child_close_fds(errfd, maxfd);
	child_reset_signals();
	if (chdir(spec->cwd) != 0)
		child_fail(errfd, STEP_CHDIR);
	execve(spec->path, spec->argv, spec->envp);
	child_fail(errfd, STEP_EXEC);
}

/* Reads the child's report: 0 if it exec'd (the pipe closed empty). */
static int read_report(int errfd, const struct process_spec *spec,
    char *err, size_t errlen)
{
	struct spawn_report rep;
	ssize_t n;

	do {
		n = read(errfd, &rep, sizeof(rep));
	} while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n != (ssize_t)sizeof(rep)) {
		fw_snprintf(err, errlen, "cannot start %s: lost the child's "
		    "report", spec->path);
		return FW_ERR_SYSTEM;
	}
	fw_snprintf(err, errlen, "cannot start %s: %s %s: %s", spec->path,
	    step_name(rep.step), rep.step == STEP_CHDIR ? spec->cwd :
	    spec->path, strerror(rep.err));
	errno = rep.err;
	return rep.step == STEP_EXEC && rep.err == ENOENT ? FW_ERR_NOT_FOUND :
	    FW_ERR_SYSTEM;
}

static int max_fds(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 ||
	    rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 65536)
		return 65536;
	return (int)rl.rlim_cur;
}

/* Stdin for the child: /dev/null, or an empty pipe where there is none. */
static int open_stdin(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), p[2];

	if (fd >= 0)
		return fd;
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	close(p[1]);
	return p[0];
}

int process_spawn(const struct process_spec *spec, struct process **out,
    char *err, size_t errlen)
{
	struct process *p = NULL;
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 }, in_fd = -1;
	int maxfd = max_fds(), r = FW_ERR_SYSTEM, saved;
	pid_t pid;

	*out = NULL;
	if (errlen > 0)
		err[0] = '\0';
	if (spec->path == NULL || spec->path[0] != '/' || spec->argv == NULL ||
	    spec->argv[0] == NULL || spec->envp == NULL || spec->cwd == NULL) {
		fw_snprintf(err, errlen, "bad process spec");
		return FW_ERR_INVALID;
	}
	/* Orphans of the installer become ours, so the group can be reaped
	 * and checked empty after a kill. */
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	if ((in_fd = open_stdin()) < 0 || pipe2(outp, O_CLOEXEC) != 0 ||
	    pipe2(errp, O_CLOEXEC) != 0) {
		fw_snprintf(err, errlen, "cannot create pipes: %s",
		    strerror(errno));
		goto out;
	}
	if ((pid = fork()) < 0) {
		fw_snprintf(err, errlen, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		child_run(spec, in_fd, outp[1], errp[1], maxfd);
	/* Also here, so signals sent before the child ran reach the group. */
	setpgid(pid, pid);
	close(errp[1]);
	errp[1] = -1;
	close(outp[1]);
	outp[1] = -1;
	if ((r = read_report(errp[0], spec, err, errlen)) != 0) {
		saved = errno;
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		errno = saved;
		goto out;
	}
	fcntl(outp[0], F_SETFL, fcntl(outp[0], F_GETFL) | O_NONBLOCK);
	p = xcalloc(1, sizeof(*p));
	p->pid = pid;
	p->out_fd = outp[0];
	outp[0] = -1;
	*out = p;
	r = 0;
out:
	saved = errno;
	if (in_fd >= 0)
		close(in_fd);
	if (outp[0] >= 0)
		close(outp[0]);
	if (outp[1] >= 0)
		close(outp[1]);
	if (errp[0] >= 0)
		close(errp[0]);
	if (errp[1] >= 0)
		close(errp[1]);
	errno = saved;
	return r;
}

int process_output_fd(const struct process *p)
{
	return p->out_fd;
}

void process_close_output(struct process *p)
{
	if (p->out_fd >= 0)
		close(p->out_fd);
	p->out_fd = -1;
}

long process_id(const struct process *p)
{
	return (long)p->pid;
}

int process_poll(struct process *p, int *ended, int *exit_code, int *signo)
{
	int status = 0;
	pid_t w;

	if (!p->ended) {
		do {
			w = waitpid(p->pid, &status, WNOHANG);
		} while (w < 0 && errno == EINTR);
		if (w < 0)
			return FW_ERR_SYSTEM;
		if (w == p->pid) {
			p->ended = 1;
			p->exit_code = WIFEXITED(status) ?
			    WEXITSTATUS(status) : -1;
			p->signo = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
		}
	}
	*ended = p->ended;
	*exit_code = p->ended ? p->exit_code : -1;
	*signo = p->ended ? p->signo : 0;
	return 0;
}

int process_kill_group(struct process *p, int hard)
{
	if (kill(-p->pid, hard ? SIGKILL : SIGTERM) != 0 && errno != ESRCH)
		return FW_ERR_SYSTEM;
	return 0;
}

int process_reap_group(struct process *p)
{
	int status, ended, code, sig;
	pid_t w;

	/* The leader first, so its status is kept for process_poll. */
	process_poll(p, &ended, &code, &sig);
	do {
		w = waitpid(-p->pid, &status, WNOHANG);
	} while (w > 0 || (w < 0 && errno == EINTR));
	return kill(-p->pid, 0) == 0 || errno != ESRCH;
}

int process_wait(struct process *p, int timeout_ms)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	uint64_t end = fw_now_ms() +
	    (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	int ended = 0, code, sig;

	for (;;) {
		if (process_poll(p, &ended, &code, &sig) != 0 || ended)
			return ended ? 0 : FW_ERR_SYSTEM;
		if (fw_now_ms() >= end)
			return FW_ERR_TIMEOUT;
		nanosleep(&ts, NULL);
	}
}

void process_free(struct process *p)
{
	if (p == NULL)
		return;
	process_close_output(p);
	free(p);
}
