/* newns: starts one Freezeframe desktop in namespaces CRIU can dump and restore, prints its PID, and exits.
 *
 * usage: newns --log FILE (--user NAME | --ids UID:GID [--user NAME]) [--hostname NAME]
 *              [--netns PATH] [--private-tmp] [--bind HOSTPATH:PATH]... [--hide PATH]... -- PROGRAM [ARG]...
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
 * Optional, for self-contained desktops (docs/self-contained.md; none of them changes the call above):
 * - --netns PATH: the tree joins that network namespace (kept by the caller, e.g. `ip netns add`: the viewers'
 *   connections live there across dump and restore). Joined before the other namespaces are made. Every nsfs
 *   mount (/run/netns/NAME, the keeper's handles of any desktop) is detached from the tree's mount namespace: criu
 *   cannot dump a mount namespace that holds one ("doesn't have a proper root mount" / "unreachable sharing").
 * - --private-tmp: a tmpfs of its own on /tmp (X sockets and locks; display :1 in every desktop).
 * - --bind HOSTPATH:PATH: HOSTPATH (folder or file) bound at PATH in the tree only, so the same paths hold in
 *   every desktop (its home at /home/desktop, a generated /etc/passwd); a missing folder PATH is created (empty,
 *   0755) in the host's tree as the mountpoint. The working directory becomes $HOME once the binds are made.
 * - --hide PATH: every mount at or under PATH is detached from the tree (the state folder, where the other
 *   desktops' overlay homes are mounted). Without it a desktop's mount namespace holds a copy of each, criu dumps
 *   them with its own and mounts them again on restore: a second overlay on another desktop's upper folder.
 * - --ids UID:GID: run as these ids, which need no passwd entry on the host (one uid per desktop); USER and
 *   LOGNAME are --user's name if given, else left as the caller set them.
 * The log is opened after all mounts, so --log may name a path inside a bound folder.
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

#define MAX_BINDS 16
#define MAX_HIDES 8

struct options {
	const char *logPath;
	const char *user;
	const char *hostname;
	const char *netns;
	int privateTmp;
	int hasIds;
	uid_t uid;
	gid_t gid;
	int binds;
	char *bindFrom[MAX_BINDS];
	char *bindTo[MAX_BINDS];
	int hides;
	char *hide[MAX_HIDES];
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

/* PATH is PREFIX or under it. */
static int under(const char *path, const char *prefix)
{
	size_t n = strlen(prefix);
	while (n > 1 && prefix[n - 1] == '/')
		n--;
	return !strncmp(path, prefix, n) && (path[n] == 0 || path[n] == '/');
}

/* PATH is at or under one of the --hide prefixes, or under /tmp when the tree gets its own: a mount the host made
 * below /tmp (another tool's overlay, a test's) would sit under the private tmpfs, where criu's restore cannot
 * stat its mountpoint ("mnt-v2: Can't stat mountpoint .../tmp/...": every restore of every contained desktop
 * failed while another program had a mount in /tmp). */
static int hidden(const char *path)
{
	if (opts.privateTmp && under(path, "/tmp") && strcmp(path, "/tmp"))
		return 1;
	for (int i = 0; i < opts.hides; i++)
		if (under(path, opts.hide[i]))
			return 1;
	return 0;
}

/* Detaches every nsfs mount (a kept network namespace, /run/netns/NAME) and every mount under a --hide prefix
 * from our mount namespace: criu refuses to dump a mount namespace holding an nsfs mount. Reads
 * /proc/self/mountinfo (the host's /proc, still mounted); MNT_DETACH takes a mount's children with it. */
static void detachNamespaceMounts(void)
{
	FILE *info = fopen("/proc/self/mountinfo", "re");
	if (!info)
		fail("read /proc/self/mountinfo");
	char line[8192];
	char *targets[1024];
	int count = 0;
	while (fgets(line, sizeof(line), info)) {
		/* id parent major:minor root mountpoint options [optional fields] - fstype source superoptions */
		char *dash = strstr(line, " - ");
		if (!dash)
			continue;
		int nsfs = !strncmp(dash + 3, "nsfs ", 5);
		if (!nsfs && !opts.hides && !opts.privateTmp)
			continue;
		char *fields[5];
		char *save = NULL, *p = line;
		int n = 0;
		for (; n < 5 && (fields[n] = strtok_r(p, " ", &save)); n++)
			p = NULL;
		if (n < 5)
			continue;
		if (count == 1024) {
			errno = E2BIG;
			fail("detach mounts from the tree (more than 1024)");
		}
		/* Octal escapes (\040 for a space) back to bytes. */
		char *in = fields[4], *out = fields[4];
		while (*in) {
			if (in[0] == '\\' && in[1] >= '0' && in[1] <= '3' && in[2] && in[3]) {
				*out++ = (char)(((in[1] - '0') << 6) | ((in[2] - '0') << 3) | (in[3] - '0'));
				in += 4;
			} else {
				*out++ = *in++;
			}
		}
		*out = 0;
		if (nsfs || hidden(fields[4]))
			targets[count++] = strdup(fields[4]);
	}
	fclose(info);
	for (int i = 0; i < count; i++) {
		/* EINVAL: already gone with an earlier one (the same mount seen twice). */
		if (targets[i] && umount2(targets[i], MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
			fail("detach a network namespace's mount from the tree");
		free(targets[i]);
	}
}

/* --bind, made first: a source under a --hide prefix (a clone's overlay home) is bound before it is hidden. */
static void bindFolders(void)
{
	for (int i = 0; i < opts.binds; i++) {
		struct stat from, to;
		if (stat(opts.bindFrom[i], &from) < 0)
			fail("find a --bind source");
		if (stat(opts.bindTo[i], &to) < 0) {
			if (errno != ENOENT || !S_ISDIR(from.st_mode) || mkdir(opts.bindTo[i], 0755) < 0)
				fail("find or create a --bind target");
		}
		if (mount(opts.bindFrom[i], opts.bindTo[i], NULL, MS_BIND, NULL) < 0)
			fail("bind a --bind folder");
	}
}

/* --private-tmp, then $HOME: made after the binds and the detaching, before /proc and the log. */
static void mountPrivateView(void)
{
	if (opts.privateTmp) {
		if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
			fail("mount a private tmpfs on /tmp");
		/* X creates these only as root ("_XSERVTransmkdir: ERROR: euid != 0"): without them Xvnc listens on its
		 * abstract socket only, and clients that look for /tmp/.X11-unix/X1 find nothing. */
		const char *shared[] = { "/tmp/.X11-unix", "/tmp/.ICE-unix" };
		for (int i = 0; i < 2; i++)
			if (mkdir(shared[i], 01777) < 0 || chmod(shared[i], 01777) < 0)
				fail("create the X socket folders in the private /tmp");
	}
	if (opts.binds) {
		const char *home = getenv("HOME");
		if (chdir(home ? home : "/") < 0)
			fail("change to $HOME");
	}
}

static void mountPrivateProcAndPts(void)
{
	/* Without rprivate, our mounts below would propagate back into the host's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		fail("make / rprivate");
	bindFolders();
	/* Always: any namespace file the host mounted (ip netns add, container engines) would make every dump fail. */
	detachNamespaceMounts();
	mountPrivateView();
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
	if (pw->pw_name && (setenv("USER", pw->pw_name, 1) < 0 || setenv("LOGNAME", pw->pw_name, 1) < 0))
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
	fprintf(stderr, "usage: newns --log FILE (--user NAME | --ids UID:GID [--user NAME]) [--hostname NAME]\n"
			"             [--netns PATH] [--private-tmp] [--bind HOSTPATH:PATH]... [--hide PATH]... -- PROGRAM [ARG]...\n");
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
		} else if (!strcmp(argv[i], "--netns") && i + 1 < argc) {
			opts.netns = argv[++i];
		} else if (!strcmp(argv[i], "--hide") && i + 1 < argc) {
			if (argv[i + 1][0] != '/' || opts.hides == MAX_HIDES) {
				fprintf(stderr, "newns: --hide takes an absolute path (at most %d)\n", MAX_HIDES);
				return 2;
			}
			opts.hide[opts.hides++] = argv[++i];
		} else if (!strcmp(argv[i], "--private-tmp")) {
			opts.privateTmp = 1;
		} else if (!strcmp(argv[i], "--ids") && i + 1 < argc) {
			unsigned long uid, gid;
			char end;
			if (sscanf(argv[++i], "%lu:%lu%c", &uid, &gid, &end) != 2 || uid == 0 || gid == 0 ||
			    uid >= 0xffffffffUL || gid >= 0xffffffffUL) {
				fprintf(stderr, "newns: --ids takes UID:GID, both numbers other than 0\n");
				return 2;
			}
			opts.hasIds = 1;
			opts.uid = (uid_t)uid;
			opts.gid = (gid_t)gid;
		} else if (!strcmp(argv[i], "--bind") && i + 1 < argc) {
			char *spec = argv[++i], *colon = strchr(spec, ':');
			if (!colon || colon == spec || colon[1] != '/' || spec[0] != '/' || opts.binds == MAX_BINDS) {
				fprintf(stderr, "newns: --bind takes /HOSTPATH:/PATH (at most %d)\n", MAX_BINDS);
				return 2;
			}
			*colon = 0;
			opts.bindFrom[opts.binds] = spec;
			opts.bindTo[opts.binds++] = colon + 1;
		} else {
			usage();
		}
	}
	if (!opts.logPath || (!opts.user && !opts.hasIds) || i >= argc)
		usage();
	opts.argv = argv + i;

	if (geteuid() != 0) {
		fprintf(stderr, "newns: must run as root (it creates PID, IPC, mount and UTS namespaces)\n");
		return 1;
	}
	static struct passwd byIds;
	if (opts.hasIds) {
		byIds.pw_name = (char *)opts.user;
		byIds.pw_uid = opts.uid;
		byIds.pw_gid = opts.gid;
		desktopUser = &byIds;
	}
	errno = 0;
	if (!desktopUser)
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
	if (opts.netns) {
		/* Joined here, in the launcher, so that the clone below (new PID, mount, ... namespaces) starts in it. */
		int ns = open(opts.netns, O_RDONLY | O_CLOEXEC);
		if (ns < 0 || setns(ns, CLONE_NEWNET) < 0) {
			fprintf(stderr, "newns: cannot join the network namespace %s: %s\n", opts.netns, strerror(errno));
			return 1;
		}
		close(ns);
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
