/* Ends the FUSE session when the mount leaves this process's mount namespace (both mounts). */
#ifndef MPC_FUSE_MOUNTWATCH_H
#define MPC_FUSE_MOUNTWATCH_H

#include <fuse_lowlevel.h>

/*
 * Why: an unmount ends the kernel's FUSE connection, and with it the session
 * loop, only when the superblock's last mount goes. A process that made a new
 * mount namespace (unshare -m, ip netns exec) while the file system was
 * mounted holds a copy of the mount (the mounts here are private, the unmount
 * does not propagate): the daemon would serve that copy until the other
 * namespace ends. The watch ends the session once the mount is gone from this
 * process's namespace; at exit the device closes and the copies fail with
 * ENOTCONN, as after a crash.
 */

/* Called by main() on its own thread before fuse_main: records the mount point (copied; NULL
 * or a path realpath(3) cannot resolve: no watch) and that thread (woken by SIGUSR2, whose
 * handler this installs, when the watch ends the session). */
void mpcfs_mountwatch_prepare(const char *mountpoint);

/* From the file system's init: finds the mount in /proc/self/mountinfo and watches the mount
 * table from a thread. Once the mount is gone from it while the connection stays, the session
 * ends as soon as busy_fn (NULL: never busy) returns 0: no file open, no commit running.
 * Logs through log_fn (syslog priorities) why there is no watch or why it ends the session;
 * never fails the mount. */
void mpcfs_mountwatch_start(struct fuse_session *se, void (*log_fn)(int prio, const char *line),
			    int (*busy_fn)(void));

/* From the file system's destroy: stops and joins the thread (nothing if none runs). */
void mpcfs_mountwatch_stop(void);

#endif
