/* userns-probe: the experiment behind docs/userns.md, not part of the product (nothing builds or runs it).
 *
 *   userns-probe BASE PROGRAM [ARG]...   starts PROGRAM as uid/gid 1000 of a new user namespace mapping ids
 *                                        0..65535 to host ids BASE.., with PID, IPC, mount and UTS namespaces
 *                                        owned by it, a fresh /proc, a private devpts and /dev/shm; prints its PID
 *   userns-probe --wrap CRIU [ARG]...    runs criu (restore) in a mount namespace trimmed the same way
 *
 * Why the trimming: mounts a user namespace inherits are locked to their submounts, and criu (restore in
 * --mntns-compat-mode) bind-mounts each inherited mount non-recursively, which the kernel refuses for a mount
 * with locked submounts. So /dev, /proc and /sys are made childless first: a non-recursive clone replaces them.
 * Build: cc -O2 -o userns-probe docs/userns-probe.c */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mount.h>

static int go[2];
static char **programArgv;

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void makeChildless(const char *mountpoint)
{
	int fd = syscall(SYS_open_tree, AT_FDCWD, mountpoint, OPEN_TREE_CLONE);
	if (fd < 0 || umount2(mountpoint, MNT_DETACH) < 0 ||
	    syscall(SYS_move_mount, fd, "", AT_FDCWD, mountpoint, MOVE_MOUNT_F_EMPTY_PATH) < 0)
		die(mountpoint);
	close(fd);
}

static void trimMounts(void)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die("private mount namespace");
	makeChildless("/dev");
	makeChildless("/proc");
	makeChildless("/sys");
}

static int child(void *arg)
{
	(void)arg;
	char c;
	close(go[1]);
	if (read(go[0], &c, 1) < 0) /* EOF: the parent wrote the id maps */
		die("wait for the maps");
	if (setgroups(0, NULL) < 0 || setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		die("become the namespace's root");
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 ||
	    mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5") < 0 ||
	    mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
		die("mount /proc, /dev/pts, /dev/shm");
	/* Only files opened inside: criu cannot dump an fd on a mount of the parent's namespace. */
	int null = open("/dev/null", O_RDWR);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
		die("stdio");
	syscall(SYS_close_range, 3, ~0U, 0);
	gid_t gid = 1000;
	if (setgroups(1, &gid) < 0 || setresgid(1000, 1000, 1000) < 0 || setresuid(1000, 1000, 1000) < 0)
		die("become uid 1000");
	setsid();
	execvp(programArgv[0], programArgv);
	die("exec");
	return 1;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: userns-probe BASE PROGRAM [ARG]... | userns-probe --wrap CRIU [ARG]...\n");
		return 2;
	}
	if (!strcmp(argv[1], "--wrap")) {
		trimMounts();
		execvp(argv[2], argv + 2);
		die("exec criu");
	}
	unsigned long base = strtoul(argv[1], NULL, 10);
	programArgv = argv + 2;
	if (pipe(go) < 0)
		die("pipe");
	trimMounts();
	char *stack = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	pid_t pid = clone(child, stack + (1 << 16),
			  CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD, NULL);
	if (pid < 0)
		die("clone");
	char path[64], map[64];
	int len = snprintf(map, sizeof(map), "0 %lu 65536\n", base);
	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, i ? "gid_map" : "uid_map");
		int fd = open(path, O_WRONLY);
		if (fd < 0 || write(fd, map, len) != len)
			die(path);
		close(fd);
	}
	close(go[1]);
	printf("%d\n", (int)pid);
	return 0;
}
