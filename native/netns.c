/* netns: lets the Node server open a TCP socket inside a desktop's network namespace.
 *
 * A self-contained desktop (docs/self-contained.md) has a network namespace of its own with only `lo`; its Xvnc
 * listens there and nowhere else. A socket belongs to the namespace it was created in, for its whole life,
 * whichever namespace its owner later runs in. So socketIn(path) switches the calling thread (only it: setns()
 * acts per thread) into the namespace, makes the socket, and switches back at once; Node then wraps the fd
 * (`new net.Socket({ fd })`) and connects it to the loopback port as usual, asynchronously, through libuv.
 * Nothing else runs on this thread in between: the switch lasts two syscalls.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static napi_value throwErrno(napi_env env, const char *what, const char *path, int err)
{
	char msg[512];
	snprintf(msg, sizeof(msg), "%s %s: %s", what, path, strerror(err));
	napi_value code, message, error;
	napi_create_string_utf8(env, strerror(err), NAPI_AUTO_LENGTH, &code);
	napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
	napi_create_error(env, NULL, message, &error);
	napi_value errnoValue;
	napi_create_int32(env, err, &errnoValue);
	napi_set_named_property(env, error, "errno", errnoValue);
	napi_throw(env, error);
	return NULL;
}

/* socketIn(nsPath, family = 4): a new TCP socket (non-blocking, close-on-exec, unconnected) that lives in the
 * network namespace nsPath names (/run/netns/NAME, /proc/PID/ns/net, any bind of an nsfs file). */
static napi_value socketIn(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2];
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	char path[4096];
	size_t len = 0;
	if (argc < 1 || napi_get_value_string_utf8(env, argv[0], path, sizeof(path), &len) != napi_ok || len == 0 ||
	    len >= sizeof(path) - 1) {
		napi_throw_type_error(env, NULL, "socketIn(nsPath, family?) takes the path of a network namespace");
		return NULL;
	}
	int32_t family = 4;
	if (argc >= 2) {
		napi_valuetype type;
		napi_typeof(env, argv[1], &type);
		if (type != napi_undefined && (napi_get_value_int32(env, argv[1], &family) != napi_ok ||
					       (family != 4 && family != 6))) {
			napi_throw_type_error(env, NULL, "socketIn: family is 4 or 6");
			return NULL;
		}
	}
	int target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0)
		return throwErrno(env, "cannot open the network namespace", path, errno);
	int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (home < 0) {
		int err = errno;
		close(target);
		return throwErrno(env, "cannot open this thread's network namespace", "/proc/thread-self/ns/net", err);
	}
	if (setns(target, CLONE_NEWNET) < 0) {
		int err = errno;
		close(target);
		close(home);
		return throwErrno(env, "cannot enter the network namespace", path, err);
	}
	int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int socketErr = errno;
	/* Back home before anything else: a thread left in the desktop's namespace would open every later socket of
	 * this process there. If that ever failed there is no safe way on. */
	if (setns(home, CLONE_NEWNET) < 0) {
		fprintf(stderr, "netns: cannot return to the server's network namespace: %s\n", strerror(errno));
		abort();
	}
	close(target);
	close(home);
	if (fd < 0)
		return throwErrno(env, "cannot create a socket in the network namespace", path, socketErr);
	napi_value result;
	napi_create_int32(env, fd, &result);
	return result;
}

static napi_value init(napi_env env, napi_value exports)
{
	napi_property_descriptor props[] = {
		{ "socketIn", NULL, socketIn, NULL, NULL, NULL, napi_default, NULL },
	};
	napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
