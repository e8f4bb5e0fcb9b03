/*
 * Unit tests for agent/diag.c: the ring of recent errors, what a Diag
 * holds, and the local socket (0600, one question per connection, root
 * only, removed when the engine goes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "diag.h"
#include "engine.h"
#include "frame.h"
#include "log.h"
#include "proto.h"
#include "util.h"

struct fixture {
	struct engine e;
	Fwfleet__Bootstrap bs;
	char dir[64];
	char sock[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fwfleet__bootstrap__init(&f->bs);
	snprintf(f->dir, sizeof(f->dir), "/tmp/fwf-diagtest-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/diag.sock", f->dir);
	f->bs.workdir = f->dir;
	f->bs.session_id = "0123456789abcdef";
	f->bs.node_name = "node1";
	f->e.bs = &f->bs;
	f->e.state = "serving";
	f->e.port = 62286;
	f->e.idle_timeout_s = 600;
	f->e.started_ms = fw_now_ms() - 3000;
	f->e.last_seen_wall = time(NULL) - 2;
	f->e.diag = diag_new();
	f->e.base = event_base_new();
	assert_non_null(f->e.base);
	log_set_fd(-1);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	diag_free(f->e.diag);
	event_base_free(f->e.base);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void test_errors_ring(void **state)
{
	struct fixture *f = *state;
	Fwfleet__Diag *d;
	char want[64];
	int i;

	for (i = 0; i < DIAG_MAX_ERRORS + 5; i++)
		engine_note_error(&f->e, "error number %d", i);
	d = diag_collect(&f->e);
	assert_int_equal(d->n_recent_errors, DIAG_MAX_ERRORS);
	/* Oldest first: the first five went. */
	for (i = 0; i < DIAG_MAX_ERRORS; i++) {
		snprintf(want, sizeof(want), "error number %d", i + 5);
		assert_string_equal(d->recent_errors[i]->message, want);
		assert_true(d->recent_errors[i]->time_unix > 0);
	}
	fwfleet__diag__free_unpacked(d, NULL);
}

static void test_long_error_cut(void **state)
{
	struct fixture *f = *state;
	Fwfleet__Diag *d;
	char big[1000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	engine_note_error(&f->e, "%s", big);
	engine_note_error(NULL, "no engine: only logged");
	d = diag_collect(&f->e);
	assert_int_equal(d->n_recent_errors, 1);
	assert_int_equal(strlen(d->recent_errors[0]->message),
	    DIAG_MSG_MAX - 1);
	fwfleet__diag__free_unpacked(d, NULL);
}

static void test_collect(void **state)
{
	struct fixture *f = *state;
	Fwfleet__Diag *d = diag_collect(&f->e);

	assert_string_equal(d->version, FWFLEET_VERSION);
	assert_string_equal(d->mode, "ephemeral");
	assert_string_equal(d->state, "serving");
	assert_int_equal(d->pid, getpid());
	assert_true(d->uptime_s >= 2 && d->uptime_s <= 4);
	assert_string_equal(d->workdir, f->dir);
	assert_string_equal(d->session_id, "0123456789abcdef");
	assert_string_equal(d->node_name, "node1");
	assert_int_equal(d->port, 62286);
	assert_int_equal(d->idle_timeout_s, 600);
	assert_int_equal(d->last_seen_unix, f->e.last_seen_wall);
	assert_non_null(strstr(d->build, "sha256 unknown"));
	assert_string_equal(d->job_id, "");
	assert_int_equal(d->n_components, 0);
	assert_int_equal(d->n_firewall_rules, 0);
	assert_string_equal(d->cert_subject, "");
	fwfleet__diag__free_unpacked(d, NULL);
	f->e.mode = "persistent";
	f->e.state_dir = "/var/lib/fwfleet";
	assert_string_equal(diag_socket_dir(&f->e), "/var/lib/fwfleet");
	d = diag_collect(&f->e);
	assert_string_equal(d->mode, "persistent");
	assert_string_equal(d->state_dir, "/var/lib/fwfleet");
	fwfleet__diag__free_unpacked(d, NULL);
	f->e.mode = NULL;
	f->e.state_dir = NULL;
	assert_string_equal(diag_socket_dir(&f->e), f->dir);
}

/* --- the local socket --------------------------------------------------- */

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { 5, 0 };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void send_request(int fd, Fwfleet__ControllerMsg__MsgCase what)
{
	Fwfleet__ControllerMsg m = FWFLEET__CONTROLLER_MSG__INIT;
	Fwfleet__DiagRequest dr = FWFLEET__DIAG_REQUEST__INIT;
	Fwfleet__Hello h = FWFLEET__HELLO__INIT;
	uint8_t buf[256];
	size_t len;

	m.id = 7;
	m.msg_case = what;
	if (what == FWFLEET__CONTROLLER_MSG__MSG_DIAG)
		m.diag = &dr;
	else
		m.hello = &h;
	len = fwfleet__controller_msg__get_packed_size(&m);
	assert_int_equal(frame_encode_header(len, FW_MSG_MAX, buf), 0);
	fwfleet__controller_msg__pack(&m, buf + FRAME_HEADER_LEN);
	assert_int_equal(write(fd, buf, len + FRAME_HEADER_LEN),
	    (ssize_t)(len + FRAME_HEADER_LEN));
}

/* Runs e's loop (unless NULL) until fd has something to read, then reads
 * one reply (NULL if the engine closed without one). */
static Fwfleet__EngineMsg *pump_reply(struct engine *e, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	static uint8_t buf[1 << 16];
	size_t have = 0, plen;
	uint32_t be;
	ssize_t n;
	int k;

	for (k = 0; k < 500; k++) {
		if (e != NULL)
			event_base_loop(e->base, EVLOOP_NONBLOCK);
		if (poll(&p, 1, 10) > 0) {
			n = read(fd, buf + have, sizeof(buf) - have);
			if (n <= 0)
				break;
			have += (size_t)n;
		}
		if (have < 4)
			continue;
		memcpy(&be, buf, 4);
		plen = ntohl(be);
		if (have >= 4 + plen)
			return fwfleet__engine_msg__unpack(NULL, plen, buf + 4);
	}
	return NULL;
}

static void test_socket(void **state)
{
	struct fixture *f = *state;
	Fwfleet__EngineMsg *m;
	struct stat st;
	char err[256];
	int fd;

	assert_int_equal(diag_listen(&f->e, err, sizeof(err)), 0);
	assert_int_equal(lstat(f->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);

	fd = connect_to(f->sock);
	assert_true(fd >= 0);
	send_request(fd, FWFLEET__CONTROLLER_MSG__MSG_DIAG);
	m = pump_reply(&f->e, fd);
	assert_non_null(m);
	assert_int_equal(m->id, 7);
	assert_int_equal(m->msg_case, FWFLEET__ENGINE_MSG__MSG_DIAG);
	assert_string_equal(m->diag->workdir, f->dir);
	assert_int_equal(m->diag->pid, getpid());
	fwfleet__engine_msg__free_unpacked(m, NULL);
	/* One question per connection: then it closes. */
	assert_null(pump_reply(&f->e, fd));
	close(fd);

	fd = connect_to(f->sock);
	assert_true(fd >= 0);
	send_request(fd, FWFLEET__CONTROLLER_MSG__MSG_HELLO);
	m = pump_reply(&f->e, fd);
	assert_non_null(m);
	assert_int_equal(m->msg_case, FWFLEET__ENGINE_MSG__MSG_ERROR);
	assert_non_null(strstr(m->error->message, "DiagRequest only"));
	fwfleet__engine_msg__free_unpacked(m, NULL);
	close(fd);

	/* Gone with the engine's diagnostics. */
	diag_free(f->e.diag);
	f->e.diag = NULL;
	assert_int_equal(lstat(f->sock, &st), -1);
	assert_int_equal(errno, ENOENT);
}

/* A client that is not root is told no, even where it can reach the
 * socket (here the test opens the directory and socket up to let it). */
static void test_socket_root_only(void **state)
{
	struct fixture *f = *state;
	Fwfleet__EngineMsg *m;
	char err[256];
	pid_t pid;
	int fd, status, k;

	if (geteuid() != 0)
		skip();
	assert_int_equal(diag_listen(&f->e, err, sizeof(err)), 0);
	assert_int_equal(chmod(f->dir, 0755), 0);
	assert_int_equal(chmod(f->sock, 0666), 0);
	if ((pid = fork()) == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(10);
		if ((fd = connect_to(f->sock)) < 0)
			_exit(11);
		send_request(fd, FWFLEET__CONTROLLER_MSG__MSG_DIAG);
		/* The parent runs the loop (the child shares its epoll). */
		m = pump_reply(NULL, fd);
		if (m == NULL)
			_exit(12);
		_exit(m->msg_case == FWFLEET__ENGINE_MSG__MSG_ERROR &&
		    strstr(m->error->message, "root only") != NULL ? 0 : 13);
	}
	assert_true(pid > 0);
	for (k = 0; k < 1000 && waitpid(pid, &status, WNOHANG) == 0; k++) {
		event_base_loop(f->e.base, EVLOOP_NONBLOCK);
		usleep(5000);
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	chmod(f->dir, 0700);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_errors_ring, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_error_cut, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_collect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_root_only, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
