/* flock: flock(2) for Node, which has none: the desktops' operation lock (server/desktops/lock.ts).
 *
 * A lock file that holds its holder's PID can be stolen: two processes that both find the holder dead each
 * remove the file and make their own, and both go on (measured: 3 of 6 processes at once, test/lock.test.ts).
 * flock(2) is held by an open file and released by the kernel when its holder dies, so there is nothing to steal.
 */
#include <errno.h>
#include <node_api.h>
#include <string.h>
#include <sys/file.h>

static int fdArg(napi_env env, napi_callback_info info, int32_t *fd)
{
	size_t argc = 1;
	napi_value argv[1];
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	if (argc < 1 || napi_get_value_int32(env, argv[0], fd) != napi_ok || *fd < 0) {
		napi_throw_type_error(env, NULL, "takes a file descriptor");
		return 0;
	}
	return 1;
}

static napi_value lockWith(napi_env env, napi_callback_info info, int op)
{
	int32_t fd;
	napi_value result;
	if (!fdArg(env, info, &fd))
		return NULL;
	int rc;
	do
		rc = flock(fd, op | LOCK_NB);
	while (rc < 0 && errno == EINTR);
	if (rc < 0 && errno != EWOULDBLOCK) {
		napi_throw_error(env, NULL, strerror(errno));
		return NULL;
	}
	napi_get_boolean(env, rc == 0, &result);
	return result;
}

/* tryLock(fd): true if this open file now holds the exclusive lock, false if another holds it (never waits). */
static napi_value tryLock(napi_env env, napi_callback_info info)
{
	return lockWith(env, info, LOCK_EX);
}

static napi_value init(napi_env env, napi_value exports)
{
	napi_property_descriptor props[] = {
		{ "tryLock", NULL, tryLock, NULL, NULL, NULL, napi_default, NULL },
	};
	napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
