/* newns: starts one Freezeframe desktop in namespaces CRIU can dump and restore, prints its PID, and exits.
 *
 * usage: newns --log FILE [--user NAME | --no-caps] [--hostname NAME] -- PROGRAM [ARG]...
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
	int noCaps;
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

static void mountPrivateProcAndPts(void)
{
	/* Without rprivate, our mounts below would propagate back into the host's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail("make / rprivate");
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		fail("mount a fresh /proc");
	/* New ptys belong to group tty: terminals (xterm) chown their pty to group tty, which a desktop without
	 * CAP_CHOWN may do only when the pty has that group already. */
	char ptsOptions[128];
	struct group *tty = getgrnam("tty");
	snprintf(ptsOptions, sizeof(ptsOptions), "newinstance,ptmxmode=0666,mode=0620,gid=%u",
		 tty ? (unsigned)tty->gr_gid : 5u);
	if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, ptsOptions) < 0)
		fail("mount a private devpts on /dev/pts");
	struct stat st;
	if (lstat("/dev/ptmx", &st) == 0 && !S_ISLNK(st.st_mode) &&
	    mount("/dev/pts/ptmx", "/dev/ptmx", NULL, MS_BIND, NULL) < 0)
		fail("bind /dev/pts/ptmx onto /dev/ptmx");
}

static void dropPrivileges(void)
{
	if (!opts.user)
		return;
	errno = 0;
	struct passwd *pw = getpwnam(opts.user);
	if (!pw) {
		if (!errno)
			errno = ENOENT;
		fail("look up the desktop user");
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0)
		fail("set the desktop user's groups");
	if (setgid(pw->pw_gid) < 0)
		fail("setgid to the desktop user");
	if (setuid(pw->pw_uid) < 0)
		fail("setuid to the desktop user");
	if (setenv("HOME", pw->pw_dir, 1) < 0 || setenv("USER", pw->pw_name, 1) < 0 ||
	    setenv("LOGNAME", pw->pw_name, 1) < 0)
		fail("set HOME/USER");
	if (chdir(pw->pw_dir) < 0)
		fail("chdir to the desktop user's home");
}

/* Root with only CAP_SETUID and CAP_SETGID: the desktop cannot mount, trace, load modules, change the network or
 * override file permissions, yet keeps uid 0, which CRIU needs where root itself lacks CAP_SYS_RESOURCE (as on
 * these VMs): criu reads every task's rlimits with prlimit(), which the kernel allows on another uid's task only
 * with that capability. The two kept are for terminals: xterm, started as root, resets its child's groups and
 * ids before running the shell and exits when it cannot.
 * A root process gets its bounding set at every exec, so the bounding set is what limits the whole tree. */
static const int keptCaps[] = { CAP_SETUID, CAP_SETGID };

static void dropCapabilities(void)
{
	if (!opts.noCaps)
		return;
	unsigned long long kept = 0;
	for (size_t i = 0; i < sizeof(keptCaps) / sizeof(keptCaps[0]); i++)
		kept |= 1ULL << keptCaps[i];
	for (int cap = 0; cap <= 63; cap++)
		if (!(kept & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			fail("drop a capability from the bounding set");
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		fail("clear ambient capabilities");
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];
	memset(data, 0, sizeof(data));
	data[0].effective = data[0].permitted = (unsigned)kept;
	if (syscall(SYS_capset, &header, data) < 0)
		fail("set capabilities");
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
	dropCapabilities();
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
	fprintf(stderr, "usage: newns --log FILE [--user NAME | --no-caps] [--hostname NAME] -- PROGRAM [ARG]...\n");
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
		} else if (!strcmp(argv[i], "--no-caps")) {
			opts.noCaps = 1;
		} else if (!strcmp(argv[i], "--hostname") && i + 1 < argc) {
			opts.hostname = argv[++i];
		} else {
			usage();
		}
	}
	if (!opts.logPath || i >= argc)
		usage();
	opts.argv = argv + i;

	if (geteuid() != 0) {
		fprintf(stderr, "newns: must run as root (it creates PID, IPC, mount and UTS namespaces)\n");
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
