/* seqpacket: the socket pair the server drives `criu swrk` over (CRIU's RPC, images/rpc.proto).
 *
 * criu swrk reads one protobuf message per recv() and needs the message boundaries of an AF_UNIX SOCK_SEQPACKET
 * socket, which Node cannot make (net wraps only stream sockets). pair() makes one (both ends close-on-exec; the
 * worker's end becomes its fd 3 through spawn's stdio, which clears the flag), send() writes one message (a
 * request is ~1 KB, written into an empty socket: it never waits), whenReadable() calls back once the worker has
 * answered or gone (libuv polls the socket: criu answers a restore before its exit, which may wait for the kernel
 * a few more ms), recvNow() takes the answer (never waits either), close() closes our end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

static napi_value throwErrno(napi_env env, const char *what)
{
	char msg[256];
	snprintf(msg, sizeof(msg), "%s: %s", what, strerror(errno));
	napi_throw_error(env, NULL, msg);
	return NULL;
}

static int fdArg(napi_env env, napi_callback_info info, napi_value *argv, size_t want)
{
	size_t argc = want;
	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	int32_t fd = -1;
	if (argc < want || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
		napi_throw_type_error(env, NULL, "seqpacket: the first argument is an fd");
		return -1;
	}
	return fd;
}

/* pair(): [ours, theirs] */
static napi_value pair(napi_env env, napi_callback_info info)
{
	(void)info;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return throwErrno(env, "socketpair");
	napi_value result, a, b;
	napi_create_array_with_length(env, 2, &result);
	napi_create_int32(env, sv[0], &a);
	napi_create_int32(env, sv[1], &b);
	napi_set_element(env, result, 0, a);
	napi_set_element(env, result, 1, b);
	return result;
}

/* send(fd, buffer): one message, whole. */
static napi_value sendMessage(napi_env env, napi_callback_info info)
{
	napi_value argv[2];
	int fd = fdArg(env, info, argv, 2);
	if (fd < 0)
		return NULL;
	void *data;
	size_t len;
	if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok) {
		napi_throw_type_error(env, NULL, "seqpacket.send(fd, buffer)");
		return NULL;
	}
	ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return throwErrno(env, "send");
	if ((size_t)n != len) {
		napi_throw_error(env, NULL, "send: message cut short");
		return NULL;
	}
	return NULL;
}

/* recvNow(fd): the next message, or null when there is none (never waits). */
static napi_value recvNow(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	int fd = fdArg(env, info, argv, 1);
	if (fd < 0)
		return NULL;
	ssize_t len = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
	napi_value result;
	if (len < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		napi_get_null(env, &result);
		return result;
	}
	if (len < 0)
		return throwErrno(env, "recv");
	void *data;
	napi_create_buffer(env, len, &data, &result);
	if (recv(fd, data, len, MSG_DONTWAIT) != len)
		return throwErrno(env, "recv");
	return result;
}

/* One wait for a socket to become readable (a message, or the peer gone), then its callback, once; or none, once
 * stopped (stopWatching). The waits under way are listed: a stop finds its wait by our end's fd, and the
 * environment's cleanup stops those left (a process that exits while criu works), so that none calls into an
 * environment that is gone. */
typedef struct Watch {
	uv_poll_t poll;
	/* Our end, as the caller knows it; and a copy of it, the watch's own (our end may be closed first). */
	int fd;
	int copy;
	napi_env env;
	napi_ref callback;
	napi_async_context context;
	struct Watch *next;
} Watch;

static Watch *watching;

static void watchClosed(uv_handle_t *handle)
{
	Watch *watch = handle->data;
	close(watch->copy);
	free(watch);
}

/* Off the list, its poll stopped and closed; its callback dropped. */
static void unwatch(Watch *watch, bool envAlive)
{
	for (Watch **at = &watching; *at; at = &(*at)->next) {
		if (*at == watch) {
			*at = watch->next;
			break;
		}
	}
	uv_poll_stop(&watch->poll);
	if (envAlive) {
		napi_delete_reference(watch->env, watch->callback);
		if (watch->context)
			napi_async_destroy(watch->env, watch->context);
	}
	uv_close((uv_handle_t *)&watch->poll, watchClosed);
}

static void watchFired(uv_poll_t *poll, int status, int events)
{
	(void)status;
	(void)events;
	Watch *watch = poll->data;
	napi_env env = watch->env;
	napi_handle_scope scope;
	napi_open_handle_scope(env, &scope);
	napi_value callback, receiver;
	napi_get_reference_value(env, watch->callback, &callback);
	/* An object (napi_make_callback refuses undefined). */
	napi_get_global(env, &receiver);
	napi_async_context context = watch->context;
	watch->context = NULL;
	unwatch(watch, true);
	/* As a callback of Node's own: the promise it settles goes on at once (the microtasks run after it). */
	napi_make_callback(env, context, receiver, callback, 0, NULL, NULL);
	bool thrown = false;
	napi_is_exception_pending(env, &thrown);
	if (thrown) {
		napi_value error;
		napi_get_and_clear_last_exception(env, &error);
		napi_fatal_exception(env, error);
	}
	napi_async_destroy(env, context);
	napi_close_handle_scope(env, scope);
}

static void stopAll(void *arg)
{
	napi_env env = arg;
	for (Watch *watch = watching, *next; watch; watch = next) {
		next = watch->next;
		if (watch->env == env)
			unwatch(watch, false);
	}
}

/* whenReadable(fd, callback): callback() once fd can be read (a message waits, or the peer closed its end), unless
 * stopWatching(fd) comes first. It watches a copy of fd (closed with the watch) and keeps no process alive (unref:
 * the caller waits for the worker's exit too, and a timer of its own). */
static napi_value whenReadable(napi_env env, napi_callback_info info)
{
	napi_value argv[2];
	int fd = fdArg(env, info, argv, 2);
	if (fd < 0)
		return NULL;
	napi_valuetype type;
	if (napi_typeof(env, argv[1], &type) != napi_ok || type != napi_function) {
		napi_throw_type_error(env, NULL, "seqpacket.whenReadable(fd, callback)");
		return NULL;
	}
	uv_loop_t *loop;
	if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
		napi_throw_error(env, NULL, "seqpacket: no event loop");
		return NULL;
	}
	Watch *watch = calloc(1, sizeof(*watch));
	if (!watch)
		return throwErrno(env, "calloc");
	watch->fd = fd;
	watch->copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (watch->copy < 0) {
		free(watch);
		return throwErrno(env, "dup");
	}
	int err = uv_poll_init(loop, &watch->poll, watch->copy);
	if (err) {
		close(watch->copy);
		free(watch);
		napi_throw_error(env, NULL, uv_strerror(err));
		return NULL;
	}
	watch->poll.data = watch;
	watch->env = env;
	uv_unref((uv_handle_t *)&watch->poll);
	napi_value name, resource;
	napi_create_string_utf8(env, "seqpacket.whenReadable", NAPI_AUTO_LENGTH, &name);
	/* Node 20 wants a resource object (no NULL). */
	napi_create_object(env, &resource);
	napi_async_init(env, resource, name, &watch->context);
	napi_create_reference(env, argv[1], 1, &watch->callback);
	watch->next = watching;
	watching = watch;
	err = uv_poll_start(&watch->poll, UV_READABLE | UV_DISCONNECT, watchFired);
	if (err) {
		unwatch(watch, true);
		napi_throw_error(env, NULL, uv_strerror(err));
		return NULL;
	}
	return NULL;
}

/* stopWatching(fd): the wait on fd under way, if any, ends without its callback. */
static napi_value stopWatching(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	int fd = fdArg(env, info, argv, 1);
	if (fd < 0)
		return NULL;
	for (Watch *watch = watching; watch; watch = watch->next) {
		if (watch->fd == fd && watch->env == env) {
			unwatch(watch, true);
			break;
		}
	}
	return NULL;
}

static napi_value closeFd(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	int fd = fdArg(env, info, argv, 1);
	if (fd >= 0)
		close(fd);
	return NULL;
}

static napi_value init(napi_env env, napi_value exports)
{
	napi_property_descriptor props[] = {
		{ "pair", NULL, pair, NULL, NULL, NULL, napi_default, NULL },
		{ "send", NULL, sendMessage, NULL, NULL, NULL, napi_default, NULL },
		{ "recvNow", NULL, recvNow, NULL, NULL, NULL, napi_default, NULL },
		{ "whenReadable", NULL, whenReadable, NULL, NULL, NULL, napi_default, NULL },
		{ "stopWatching", NULL, stopWatching, NULL, NULL, NULL, napi_default, NULL },
		{ "close", NULL, closeFd, NULL, NULL, NULL, napi_default, NULL },
	};
	napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
	napi_add_env_cleanup_hook(env, stopAll, env);
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
