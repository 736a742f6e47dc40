/*
 * wgjs native data path (Linux): TUN device I/O and batched UDP for @wgjs/node-tun.
 *
 * Design (see packages/node-tun/README.md, "Native data path"):
 *  - Every fd is non-blocking and watched with uv_poll on Node's own loop: no threads, no
 *    thread pool, no copies between threads.
 *  - A reader drains up to `slots` packets per wake-up into a slab that JS preallocated and
 *    calls JS once per batch with the count; lengths (and UDP source addresses) are written
 *    into typed arrays that are also preallocated and reused. Nothing is allocated on the JS
 *    heap per packet or per batch by this file (the count is a small integer, a V8 Smi).
 *  - Writes are synchronous: EAGAIN means the kernel queue is full and the packet is dropped
 *    (returned as -EAGAIN for the caller to count), the same policy as a kernel WireGuard.
 *
 * UDP address records (ADDR_SIZE = 24 bytes each), shared with src/udp.ts:
 *   [0] family 4 or 6, [1] 0, [2..3] port (big endian), [4..19] address (IPv4 in [4..7],
 *   rest zero), [20..23] IPv6 scope id (little endian, 0 for none).
 * IPv4-mapped IPv6 sources (::ffff:a.b.c.d, seen on dual-stack sockets) are reported as family 4.
 *
 * Plain C against node_api.h (NAPI_VERSION 8), no node-addon-api.
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <uv.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#define ADDR_SIZE 24
/* recvmmsg/sendmmsg take at most UIO_MAXIOV (1024) messages per call. */
#define MAX_SLOTS 1024

#define KIND_TUN 0
#define KIND_UDP 1

typedef struct reader {
  uv_poll_t poll; /* first member: the handle pointer is the reader pointer */
  napi_env env;
  int fd;
  int kind;
  int closing;
  uint8_t *slab;
  size_t slot_size;
  uint32_t slots;
  int32_t *lengths;
  uint8_t *addrs; /* UDP only: ADDR_SIZE bytes per slot */
  napi_ref slab_ref;
  napi_ref lengths_ref;
  napi_ref addrs_ref;
  napi_ref cb_ref;
  napi_async_context async_ctx;
  napi_async_cleanup_hook_handle cleanup;
  struct mmsghdr *msgs;           /* UDP only */
  struct iovec *iovs;             /* UDP only */
  struct sockaddr_storage *names; /* UDP only */
  struct reader *next;
} reader_t;

/* Per-env state (instance data): the list of live readers and sendmmsg scratch space. */
typedef struct {
  reader_t *readers;
  struct mmsghdr *send_msgs;
  struct iovec *send_iovs;
  struct sockaddr_storage *send_names;
  /* fds opened by this env: only these can be closed through the addon (a double close must
   * not hit an fd number reused by someone else), and all are closed when the env goes away. */
  int *fds;
  size_t nfds;
  size_t cap;
} state_t;

/* ------------------------------------------------------------------------------------------ */
/* Errors */

static const char *errno_code(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case EACCES: return "EACCES";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EADDRINUSE: return "EADDRINUSE";
    case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENOMEM: return "ENOMEM";
    case ENOBUFS: return "ENOBUFS";
    case EAGAIN: return "EAGAIN";
    default: return "EIO";
  }
}

/* Throws an Error with .code (errno name) and .errno (negative, as Node does). */
static void throw_sys(napi_env env, int err, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  napi_value code, text, error, num;
  const char *c = errno_code(err);
  napi_create_string_utf8(env, c, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &error);
  napi_create_int32(env, -err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_throw(env, error);
}

static void throw_type(napi_env env, const char *msg) { napi_throw_type_error(env, NULL, msg); }

/* ------------------------------------------------------------------------------------------ */
/* Argument helpers: return 0 and throw on failure. */

static int arg_int(napi_env env, napi_value v, int32_t *out, const char *what) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a number", what);
    throw_type(env, msg);
    return 0;
  }
  return 1;
}

/* A Uint8Array/Int32Array/Buffer: its data pointer and length in elements. */
static int arg_typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len,
                     const char *what) {
  bool is;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &type, len, data, NULL, NULL) != napi_ok || type != want) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a %s", what, want == napi_int32_array ? "Int32Array" : "Uint8Array");
    throw_type(env, msg);
    return 0;
  }
  return 1;
}

static int arg_string(napi_env env, napi_value v, char *buf, size_t size, const char *what) {
  size_t n;
  if (napi_get_value_string_utf8(env, v, buf, size, &n) != napi_ok) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be a string", what);
    throw_type(env, msg);
    return 0;
  }
  if (n >= size - 1) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s is too long", what);
    throw_type(env, msg);
    return 0;
  }
  return 1;
}

static int is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  return t == napi_undefined || t == napi_null;
}

static napi_value int_value(napi_env env, int32_t n) {
  napi_value v;
  napi_create_int32(env, n, &v);
  return v;
}

static state_t *get_state(napi_env env) {
  void *p = NULL;
  napi_get_instance_data(env, &p);
  return (state_t *)p;
}

static int track_fd(state_t *st, int fd) {
  if (st->nfds == st->cap) {
    size_t cap = st->cap ? st->cap * 2 : 16;
    int *n = realloc(st->fds, cap * sizeof *n);
    if (!n) return 0;
    st->fds = n;
    st->cap = cap;
  }
  st->fds[st->nfds++] = fd;
  return 1;
}

static int untrack_fd(state_t *st, int fd) {
  for (size_t i = 0; i < st->nfds; i++) {
    if (st->fds[i] == fd) {
      st->fds[i] = st->fds[--st->nfds];
      return 1;
    }
  }
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Address records */

static void sockaddr_to_rec(const struct sockaddr_storage *ss, uint8_t *rec) {
  memset(rec, 0, ADDR_SIZE);
  if (ss->ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
    rec[0] = 4;
    memcpy(rec + 2, &a->sin_port, 2);
    memcpy(rec + 4, &a->sin_addr, 4);
  } else if (ss->ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
    memcpy(rec + 2, &a->sin6_port, 2);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      rec[0] = 4;
      memcpy(rec + 4, a->sin6_addr.s6_addr + 12, 4);
    } else {
      uint32_t scope = a->sin6_scope_id;
      rec[0] = 6;
      memcpy(rec + 4, &a->sin6_addr, 16);
      rec[20] = scope & 0xff;
      rec[21] = (scope >> 8) & 0xff;
      rec[22] = (scope >> 16) & 0xff;
      rec[23] = (scope >> 24) & 0xff;
    }
  }
}

/* Returns the sockaddr length, or 0 for a record with an unknown family. */
static socklen_t rec_to_sockaddr(const uint8_t *rec, struct sockaddr_storage *ss) {
  if (rec[0] == 4) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    memcpy(&a->sin_port, rec + 2, 2);
    memcpy(&a->sin_addr, rec + 4, 4);
    return sizeof *a;
  }
  if (rec[0] == 6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    memset(a, 0, sizeof *a);
    a->sin6_family = AF_INET6;
    memcpy(&a->sin6_port, rec + 2, 2);
    memcpy(&a->sin6_addr, rec + 4, 16);
    a->sin6_scope_id = (uint32_t)rec[20] | ((uint32_t)rec[21] << 8) | ((uint32_t)rec[22] << 16) |
                       ((uint32_t)rec[23] << 24);
    return sizeof *a;
  }
  return 0;
}

/*
 * Parses "a.b.c.d:port", "[v6]:port" or "[v6%scope]:port" into a record for a socket of
 * family sock_family (6 = dual stack: IPv4 destinations become IPv4-mapped). Returns 0 or -errno.
 */
static int parse_endpoint(const char *s, int sock_family, uint8_t *rec) {
  char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  const char *colon;
  const char *hs;
  size_t hl;
  memset(rec, 0, ADDR_SIZE);
  if (s[0] == '[') {
    const char *close = strchr(s, ']');
    if (!close || close[1] != ':') return -EINVAL;
    hs = s + 1;
    hl = (size_t)(close - hs);
    colon = close + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon) return -EINVAL;
    hs = s;
    hl = (size_t)(colon - s);
  }
  if (hl == 0 || hl >= sizeof host) return -EINVAL;
  memcpy(host, hs, hl);
  host[hl] = 0;
  long port = 0;
  const char *d = colon + 1;
  if (*d == 0) return -EINVAL;
  for (; *d; d++) {
    if (*d < '0' || *d > '9') return -EINVAL;
    port = port * 10 + (*d - '0');
    if (port > 65535) return -EINVAL;
  }
  rec[2] = (uint8_t)(port >> 8);
  rec[3] = (uint8_t)port;

  struct in_addr a4;
  if (inet_pton(AF_INET, host, &a4) == 1) {
    if (sock_family == 6) {
      rec[0] = 6;
      rec[14] = 0xff;
      rec[15] = 0xff;
      memcpy(rec + 16, &a4, 4);
    } else {
      rec[0] = 4;
      memcpy(rec + 4, &a4, 4);
    }
    return 0;
  }
  uint32_t scope = 0;
  char *pct = strchr(host, '%');
  if (pct) {
    *pct = 0;
    const char *sc = pct + 1;
    if (*sc == 0) return -EINVAL;
    char *e2;
    unsigned long n = strtoul(sc, &e2, 10);
    if (*e2 == 0) scope = (uint32_t)n;
    else if ((scope = if_nametoindex(sc)) == 0) return -ENXIO;
  }
  struct in6_addr a6;
  if (inet_pton(AF_INET6, host, &a6) != 1) return -EINVAL;
  if (sock_family == 4) {
    if (!IN6_IS_ADDR_V4MAPPED(&a6)) return -EAFNOSUPPORT;
    rec[0] = 4;
    memcpy(rec + 4, a6.s6_addr + 12, 4);
    return 0;
  }
  rec[0] = 6;
  memcpy(rec + 4, &a6, 16);
  rec[20] = scope & 0xff;
  rec[21] = (scope >> 8) & 0xff;
  rec[22] = (scope >> 16) & 0xff;
  rec[23] = (scope >> 24) & 0xff;
  return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* Readers (uv_poll) */

static reader_t *find_reader(state_t *st, int fd) {
  for (reader_t *r = st->readers; r; r = r->next)
    if (r->fd == fd && !r->closing) return r;
  return NULL;
}

static void reader_free(reader_t *r) {
  free(r->msgs);
  free(r->iovs);
  free(r->names);
  free(r);
}

static void on_reader_closed(uv_handle_t *h) {
  reader_t *r = (reader_t *)h;
  /* Set only when the env is being torn down: tell Node this async cleanup is finished. */
  if (r->cleanup) napi_remove_async_cleanup_hook(r->cleanup);
  reader_free(r);
}

/* Unlinks the reader, releases its JS references and closes its handle (freed in the close cb). */
static void reader_stop(reader_t *r, int from_teardown) {
  if (r->closing) return;
  r->closing = 1;
  state_t *st = get_state(r->env);
  if (st) {
    reader_t **pp = &st->readers;
    while (*pp && *pp != r) pp = &(*pp)->next;
    if (*pp) *pp = r->next;
  }
  uv_poll_stop(&r->poll);
  if (r->slab_ref) napi_delete_reference(r->env, r->slab_ref);
  if (r->lengths_ref) napi_delete_reference(r->env, r->lengths_ref);
  if (r->addrs_ref) napi_delete_reference(r->env, r->addrs_ref);
  if (r->cb_ref) napi_delete_reference(r->env, r->cb_ref);
  if (r->async_ctx) napi_async_destroy(r->env, r->async_ctx);
  r->slab_ref = r->lengths_ref = r->addrs_ref = r->cb_ref = NULL;
  r->async_ctx = NULL;
  if (!from_teardown) {
    napi_remove_async_cleanup_hook(r->cleanup);
    r->cleanup = NULL;
  }
  uv_close((uv_handle_t *)&r->poll, on_reader_closed);
}

static void on_env_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  reader_t *r = (reader_t *)arg;
  (void)handle;
  reader_stop(r, 1);
}

/* Calls the JS callback with (count[, lengths]) inside a proper callback scope (microtasks and
 * nextTicks run afterwards); an exception goes to process 'uncaughtException'. */
static void reader_call(reader_t *r, int32_t count) {
  napi_env env = r->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[2], result;
  size_t argc = 1;
  napi_get_reference_value(env, r->cb_ref, &cb);
  napi_get_global(env, &recv); /* napi_make_callback wants an object receiver */
  napi_create_int32(env, count, &argv[0]);
  if (r->kind == KIND_TUN) {
    napi_get_reference_value(env, r->lengths_ref, &argv[1]);
    argc = 2;
  }
  napi_status s = napi_make_callback(env, r->async_ctx, recv, cb, argc, argv, &result);
  if (s == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(env, &err);
    napi_fatal_exception(env, err);
  }
  napi_close_handle_scope(env, scope);
}

/* Whether an IP packet read into a full buffer claims to be longer than what was read. */
static int truncated_ip(const uint8_t *p, size_t got) {
  size_t want;
  if (got >= 4 && (p[0] >> 4) == 4) want = ((size_t)p[2] << 8) | p[3];
  else if (got >= 6 && (p[0] >> 4) == 6) want = 40 + (((size_t)p[4] << 8) | p[5]);
  else return 0;
  return want > got;
}

static void on_tun_readable(reader_t *r) {
  uint32_t n = 0;
  int32_t err = 0;
  while (n < r->slots) {
    ssize_t got = read(r->fd, r->slab + (size_t)n * r->slot_size, r->slot_size);
    if (got >= 0) {
      /* With IFF_NO_PI the kernel silently truncates a packet longer than the buffer to the
       * buffer's size: report such a packet as -1 (dropped, counted by JS). */
      uint8_t *p = r->slab + (size_t)n * r->slot_size;
      r->lengths[n++] = (size_t)got >= r->slot_size && truncated_ip(p, (size_t)got) ? -1 : (int32_t)got;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) err = -errno;
    break;
  }
  if (n > 0) reader_call(r, (int32_t)n);
  if (err != 0 && !r->closing) {
    /* A TUN read error other than EAGAIN (EBADFD: detached) persists: report once and stop
     * polling rather than spin on a level-triggered fd. */
    reader_call(r, err);
    if (!r->closing) reader_stop(r, 0);
  }
}

static void on_udp_readable(reader_t *r) {
  int got;
  for (uint32_t i = 0; i < r->slots; i++) r->msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
  do got = recvmmsg(r->fd, r->msgs, r->slots, MSG_DONTWAIT, NULL);
  while (got < 0 && errno == EINTR);
  if (got < 0) {
    if (errno != EAGAIN) reader_call(r, -errno);
    return;
  }
  for (int i = 0; i < got; i++) {
    struct msghdr *h = &r->msgs[i].msg_hdr;
    r->lengths[i] = (h->msg_flags & MSG_TRUNC) ? -1 : (int32_t)r->msgs[i].msg_len;
    sockaddr_to_rec(&r->names[i], r->addrs + (size_t)i * ADDR_SIZE);
  }
  if (got > 0) reader_call(r, got);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  reader_t *r = (reader_t *)h;
  (void)events;
  if (r->closing) return;
  if (status < 0) {
    /* libuv has already stopped the handle (POLLERR); errors are -errno on Unix. */
    reader_call(r, status);
    if (!r->closing) reader_stop(r, 0);
    return;
  }
  if (r->kind == KIND_TUN) on_tun_readable(r);
  else on_udp_readable(r);
}

/* Common part of tunStartReading / udpStartReading. */
static napi_value start_reading(napi_env env, int kind, int fd, napi_value slab_v, int32_t slot_size,
                                int32_t slots, napi_value addrs_v, napi_value lengths_v, napi_value cb_v) {
  state_t *st = get_state(env);
  void *slab;
  size_t slab_len;
  if (!arg_typed(env, slab_v, napi_uint8_array, &slab, &slab_len, "slab")) return NULL;
  if (slot_size <= 0 || slots <= 0 || slots > MAX_SLOTS) {
    throw_type(env, "slotSize must be > 0 and slots in 1..1024");
    return NULL;
  }
  if ((size_t)slot_size * (size_t)slots > slab_len) {
    throw_type(env, "slab is smaller than slotSize * slots");
    return NULL;
  }
  napi_valuetype t;
  napi_typeof(env, cb_v, &t);
  if (t != napi_function) {
    throw_type(env, "callback must be a function");
    return NULL;
  }
  if (find_reader(st, fd)) {
    throw_sys(env, EBUSY, "fd %d already has a reader", fd);
    return NULL;
  }
  void *lengths = NULL;
  size_t lengths_len = 0;
  void *addrs = NULL;
  size_t addrs_len = 0;
  if (kind == KIND_UDP) {
    if (!arg_typed(env, addrs_v, napi_uint8_array, &addrs, &addrs_len, "addrSlab")) return NULL;
    if (!arg_typed(env, lengths_v, napi_int32_array, &lengths, &lengths_len, "lengths")) return NULL;
    if (addrs_len < (size_t)slots * ADDR_SIZE || lengths_len < (size_t)slots) {
      throw_type(env, "addrSlab needs 24 bytes and lengths one entry per slot");
      return NULL;
    }
  } else {
    /* TUN: the lengths array is created here, once, and handed to every callback. */
    napi_value ab;
    if (napi_create_arraybuffer(env, (size_t)slots * 4, &lengths, &ab) != napi_ok ||
        napi_create_typedarray(env, napi_int32_array, (size_t)slots, ab, 0, &lengths_v) != napi_ok)
      return NULL;
  }

  reader_t *r = calloc(1, sizeof *r);
  if (!r) {
    throw_sys(env, ENOMEM, "out of memory");
    return NULL;
  }
  r->env = env;
  r->fd = fd;
  r->kind = kind;
  r->slab = slab;
  r->slot_size = (size_t)slot_size;
  r->slots = (uint32_t)slots;
  r->lengths = lengths;
  r->addrs = addrs;
  if (kind == KIND_UDP) {
    r->msgs = calloc((size_t)slots, sizeof *r->msgs);
    r->iovs = calloc((size_t)slots, sizeof *r->iovs);
    r->names = calloc((size_t)slots, sizeof *r->names);
    if (!r->msgs || !r->iovs || !r->names) {
      reader_free(r);
      throw_sys(env, ENOMEM, "out of memory");
      return NULL;
    }
    for (int32_t i = 0; i < slots; i++) {
      r->iovs[i].iov_base = r->slab + (size_t)i * r->slot_size;
      r->iovs[i].iov_len = r->slot_size;
      r->msgs[i].msg_hdr.msg_iov = &r->iovs[i];
      r->msgs[i].msg_hdr.msg_iovlen = 1;
      r->msgs[i].msg_hdr.msg_name = &r->names[i];
    }
  }
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  int e = uv_poll_init(loop, &r->poll, fd);
  if (e != 0) {
    reader_free(r);
    throw_sys(env, -e, "uv_poll_init(fd %d): %s", fd, uv_strerror(e));
    return NULL;
  }
  napi_value name;
  napi_create_string_utf8(env, kind == KIND_TUN ? "wgjs.tun" : "wgjs.udp", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, NULL, name, &r->async_ctx);
  /* The references keep the slab and arrays alive (their memory must not move or be freed
   * while the kernel writes into it); JS must not transfer/detach them. */
  napi_create_reference(env, slab_v, 1, &r->slab_ref);
  napi_create_reference(env, lengths_v, 1, &r->lengths_ref);
  if (addrs_v && kind == KIND_UDP) napi_create_reference(env, addrs_v, 1, &r->addrs_ref);
  napi_create_reference(env, cb_v, 1, &r->cb_ref);
  napi_add_async_cleanup_hook(env, on_env_teardown, r, &r->cleanup);
  r->next = st->readers;
  st->readers = r;
  e = uv_poll_start(&r->poll, UV_READABLE, on_poll);
  if (e != 0) {
    reader_stop(r, 0);
    throw_sys(env, -e, "uv_poll_start(fd %d): %s", fd, uv_strerror(e));
    return NULL;
  }
  return kind == KIND_TUN ? lengths_v : int_value(env, 0);
}

/* stopReading(fd): stops the reader on fd, if any. Returns true if there was one. */
static napi_value js_stop_reading(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || !arg_int(env, argv[0], &fd, "fd")) return NULL;
  reader_t *r = find_reader(get_state(env), fd);
  if (r) reader_stop(r, 0);
  napi_value v;
  napi_get_boolean(env, r != NULL, &v);
  return v;
}

/* setReaderRef(fd, ref): whether the reader on fd keeps the event loop alive (default true). */
static napi_value js_set_reader_ref(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int32_t fd;
  bool ref;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || !arg_int(env, argv[0], &fd, "fd")) return NULL;
  napi_get_value_bool(env, argv[1], &ref);
  reader_t *r = find_reader(get_state(env), fd);
  if (r) {
    if (ref) uv_ref((uv_handle_t *)&r->poll);
    else uv_unref((uv_handle_t *)&r->poll);
  }
  return NULL;
}

static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || !arg_int(env, argv[0], &fd, "fd")) return NULL;
  state_t *st = get_state(env);
  if (!untrack_fd(st, fd)) return int_value(env, -EBADF);
  reader_t *r = find_reader(st, fd);
  /* Stop polling before the fd number can be reused by another open. */
  if (r) reader_stop(r, 0);
  int rc = close(fd);
  return int_value(env, rc == 0 ? 0 : -errno);
}

/* ------------------------------------------------------------------------------------------ */
/* TUN */

/* tunOpen(name, mtu?) -> {fd, name} */
static napi_value js_tun_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  char name[64];
  int32_t mtu = 0;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1 || !arg_string(env, argv[0], name, sizeof name, "name")) return NULL;
  if (argc >= 2 && !is_nullish(env, argv[1]) && !arg_int(env, argv[1], &mtu, "mtu")) return NULL;
  if (strlen(name) >= IFNAMSIZ) {
    throw_sys(env, EINVAL, "tunOpen: interface name \"%s\" is longer than %d characters", name, IFNAMSIZ - 1);
    return NULL;
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT || e == ENODEV || e == ENXIO)
      throw_sys(env, e, "tunOpen: cannot open /dev/net/tun: %s (the tun driver is missing: load it with "
                "`modprobe tun`, or create the node with `mknod /dev/net/tun c 10 200`)", strerror(e));
    else if (e == EACCES || e == EPERM)
      throw_sys(env, e, "tunOpen: cannot open /dev/net/tun: %s (needs root or access to the device node)",
                strerror(e));
    else
      throw_sys(env, e, "tunOpen: cannot open /dev/net/tun: %s", strerror(e));
    return NULL;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  memcpy(ifr.ifr_name, name, strlen(name) + 1); /* length checked above */
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    if (e == EPERM || e == EACCES)
      throw_sys(env, e, "tunOpen: cannot create TUN \"%s\": %s (creating a TUN device needs root or "
                "CAP_NET_ADMIN, or a persistent TUN owned by this user)", name, strerror(e));
    else if (e == EBUSY)
      throw_sys(env, e, "tunOpen: interface name \"%s\" is in use: a TUN device of that name is already "
                "attached to another process (EBUSY)", name);
    else if (e == EINVAL && name[0] && if_nametoindex(name) != 0)
      throw_sys(env, EBUSY, "tunOpen: interface name \"%s\" is in use by a device that is not a TUN", name);
    else
      throw_sys(env, e, "tunOpen: TUNSETIFF \"%s\": %s", name, strerror(e));
    return NULL;
  }
  if (mtu > 0) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) s = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq mr;
    memset(&mr, 0, sizeof mr);
    memcpy(mr.ifr_name, ifr.ifr_name, IFNAMSIZ);
    mr.ifr_mtu = mtu;
    if (s < 0 || ioctl(s, SIOCSIFMTU, &mr) < 0) {
      int e = errno;
      if (s >= 0) close(s);
      close(fd);
      throw_sys(env, e, "tunOpen: cannot set MTU %d on \"%s\": %s", mtu, ifr.ifr_name, strerror(e));
      return NULL;
    }
    close(s);
  }
  if (!track_fd(get_state(env), fd)) {
    close(fd);
    throw_sys(env, ENOMEM, "out of memory");
    return NULL;
  }
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_create_int32(env, fd, &v);
  napi_set_named_property(env, obj, "fd", v);
  napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, obj, "name", v);
  return obj;
}

/* tunStartReading(fd, slab, slotSize, slots, callback(count, lengths)) -> lengths (Int32Array) */
static napi_value js_tun_start_reading(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int32_t fd, slot_size, slots;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) {
    throw_type(env, "tunStartReading(fd, slab, slotSize, slots, callback)");
    return NULL;
  }
  if (!arg_int(env, argv[0], &fd, "fd") || !arg_int(env, argv[2], &slot_size, "slotSize") ||
      !arg_int(env, argv[3], &slots, "slots"))
    return NULL;
  return start_reading(env, KIND_TUN, fd, argv[1], slot_size, slots, NULL, NULL, argv[4]);
}

/* Shared by tunWrite and udpSend: (fd, buf, off, len) validated. */
static int io_args(napi_env env, napi_value *argv, int32_t *fd, uint8_t **p, int32_t *len) {
  void *data;
  size_t n;
  int32_t off;
  if (!arg_int(env, argv[0], fd, "fd") || !arg_typed(env, argv[1], napi_uint8_array, &data, &n, "buf") ||
      !arg_int(env, argv[2], &off, "off") || !arg_int(env, argv[3], len, "len"))
    return 0;
  if (off < 0 || *len < 0 || (size_t)off + (size_t)*len > n) {
    napi_throw_range_error(env, NULL, "off/len outside the buffer");
    return 0;
  }
  *p = (uint8_t *)data + off;
  return 1;
}

/* tunWrite(fd, buf, off, len) -> bytes written or -errno (-EAGAIN: queue full, dropped) */
static napi_value js_tun_write(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t fd, len;
  uint8_t *p;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) {
    throw_type(env, "tunWrite(fd, buf, off, len)");
    return NULL;
  }
  if (!io_args(env, argv, &fd, &p, &len)) return NULL;
  ssize_t w;
  do w = write(fd, p, (size_t)len);
  while (w < 0 && errno == EINTR);
  return int_value(env, w >= 0 ? (int32_t)w : -errno);
}

/* ------------------------------------------------------------------------------------------ */
/* UDP */

/* udpOpen(family 4|6, bindAddr|null, port, rcvbuf?, sndbuf?) -> {fd, port}; 6 = dual stack */
static napi_value js_udp_open(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int32_t family, port, rcvbuf = 0, sndbuf = 0;
  char addr[INET6_ADDRSTRLEN + IF_NAMESIZE + 2] = "";
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) {
    throw_type(env, "udpOpen(family, bindAddr, port, rcvbuf?, sndbuf?)");
    return NULL;
  }
  if (!arg_int(env, argv[0], &family, "family") || !arg_int(env, argv[2], &port, "port")) return NULL;
  if (!is_nullish(env, argv[1]) && !arg_string(env, argv[1], addr, sizeof addr, "bindAddr")) return NULL;
  if (argc >= 4 && !is_nullish(env, argv[3]) && !arg_int(env, argv[3], &rcvbuf, "rcvbuf")) return NULL;
  if (argc >= 5 && !is_nullish(env, argv[4]) && !arg_int(env, argv[4], &sndbuf, "sndbuf")) return NULL;
  if ((family != 4 && family != 6) || port < 0 || port > 65535) {
    throw_type(env, "udpOpen: family must be 4 or 6 and port in 0..65535");
    return NULL;
  }
  /* Parse the bind address with the endpoint parser (it wants a port). */
  char ep[sizeof addr + 16];
  uint8_t rec[ADDR_SIZE];
  const char *host = addr[0] ? addr : (family == 6 ? "::" : "0.0.0.0");
  if (strchr(host, ':')) snprintf(ep, sizeof ep, "[%s]:%d", host, port);
  else snprintf(ep, sizeof ep, "%s:%d", host, port);
  int pe = parse_endpoint(ep, family, rec);
  if (pe < 0) {
    throw_sys(env, -pe, "udpOpen: bad bind address \"%s\" for an IPv%d socket", host, family);
    return NULL;
  }
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    int e = errno;
    throw_sys(env, e, "udpOpen: socket(IPv%d): %s", family, strerror(e));
    return NULL;
  }
  int zero = 0;
  if (family == 6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  /* Best effort: the kernel caps these at net.core.[rw]mem_max (the FORCE variants need root). */
  if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) < 0)
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  struct sockaddr_storage ss;
  socklen_t sl = rec_to_sockaddr(rec, &ss);
  if (bind(fd, (struct sockaddr *)&ss, sl) < 0) {
    int e = errno;
    close(fd);
    if (e == EADDRINUSE)
      throw_sys(env, e, "udpOpen: cannot bind UDP %s: address already in use (EADDRINUSE)", ep);
    else
      throw_sys(env, e, "udpOpen: cannot bind UDP %s: %s", ep, strerror(e));
    return NULL;
  }
  sl = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &sl);
  if (!track_fd(get_state(env), fd)) {
    close(fd);
    throw_sys(env, ENOMEM, "out of memory");
    return NULL;
  }
  int bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
  napi_value obj, v;
  napi_create_object(env, &obj);
  napi_create_int32(env, fd, &v);
  napi_set_named_property(env, obj, "fd", v);
  napi_create_int32(env, bound, &v);
  napi_set_named_property(env, obj, "port", v);
  return obj;
}

/* udpStartReading(fd, slab, slotSize, slots, addrSlab, lengths, callback(count)) */
static napi_value js_udp_start_reading(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  int32_t fd, slot_size, slots;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 7) {
    throw_type(env, "udpStartReading(fd, slab, slotSize, slots, addrSlab, lengths, callback)");
    return NULL;
  }
  if (!arg_int(env, argv[0], &fd, "fd") || !arg_int(env, argv[2], &slot_size, "slotSize") ||
      !arg_int(env, argv[3], &slots, "slots"))
    return NULL;
  return start_reading(env, KIND_UDP, fd, argv[1], slot_size, slots, argv[4], argv[5], argv[6]);
}

/* udpSend(fd, buf, off, len, addrs, addrOff) -> bytes sent or -errno */
static napi_value js_udp_send(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  int32_t fd, len, aoff;
  uint8_t *p;
  void *addrs;
  size_t alen;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 6) {
    throw_type(env, "udpSend(fd, buf, off, len, addrs, addrOff)");
    return NULL;
  }
  if (!io_args(env, argv, &fd, &p, &len) ||
      !arg_typed(env, argv[4], napi_uint8_array, &addrs, &alen, "addrs") || !arg_int(env, argv[5], &aoff, "addrOff"))
    return NULL;
  if (aoff < 0 || (size_t)aoff + ADDR_SIZE > alen) {
    napi_throw_range_error(env, NULL, "addrOff outside addrs");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sl = rec_to_sockaddr((uint8_t *)addrs + aoff, &ss);
  if (sl == 0) return int_value(env, -EAFNOSUPPORT);
  ssize_t w;
  do w = sendto(fd, p, (size_t)len, MSG_DONTWAIT, (struct sockaddr *)&ss, sl);
  while (w < 0 && errno == EINTR);
  return int_value(env, w >= 0 ? (int32_t)w : -errno);
}

/* udpSendBatch(fd, slab, offsets, lengths, addrs, count, start?) -> datagrams sent or -errno
 * (for the first unsent one). Entry i is slab[offsets[i], +lengths[i]) to record addrs[i*24]. */
static napi_value js_udp_send_batch(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  int32_t fd, count, start = 0;
  void *slab, *offs, *lens, *addrs;
  size_t slab_n, offs_n, lens_n, addrs_n;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 6) {
    throw_type(env, "udpSendBatch(fd, slab, offsets, lengths, addrs, count, start?)");
    return NULL;
  }
  if (!arg_int(env, argv[0], &fd, "fd") || !arg_typed(env, argv[1], napi_uint8_array, &slab, &slab_n, "slab") ||
      !arg_typed(env, argv[2], napi_int32_array, &offs, &offs_n, "offsets") ||
      !arg_typed(env, argv[3], napi_int32_array, &lens, &lens_n, "lengths") ||
      !arg_typed(env, argv[4], napi_uint8_array, &addrs, &addrs_n, "addrs") || !arg_int(env, argv[5], &count, "count"))
    return NULL;
  if (argc >= 7 && !is_nullish(env, argv[6]) && !arg_int(env, argv[6], &start, "start")) return NULL;
  if (start < 0 || count < start || (size_t)count > offs_n || (size_t)count > lens_n ||
      (size_t)count * ADDR_SIZE > addrs_n) {
    napi_throw_range_error(env, NULL, "count/start outside offsets, lengths or addrs");
    return NULL;
  }
  state_t *st = get_state(env);
  const int32_t *o = offs, *l = lens;
  int total = 0;
  while (start < count) {
    int n = count - start > MAX_SLOTS ? MAX_SLOTS : count - start;
    for (int i = 0; i < n; i++) {
      int k = start + i;
      if (o[k] < 0 || l[k] < 0 || (size_t)o[k] + (size_t)l[k] > slab_n) {
        napi_throw_range_error(env, NULL, "an offset/length lies outside the slab");
        return NULL;
      }
      st->send_iovs[i].iov_base = (uint8_t *)slab + o[k];
      st->send_iovs[i].iov_len = (size_t)l[k];
      struct msghdr *h = &st->send_msgs[i].msg_hdr;
      h->msg_iov = &st->send_iovs[i];
      h->msg_iovlen = 1;
      h->msg_name = &st->send_names[i];
      h->msg_namelen = rec_to_sockaddr((uint8_t *)addrs + (size_t)k * ADDR_SIZE, &st->send_names[i]);
      h->msg_control = NULL;
      h->msg_controllen = 0;
      h->msg_flags = 0;
      if (h->msg_namelen == 0) {
        /* Unknown family: send what precedes it, then report this one. */
        n = i;
        if (n == 0) return int_value(env, total > 0 ? total : -EAFNOSUPPORT);
        break;
      }
    }
    int sent;
    do sent = sendmmsg(fd, st->send_msgs, (unsigned)n, MSG_DONTWAIT);
    while (sent < 0 && errno == EINTR);
    if (sent < 0) return int_value(env, total > 0 ? total : -errno);
    total += sent;
    start += sent;
    if (sent < n) break;
  }
  return int_value(env, total);
}

/* copyBytes(dst, dstOff, src, srcOff, len): memmove between two typed arrays without the view
 * object that `dst.set(src.subarray(...))` would allocate. Used to queue datagrams for sendmmsg. */
static napi_value js_copy_bytes(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  void *dst, *src;
  size_t dn, sn;
  int32_t doff, soff, len;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5 || !arg_typed(env, argv[0], napi_uint8_array, &dst, &dn, "dst") ||
      !arg_int(env, argv[1], &doff, "dstOff") || !arg_typed(env, argv[2], napi_uint8_array, &src, &sn, "src") ||
      !arg_int(env, argv[3], &soff, "srcOff") || !arg_int(env, argv[4], &len, "len"))
    return NULL;
  if (doff < 0 || soff < 0 || len < 0 || (size_t)doff + (size_t)len > dn || (size_t)soff + (size_t)len > sn) {
    napi_throw_range_error(env, NULL, "copyBytes: range outside an array");
    return NULL;
  }
  if (len > 0) memmove((uint8_t *)dst + doff, (uint8_t *)src + soff, (size_t)len);
  return NULL;
}

/* encodeEndpoint(str, sockFamily 4|6, out, off) -> 0 or -errno: writes the 24-byte record. */
static napi_value js_encode_endpoint(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  char s[INET6_ADDRSTRLEN + IF_NAMESIZE + 16];
  int32_t fam, off;
  void *out;
  size_t n;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) {
    throw_type(env, "encodeEndpoint(str, sockFamily, out, off)");
    return NULL;
  }
  size_t sl;
  if (napi_get_value_string_utf8(env, argv[0], s, sizeof s, &sl) != napi_ok) {
    throw_type(env, "endpoint must be a string");
    return NULL;
  }
  if (!arg_int(env, argv[1], &fam, "sockFamily") || !arg_typed(env, argv[2], napi_uint8_array, &out, &n, "out") ||
      !arg_int(env, argv[3], &off, "off"))
    return NULL;
  if (off < 0 || (size_t)off + ADDR_SIZE > n) {
    napi_throw_range_error(env, NULL, "off outside out");
    return NULL;
  }
  if (sl >= sizeof s - 1) return int_value(env, -EINVAL);
  return int_value(env, parse_endpoint(s, fam, (uint8_t *)out + off));
}

/* formatEndpoint(rec, off) -> "a.b.c.d:port" | "[v6]:port" | "[fe80::1%ifname]:port", formatted
 * by libuv exactly as node:dgram formats rinfo.address. */
static napi_value js_format_endpoint(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  void *data;
  size_t n;
  int32_t off;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2 || !arg_typed(env, argv[0], napi_uint8_array, &data, &n, "rec") || !arg_int(env, argv[1], &off, "off"))
    return NULL;
  if (off < 0 || (size_t)off + ADDR_SIZE > n) {
    napi_throw_range_error(env, NULL, "off outside rec");
    return NULL;
  }
  const uint8_t *rec = (const uint8_t *)data + off;
  char ip[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
  char out[sizeof ip + 16];
  int port = (rec[2] << 8) | rec[3];
  if (rec[0] == 4) {
    uv_inet_ntop(AF_INET, rec + 4, ip, sizeof ip);
    snprintf(out, sizeof out, "%s:%d", ip, port);
  } else if (rec[0] == 6) {
    uv_inet_ntop(AF_INET6, rec + 4, ip, sizeof ip);
    uint32_t scope = (uint32_t)rec[20] | ((uint32_t)rec[21] << 8) | ((uint32_t)rec[22] << 16) |
                     ((uint32_t)rec[23] << 24);
    /* node:dgram appends %ifname to link-local addresses only (src/tcp_wrap.cc AddressToJS). */
    if (scope > 0 && rec[4] == 0xfe && (rec[5] & 0xc0) == 0x80) {
      size_t l = strlen(ip);
      size_t room = sizeof ip - l - 1;
      ip[l] = '%';
      if (uv_if_indextoiid(scope, ip + l + 1, &room) != 0) ip[l] = 0;
    }
    snprintf(out, sizeof out, "[%s]:%d", ip, port);
  } else {
    return NULL;
  }
  napi_value v;
  napi_create_string_utf8(env, out, NAPI_AUTO_LENGTH, &v);
  return v;
}

/* js tunStartReading/udpStartReading wrappers are above; tunClose/udpClose share close_fd. */

/* ------------------------------------------------------------------------------------------ */
/* Module */

static void free_state(napi_env env, void *data, void *hint) {
  state_t *st = data;
  (void)env;
  (void)hint;
  /* The env is going away: its readers were stopped by their cleanup hooks; close its fds. */
  for (size_t i = 0; i < st->nfds; i++) close(st->fds[i]);
  free(st->fds);
  free(st->send_msgs);
  free(st->send_iovs);
  free(st->send_names);
  free(st);
}

NAPI_MODULE_INIT() {
  state_t *st = calloc(1, sizeof *st);
  if (!st) return NULL;
  st->send_msgs = calloc(MAX_SLOTS, sizeof *st->send_msgs);
  st->send_iovs = calloc(MAX_SLOTS, sizeof *st->send_iovs);
  st->send_names = calloc(MAX_SLOTS, sizeof *st->send_names);
  if (!st->send_msgs || !st->send_iovs || !st->send_names) {
    free_state(env, st, NULL);
    return NULL;
  }
  napi_set_instance_data(env, st, free_state, NULL);
  static const struct {
    const char *name;
    napi_callback fn;
  } fns[] = {
      {"tunOpen", js_tun_open},
      {"tunStartReading", js_tun_start_reading},
      {"tunWrite", js_tun_write},
      {"tunClose", close_fd},
      {"udpOpen", js_udp_open},
      {"udpStartReading", js_udp_start_reading},
      {"udpSend", js_udp_send},
      {"udpSendBatch", js_udp_send_batch},
      {"udpClose", close_fd},
      {"stopReading", js_stop_reading},
      {"setReaderRef", js_set_reader_ref},
      {"encodeEndpoint", js_encode_endpoint},
      {"formatEndpoint", js_format_endpoint},
      {"copyBytes", js_copy_bytes},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f);
    napi_set_named_property(env, exports, fns[i].name, f);
  }
  napi_value v;
  napi_create_int32(env, ADDR_SIZE, &v);
  napi_set_named_property(env, exports, "ADDR_SIZE", v);
  napi_create_int32(env, MAX_SLOTS, &v);
  napi_set_named_property(env, exports, "MAX_SLOTS", v);
  return exports;
}
