/* Ends the FUSE session when the mount leaves this process's mount namespace (see mountwatch.h). */
#define FUSE_USE_VERSION 31
#include "fuse/mountwatch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

/* How long a mount gone from the table may keep its connection before the watch ends the
 * session: an ordinary unmount removes the mount a moment before the kernel ends the
 * connection (then the session ends by itself). */
#define MOUNTWATCH_GRACE_MS 1000
/* Wake-ups of the main thread after the watch ended the session (100 ms apart): one is
 * enough unless it lands just before the main thread waits again. */
#define MOUNTWATCH_KICKS 50

static struct {
	char mountpoint[PATH_MAX]; /* "": no watch */
	pthread_t main_thread;
	struct fuse_session *se;
	void (*log_fn)(int prio, const char *line);
	int (*busy_fn)(void);
	char dev[32]; /* "MAJ:MIN" of the mount's superblock (mountinfo's third field) */
	FILE *mountinfo;
	int stop_pipe[2];
	pthread_t thread;
	int started;
} mw = {.stop_pipe = {-1, -1}};

static void wake_handler(int sig)
{
	(void)sig; /* only interrupts the main thread's wait (no SA_RESTART) */
}

void mpcfs_mountwatch_prepare(const char *mountpoint)
{
	struct sigaction sa;

	if (mountpoint == NULL || realpath(mountpoint, mw.mountpoint) == NULL) {
		mw.mountpoint[0] = '\0'; /* fuse_main reports a bad mount point */
		return;
	}
	mw.main_thread = pthread_self();
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = wake_handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, NULL);
}

static void mw_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mw_log(int prio, const char *fmt, ...)
{
	char line[PATH_MAX + 256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	mw.log_fn(prio, line);
}

/* Undoes mountinfo's octal escapes (\040 for a space, \134 for a backslash ...) in place. */
static void unescape_octal(char *s)
{
	char *out = s;
	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/*
 * Reads the mount table from its start. With dev NULL: 1 if a mount of mw.dev is in it. Else:
 * the "MAJ:MIN" of the topmost FUSE mount at mw.mountpoint into dev (size bytes), 1 if there
 * is one. 0 if not; -1 if the table cannot be read (then nothing is concluded).
 * A line: ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS.
 */
static int mountinfo_scan(char *dev, size_t size)
{
	char *line = NULL, *save, *field[5], *fstype;
	size_t cap = 0;
	int found = 0;

	rewind(mw.mountinfo);
	errno = 0;
	while (getline(&line, &cap, mw.mountinfo) > 0) {
		if ((fstype = strstr(line, " - ")) == NULL)
			continue;
		*fstype = '\0';
		fstype += 3;
		field[0] = strtok_r(line, " ", &save);
		for (int i = 1; i < 5 && field[i - 1] != NULL; i++)
			field[i] = strtok_r(NULL, " ", &save);
		if (field[0] == NULL || field[4] == NULL)
			continue;
		if (dev == NULL) {
			if (strcmp(field[2], mw.dev) == 0) {
				found = 1;
				break;
			}
			continue;
		}
		unescape_octal(field[4]);
		if (strncmp(fstype, "fuse", 4) == 0 && strcmp(field[4], mw.mountpoint) == 0) {
			snprintf(dev, size, "%s", field[2]);
			found = 1; /* a later line mounts on top of an earlier one */
		}
	}
	free(line);
	if (ferror(mw.mountinfo)) {
		clearerr(mw.mountinfo);
		return -1;
	}
	return found;
}

/* The kernel still keeps the FUSE connection: the device reports no error. */
static int connection_alive(int timeout_ms)
{
	struct pollfd pfd = {.fd = fuse_session_fd(mw.se), .events = 0};
	int n = poll(&pfd, 1, timeout_ms);
	return !(n == 1 && (pfd.revents & (POLLERR | POLLHUP)));
}

/* Sleeps on changes of the mount table (POLLPRI) until mpcfs_mountwatch_stop. */
static void *mountwatch_main(void *arg)
{
	struct pollfd pfd[2] = {{.fd = fileno(mw.mountinfo), .events = POLLPRI},
				{.fd = mw.stop_pipe[0], .events = POLLIN}};
	int kicks = 0, gone = 0, waiting = 0;

	(void)arg;
	for (;;) {
		int n = poll(pfd, 2, kicks > 0 ? 100 : gone ? 200 : -1);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && pfd[1].revents != 0)
			break; /* stopped by destroy */
		if (kicks > 0) {
			/* The main thread leaves its wait on the signal, sees the session exited
			 * and ends the loop; destroy then stops this thread. */
			if (kicks++ < MOUNTWATCH_KICKS)
				pthread_kill(mw.main_thread, SIGUSR2);
			continue;
		}
		if (fuse_session_exited(mw.se))
			continue; /* ending already */
		if (!gone) {
			if (n <= 0 || (pfd[0].revents & (POLLPRI | POLLERR)) == 0)
				continue;
			if (mountinfo_scan(NULL, 0) != 0)
				continue; /* still mounted here, or the table unreadable */
			if (!connection_alive(MOUNTWATCH_GRACE_MS) || fuse_session_exited(mw.se))
				continue; /* an ordinary unmount: the session ends by itself */
			gone = 1;
		}
		/* A lazy unmount (umount -l) also leaves the connection to the files still
		 * open: they are served (and their commits run) until they close. */
		if (mw.busy_fn != NULL && mw.busy_fn()) {
			if (!waiting)
				mw_log(LOG_INFO,
				       "%s: unmounted; the connection ends when the files "
				       "still open are closed",
				       mw.mountpoint);
			waiting = 1;
			continue;
		}
		mw_log(
		    LOG_WARNING,
		    "%s: unmounted, but the kernel keeps the FUSE connection (a copy of the mount "
		    "in another mount namespace, made by unshare or ip netns exec while it was "
		    "mounted, or a lazy unmount): ending the session; the copies fail with "
		    "ENOTCONN",
		    mw.mountpoint);
		fuse_session_exit(mw.se);
		pthread_kill(mw.main_thread, SIGUSR2);
		kicks = 1;
	}
	return NULL;
}

void mpcfs_mountwatch_start(struct fuse_session *se, void (*log_fn)(int prio, const char *line),
			    int (*busy_fn)(void))
{
	int rv;

	mw.se = se;
	mw.log_fn = log_fn;
	mw.busy_fn = busy_fn;
	if (mw.mountpoint[0] == '\0' || se == NULL)
		return;
	if ((mw.mountinfo = fopen("/proc/self/mountinfo", "re")) == NULL) {
		mw_log(LOG_WARNING, "/proc/self/mountinfo: %s: the unmount is not watched",
		       strerror(errno));
		return;
	}
	if (mountinfo_scan(mw.dev, sizeof mw.dev) != 1) {
		mw_log(LOG_WARNING, "%s: not in /proc/self/mountinfo: the unmount is not watched",
		       mw.mountpoint);
		goto err_close;
	}
	if (pipe2(mw.stop_pipe, O_CLOEXEC) != 0) {
		mw_log(LOG_WARNING, "pipe: %s: the unmount is not watched", strerror(errno));
		goto err_close;
	}
	if ((rv = pthread_create(&mw.thread, NULL, mountwatch_main, NULL)) != 0) {
		mw_log(LOG_WARNING, "thread: %s: the unmount is not watched", strerror(rv));
		goto err_pipe;
	}
	mw.started = 1;
	return;
err_pipe:
	close(mw.stop_pipe[0]);
	close(mw.stop_pipe[1]);
	mw.stop_pipe[0] = mw.stop_pipe[1] = -1;
err_close:
	fclose(mw.mountinfo);
	mw.mountinfo = NULL;
}

void mpcfs_mountwatch_stop(void)
{
	if (!mw.started)
		return;
	while (write(mw.stop_pipe[1], "x", 1) < 0 && errno == EINTR)
		;
	pthread_join(mw.thread, NULL);
	mw.started = 0;
	close(mw.stop_pipe[0]);
	close(mw.stop_pipe[1]);
	mw.stop_pipe[0] = mw.stop_pipe[1] = -1;
	fclose(mw.mountinfo);
	mw.mountinfo = NULL;
}
