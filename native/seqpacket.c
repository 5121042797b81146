/* seqpacket: the socket pair the server drives `criu swrk` over (CRIU's RPC, images/rpc.proto).
 *
 * criu swrk reads one protobuf message per recv() and needs the message boundaries of an AF_UNIX SOCK_SEQPACKET
 * socket, which Node cannot make (net wraps only stream sockets). pair() makes one (both ends close-on-exec; the
 * worker's end becomes its fd 3 through spawn's stdio, which clears the flag), send() writes one message (a
 * request is ~1 KB, written into an empty socket: it never waits), recvNow() takes the worker's answer once the
 * worker has exited (never waits either), close() closes our end.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <node_api.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
		{ "close", NULL, closeFd, NULL, NULL, NULL, napi_default, NULL },
	};
	napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
