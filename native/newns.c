/* newns: starts one Freezeframe desktop in namespaces CRIU can dump and restore, prints its PID, and exits.
 *
 * usage: newns --log FILE --user NAME [--hostname NAME] -- PROGRAM [ARG]...
 *
 * Grown from the CRIU wiki's VNC recipe (shared/seed/criu-vnc-howto.txt). What each step is for:
 * - CLONE_NEWPID: the desktop is a tree of its own with PID 1 at the top, restorable with the same PIDs.
 * - CLONE_NEWIPC: X clients share images with the server through SysV shared memory; CRIU dumps it with the ns.
 * - CLONE_NEWNS + a fresh /proc: icewm's network applet keeps /proc/<pid>/net/dev open; with the host's /proc
 *   that path names a host PID and restore fails. With its own /proc, restore works (criu restore --root /).
 * - a private devpts instance: a frozen desktop's pty numbers cannot be taken by another desktop meanwhile,
 *   which would make its restore fail ("Unable to open dev/ptmx with specified index").
 * - CLONE_NEWUTS: a hostname per desktop, and nothing in the tree depends on the host's.
 * - every inherited fd >= 3 closed, setsid, stdio to the log: no fd, session or terminal of the caller leaks
 *   into the tree, or CRIU would refuse to dump it (or need --inherit-fd on restore).
 * The child reports setup failures through a close-on-exec pipe, so this program exits 0 only once the
 * desktop's program has really been exec'd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#define STACK_SIZE (256 * 1024)
#define REPORT_FD 3

struct options {
	const char *logPath;
	const char *user;
	const char *hostname;
	char **argv;
};

static struct options opts;
static int reportWrite = -1;

/* Writes "step: reason" to the report pipe and exits; the parent prints it. */
static void fail(const char *step)
{
	char msg[512];
	int len = snprintf(msg, sizeof(msg), "%s: %s", step, strerror(errno));
	if (write(REPORT_FD, msg, len) < 0) { /* nothing left to tell it with */ }
	_exit(127);
}

/* Looked up once, before the namespaces are made (the mounts need its uid too). */
static struct passwd *desktopUser;

/* Unescapes a mountinfo path in place (a space is "\\040", a backslash "\\134"). */
static void unescapeMountPath(char *path)
{
	char *out = path;
	for (char *in = path; *in; out++) {
		if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] >= '0' && in[2] <= '7' && in[3] >= '0' && in[3] <= '7') {
			*out = (char)((in[1] - '0') * 64 + (in[2] - '0') * 8 + (in[3] - '0'));
			in += 4;
		} else {
			*out = *in++;
		}
	}
	*out = '\0';
}

/* Namespace files the host has bind-mounted (`ip netns add` puts one per namespace under /run/netns; container
 * engines do the same) are copied into the desktop's mount namespace with everything else, and criu cannot dump
 * them: "mnt: ./run/netns/NAME doesn't have a proper root mount" (seen as soon as any namespace was added on the
 * machine). The desktop has no use for them: they are detached from its view. */
static void detachNamespaceFiles(void)
{
	for (int pass = 0; pass < 8; pass++) {
		FILE *info = fopen("/proc/self/mountinfo", "r");
		if (!info)
			fail("read /proc/self/mountinfo");
		char line[4096];
		int detached = 0;
		while (fgets(line, sizeof(line), info)) {
			/* id parent major:minor root mountpoint options [optional fields] - fstype source superoptions */
			char *dash = strstr(line, " - nsfs ");
			if (!dash)
				continue;
			char mountPoint[4096];
			if (sscanf(line, "%*s %*s %*s %*s %4095s", mountPoint) != 1)
				continue;
			unescapeMountPath(mountPoint);
			if (umount2(mountPoint, MNT_DETACH) == 0)
				detached++;
		}
		fclose(info);
		if (!detached)
			return;
	}
}

static void mountPrivateProcAndPts(void)
{
	/* Without rprivate, our mounts below would propagate back into the host's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail("make / rprivate");
	detachNamespaceFiles();
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		fail("mount a fresh /proc");
	/* New ptys belong to group tty: terminals (xterm) chown their pty to group tty, which a desktop without
	 * CAP_CHOWN may do only when the pty has that group already. And to the desktop user, whoever opens
	 * /dev/ptmx: criu (root) reopens it on restore, and a pty dumped before its slave side was opened (xterm
	 * between openpty and its child's open) would come back root's, its slave closed to the desktop:
	 * "xterm: Error 18, errno 13: Permission denied / Reason: spawn: open() failed on ptsname". */
	char ptsOptions[128];
	struct group *tty = getgrnam("tty");
	snprintf(ptsOptions, sizeof(ptsOptions), "newinstance,ptmxmode=0666,mode=0620,gid=%u,uid=%u",
		 tty ? (unsigned)tty->gr_gid : 5u, (unsigned)desktopUser->pw_uid);
	if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, ptsOptions) < 0)
		fail("mount a private devpts on /dev/pts");
	struct stat st;
	if (lstat("/dev/ptmx", &st) == 0 && !S_ISLNK(st.st_mode) &&
	    mount("/dev/pts/ptmx", "/dev/ptmx", NULL, MS_BIND, NULL) < 0)
		fail("bind /dev/pts/ptmx onto /dev/ptmx");
}

/* The desktop runs as the unprivileged user NAME (uid, gid and only its own group), with no capability at all:
 * an empty bounding set and no_new_privs, so not even a set-user-ID program can give any back; criu dumps and
 * restores all of these. HOME and the working directory are the caller's (a per-desktop home).
 * Root lacking CAP_SYS_RESOURCE (as on these VMs) cannot prlimit() another uid's task, which criu's dump does for
 * every task: our criu reads /proc/PID/limits then (scripts/criu-patches/0001-rlimits-from-proc.patch). */
static void dropPrivileges(void)
{
	struct passwd *pw = desktopUser;
	/* The bounding set first: dropping from it needs CAP_SETPCAP, gone once the uid is not 0. */
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			fail("drop a capability from the bounding set");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		fail("clear ambient capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail("set no_new_privs");
	gid_t gid = pw->pw_gid;
	if (setgroups(1, &gid) < 0)
		fail("set the desktop user's groups");
	if (setresgid(gid, gid, gid) < 0)
		fail("setresgid to the desktop user");
	/* Leaving uid 0 for good clears the permitted, effective and ambient sets (no SECBIT_KEEP_CAPS here). */
	if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		fail("setresuid to the desktop user");
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	if (syscall(SYS_capget, &header, data) < 0)
		fail("read capabilities");
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (data[i].effective || data[i].permitted || data[i].inheritable) {
			errno = EPERM;
			fail("capabilities left after setresuid");
		}
	if (setenv("USER", pw->pw_name, 1) < 0 || setenv("LOGNAME", pw->pw_name, 1) < 0)
		fail("set USER/LOGNAME");
	/* Apps keep their settings there: better to fail now than to start a desktop whose apps cannot write them. */
	const char *home = getenv("HOME");
	if (!home || access(home, W_OK | X_OK) < 0)
		fail("the desktop user cannot write its HOME (it must own it; every folder above must be searchable)");
}

static int child(void *arg)
{
	(void)arg;
	/* Our end of the report pipe goes to a fixed fd, so that closing everything above it keeps it. */
	if (reportWrite != REPORT_FD && dup2(reportWrite, REPORT_FD) < 0) {
		if (write(reportWrite, "move the report pipe: failed", 28) < 0) { /* nothing left to tell it with */ }
		_exit(127);
	}
	/* Everything the caller left open, but our report pipe, must not reach the tree. */
	if (syscall(SYS_close_range, REPORT_FD + 1, ~0U, 0) < 0)
		fail("close inherited fds");
	if (fcntl(REPORT_FD, F_SETFD, FD_CLOEXEC) < 0)
		fail("mark the report pipe close-on-exec");
	if (opts.hostname && sethostname(opts.hostname, strlen(opts.hostname)) < 0)
		fail("set the hostname");
	mountPrivateProcAndPts();

	int log = open(opts.logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (log < 0)
		fail("open the log");
	int null = open("/dev/null", O_RDONLY);
	if (null < 0)
		fail("open /dev/null");
	if (dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
		fail("redirect stdio to the log");
	close(null);
	close(log);
	if (setsid() < 0)
		fail("setsid");
	dropPrivileges();
	/* A signal mask or ignored signals inherited from the server must not reach the desktop. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	execvp(opts.argv[0], opts.argv);
	fail("exec the desktop program");
	return 127;
}

static void usage(void)
{
	fprintf(stderr, "usage: newns --log FILE --user NAME [--hostname NAME] -- PROGRAM [ARG]...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int i;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--") ) {
			i++;
			break;
		} else if (!strcmp(argv[i], "--log") && i + 1 < argc) {
			opts.logPath = argv[++i];
		} else if (!strcmp(argv[i], "--user") && i + 1 < argc) {
			opts.user = argv[++i];
		} else if (!strcmp(argv[i], "--hostname") && i + 1 < argc) {
			opts.hostname = argv[++i];
		} else {
			usage();
		}
	}
	if (!opts.logPath || !opts.user || i >= argc)
		usage();
	opts.argv = argv + i;

	if (geteuid() != 0) {
		fprintf(stderr, "newns: must run as root (it creates PID, IPC, mount and UTS namespaces)\n");
		return 1;
	}
	errno = 0;
	desktopUser = getpwnam(opts.user);
	if (!desktopUser) {
		fprintf(stderr, "newns: no user %s to run the desktop as: %s\n", opts.user,
			errno ? strerror(errno) : "not found");
		return 1;
	}
	if (desktopUser->pw_uid == 0 || desktopUser->pw_gid == 0) {
		fprintf(stderr, "newns: the desktop user %s must not be root\n", opts.user);
		return 1;
	}
	int report[2];
	if (pipe2(report, O_CLOEXEC) < 0) {
		perror("newns: pipe");
		return 1;
	}
	reportWrite = report[1];
	void *stack = mmap(NULL, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		perror("newns: mmap stack");
		return 1;
	}
	pid_t pid = clone(child, (char *)stack + STACK_SIZE,
			  CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWNS | CLONE_NEWUTS | SIGCHLD, NULL);
	if (pid < 0) {
		fprintf(stderr, "newns: clone: %s (needs root and a kernel with PID, IPC, mount and UTS namespaces)\n",
			strerror(errno));
		return 1;
	}
	close(report[1]);
	char msg[512];
	ssize_t n;
	do
		n = read(report[0], msg, sizeof(msg) - 1);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		msg[n] = 0;
		waitpid(pid, NULL, 0);
		fprintf(stderr, "newns: %s\n", msg);
		return 1;
	}
	/* exec succeeded: the desktop now belongs to whoever reaps orphans; we only tell its PID. */
	printf("%d\n", pid);
	return 0;
}
