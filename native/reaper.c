/* reaper: lets a Node process adopt and reap the roots of the desktops it starts and restores.
 *
 * A desktop's root is started by newns, which exits at once, and restored by `criu restore -d`, which exits
 * after the restore: either way the root is orphaned and adopted by the nearest "child subreaper" ancestor, or
 * PID 1. Some PID 1s (as on these VMs) never reap, so every dumped or stopped desktop would stay a zombie.
 * Made a subreaper, the server adopts those roots and reaps each one it sees dead. Only PIDs it names are waited
 * for: its own children belong to libuv, which must keep their exit statuses.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

static napi_value becomeSubreaper(napi_env env, napi_callback_info info)
{
	(void)info;
	napi_value result;
	napi_get_boolean(env, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0, &result);
	return result;
}

/* reap(pid): true if pid was a zombie child of ours and is now gone. */
static napi_value reap(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], result;
	int32_t pid = 0;
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	if (argc < 1 || napi_get_value_int32(env, argv[0], &pid) != napi_ok || pid <= 1) {
		napi_throw_type_error(env, NULL, "reap(pid) takes a PID > 1");
		return NULL;
	}
	int status;
	pid_t got;
	do
		got = waitpid(pid, &status, WNOHANG);
	while (got < 0 && errno == EINTR);
	napi_get_boolean(env, got == pid, &result);
	return result;
}

static napi_value init(napi_env env, napi_value exports)
{
	napi_property_descriptor props[] = {
		{ "becomeSubreaper", NULL, becomeSubreaper, NULL, NULL, NULL, napi_default, NULL },
		{ "reap", NULL, reap, NULL, NULL, NULL, napi_default, NULL },
	};
	napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
