#include "udp-socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/filter.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "args.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace nfvkit {
namespace {

// One socket. Its buffers for mmsghdr/iovec/addresses are allocated once at open, so a
// batch call allocates nothing.
struct UdpSocket {
  int fd = -1;
  napi_env env = nullptr;
  // The pool it reads into and sends from: a strong reference keeps the SharedArrayBuffer
  // alive for as long as the socket may touch it.
  napi_ref pool_ref = nullptr;
  uint8_t* pool = nullptr;
  size_t pool_length = 0;
  bool gso = true;
  // Readiness on the calling thread's loop.
  uv_poll_t* poll = nullptr;
  napi_ref callback = nullptr;
  napi_ref self = nullptr;
  napi_async_context async = nullptr;
  napi_async_cleanup_hook_handle cleanup = nullptr;
  // Set by udpClose: the fd may stay open until libuv lets go of the poll handle, but no
  // entry point may use the socket any more.
  bool closed = false;
  // Test hook: the next send stops after `fault_after` datagrams with `fault_errno`.
  int fault_errno = 0;
  unsigned fault_after = 0;
  mmsghdr msgs[kMaxBatch];
  iovec iov[kMaxBatch];
  sockaddr_in addrs[kMaxBatch];
  uint16_t msg_first[kMaxBatch];  // first descriptor of each message
  uint16_t msg_count[kMaxBatch];  // descriptors in each message (> 1 with GSO)
  alignas(cmsghdr) char control[kMaxBatch][CMSG_SPACE(sizeof(uint16_t))];
};

void ReleasePool(UdpSocket* s) {
  if (s->pool_ref != nullptr) napi_delete_reference(s->env, s->pool_ref);
  s->pool_ref = nullptr;
  s->pool = nullptr;
  s->pool_length = 0;
}

void DropPollRefs(UdpSocket* s) {
  if (s->callback != nullptr) napi_delete_reference(s->env, s->callback);
  if (s->self != nullptr) napi_delete_reference(s->env, s->self);
  s->callback = nullptr;
  s->self = nullptr;
}

void OnPollClosed(uv_handle_t* h) {
  auto* s = static_cast<UdpSocket*>(h->data);
  delete reinterpret_cast<uv_poll_t*>(h);
  if (s == nullptr) return;  // the socket was freed first (finalizer after close)
  s->poll = nullptr;
  if (s->fd >= 0) ::close(s->fd);
  s->fd = -1;
  if (s->cleanup != nullptr) napi_remove_async_cleanup_hook(s->cleanup);
  s->cleanup = nullptr;
}

// Stops polling and closes the socket; with a poll handle the fd is closed once libuv has
// let go of it (OnPollClosed). Safe to call twice.
void CloseSocket(UdpSocket* s, bool in_teardown) {
  s->closed = true;
  if (s->poll != nullptr) {
    // A second close (or teardown after udpClose) finds the handle closing already: libuv
    // asserts on stopping a closing handle.
    if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(s->poll))) {
      uv_poll_stop(s->poll);
      uv_close(reinterpret_cast<uv_handle_t*>(s->poll), OnPollClosed);
    }
  } else if (s->fd >= 0) {
    ::close(s->fd);
    s->fd = -1;
  }
  if (!in_teardown) {
    DropPollRefs(s);
    ReleasePool(s);
    if (s->async != nullptr) napi_async_destroy(s->env, s->async);
    s->async = nullptr;
  }
}

// The environment (a worker, or the main thread at exit) is going away while a poll handle
// is open: close it from here, as libuv requires, before the addon is unloaded.
void OnAsyncCleanup(napi_async_cleanup_hook_handle handle, void* arg) {
  auto* s = static_cast<UdpSocket*>(arg);
  s->cleanup = handle;
  CloseSocket(s, true);
  if (s->poll == nullptr) {
    napi_remove_async_cleanup_hook(handle);
    s->cleanup = nullptr;
  }
}

// The handle was collected. Polling had stopped (an active poll keeps the handle alive),
// but the socket may never have been closed: close it, let go of the pool.
void Finalize(napi_env, void* data, void*) {
  auto* s = static_cast<UdpSocket*>(data);
  if (s->poll != nullptr) {
    auto* h = reinterpret_cast<uv_handle_t*>(s->poll);
    h->data = nullptr;  // OnPollClosed then only frees the handle
    if (!uv_is_closing(h)) {
      uv_poll_stop(s->poll);
      uv_close(h, OnPollClosed);
    }
  }
  if (s->fd >= 0) ::close(s->fd);
  DropPollRefs(s);
  ReleasePool(s);
  if (s->async != nullptr) napi_async_destroy(s->env, s->async);
  if (s->cleanup != nullptr) napi_remove_async_cleanup_hook(s->cleanup);
  delete s;
}

// Tells socket handles from every other wrapped object (a waiter, another addon's object).
const napi_type_tag kUdpSocketTag = {0x6e6676b17564701dULL, 0x9c3f5a2e41d8b706ULL};

UdpSocket* Unwrap(napi_env env, napi_value v, bool open = true) {
  auto* s = static_cast<UdpSocket*>(UnwrapTagged(env, v, &kUdpSocketTag, "socket must be a handle returned by udpOpen"));
  if (s == nullptr) return nullptr;
  if (open && (s->closed || s->fd < 0)) {
    ThrowArgument(env, false, "socket is closed");
    return nullptr;
  }
  return s;
}

bool ParseIpv4(napi_env env, napi_value v, const char* name, in_addr* out) {
  char text[64];
  if (!GetString(env, v, name, text, sizeof text)) return false;
  if (inet_pton(AF_INET, text, out) != 1) {
    char msg[128];
    snprintf(msg, sizeof msg, "%s must be an IPv4 address, got '%s'", name, text);
    ThrowArgument(env, true, msg);
    return false;
  }
  return true;
}

// udpOpen(address, port, reusePort, receiveBufferBytes, sendBufferBytes, pool: Uint8Array)
napi_value UdpOpen(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (!Args(env, info, 6, argv)) return nullptr;
  in_addr addr;
  int64_t port, rcvbuf, sndbuf;
  bool reuse;
  void* pool;
  size_t pool_length;
  napi_value unused;
  if (!ParseIpv4(env, argv[0], "address", &addr) || !GetInt64(env, argv[1], 0, 65535, "port", &port) ||
      !GetBool(env, argv[2], "reusePort", &reuse) || !GetInt64(env, argv[3], 0, 1 << 30, "receiveBufferBytes", &rcvbuf) ||
      !GetInt64(env, argv[4], 0, 1 << 30, "sendBufferBytes", &sndbuf) ||
      !GetTypedArray(env, argv[5], napi_uint8_array, "pool", &pool, &pool_length, &unused))
    return nullptr;
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ThrowErrno(env, "socket", errno);
    return nullptr;
  }
  int one = 1, r = 0;
  const char* step = "setsockopt";
  if (reuse) r = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  int rb = static_cast<int>(rcvbuf), sb = static_cast<int>(sndbuf);
  if (r == 0 && rb > 0) r = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rb, sizeof rb);
  if (r == 0 && sb > 0) r = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sb, sizeof sb);
  if (r == 0) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr = addr;
    sa.sin_port = htons(static_cast<uint16_t>(port));
    step = "bind";
    r = bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
  }
  if (r != 0) {
    int err = errno;
    ::close(fd);
    ThrowErrno(env, step, err);
    return nullptr;
  }
  auto* s = new (std::nothrow) UdpSocket();
  if (s == nullptr) {
    ::close(fd);
    napi_throw_error(env, "NFVKIT_ERR_NATIVE", "out of memory");
    return nullptr;
  }
  s->fd = fd;
  s->env = env;
  s->pool = static_cast<uint8_t*>(pool);
  s->pool_length = pool_length;
  napi_create_reference(env, argv[5], 1, &s->pool_ref);
  napi_value handle;
  napi_create_object(env, &handle);
  if (napi_type_tag_object(env, handle, &kUdpSocketTag) != napi_ok || napi_wrap(env, handle, s, Finalize, nullptr, nullptr) != napi_ok) {
    ReleasePool(s);
    ::close(fd);
    delete s;
    napi_throw_error(env, "NFVKIT_ERR_NATIVE", "napi_wrap failed");
    return nullptr;
  }
  return handle;
}

// udpConnect(socket, address, port): fixes the default destination (descriptor address 0).
napi_value UdpConnect(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!Args(env, info, 3, argv)) return nullptr;
  UdpSocket* s = Unwrap(env, argv[0]);
  in_addr addr;
  int64_t port;
  if (s == nullptr || !ParseIpv4(env, argv[1], "address", &addr) || !GetInt64(env, argv[2], 1, 65535, "port", &port)) return nullptr;
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr = addr;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(s->fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) ThrowErrno(env, "connect", errno);
  return Undefined(env);
}

// udpInfo(socket) → { address, port, receiveBufferBytes, sendBufferBytes, fd }
napi_value UdpInfo(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, 1, argv)) return nullptr;
  UdpSocket* s = Unwrap(env, argv[0]);
  if (s == nullptr) return nullptr;
  sockaddr_in sa{};
  socklen_t len = sizeof sa;
  int rb = 0, sb = 0;
  socklen_t il = sizeof rb;
  if (getsockname(s->fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0 || getsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &rb, &il) != 0 ||
      getsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sb, &il) != 0) {
    ThrowErrno(env, "getsockname", errno);
    return nullptr;
  }
  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &sa.sin_addr, text, sizeof text);
  napi_value out, v;
  napi_create_object(env, &out);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, out, "address", v);
  napi_set_named_property(env, out, "port", Number(env, ntohs(sa.sin_port)));
  napi_set_named_property(env, out, "receiveBufferBytes", Number(env, rb));
  napi_set_named_property(env, out, "sendBufferBytes", Number(env, sb));
  napi_set_named_property(env, out, "fd", Number(env, s->fd));
  return out;
}

// Checks the descriptor array and count; every descriptor must lie inside the pool.
bool CheckDescriptors(napi_env env, UdpSocket* s, napi_value desc_v, napi_value count_v, bool rx, uint32_t** desc, unsigned* count) {
  void* data;
  size_t words;
  napi_value unused;
  int64_t n;
  if (!GetTypedArray(env, desc_v, napi_uint32_array, "descriptors", &data, &words, &unused) ||
      !GetInt64(env, count_v, 0, kMaxBatch, "count", &n))
    return false;
  if (static_cast<size_t>(n) * kDescWords > words) {
    ThrowArgument(env, true, "count exceeds the descriptors array");
    return false;
  }
  auto* d = static_cast<uint32_t*>(data);
  for (int64_t i = 0; i < n; i++) {
    const uint32_t* e = d + i * kDescWords;
    uint64_t off = e[0], len = e[1];  // offset and capacity (rx) or length (tx)
    if (len > kMaxDatagram + (rx ? 0 : 0) || off + len > s->pool_length || (rx && len == 0)) {
      char msg[160];
      snprintf(msg, sizeof msg, "descriptor %lld (offset %llu, %s %llu) lies outside the %zu-byte pool or the datagram limit",
               static_cast<long long>(i), static_cast<unsigned long long>(off), rx ? "capacity" : "length",
               static_cast<unsigned long long>(len), s->pool_length);
      ThrowArgument(env, true, msg);
      return false;
    }
  }
  *desc = d;
  *count = static_cast<unsigned>(n);
  return true;
}

// udpReceive(socket, descriptors, count) → datagrams received (0: none waiting), or -errno.
napi_value UdpReceive(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!Args(env, info, 3, argv)) return nullptr;
  UdpSocket* s = Unwrap(env, argv[0]);
  uint32_t* d;
  unsigned n;
  if (s == nullptr || !CheckDescriptors(env, s, argv[1], argv[2], true, &d, &n)) return nullptr;
  if (n == 0) return Number(env, 0);
  for (unsigned i = 0; i < n; i++) {
    uint32_t* e = d + i * kDescWords;
    s->iov[i].iov_base = s->pool + e[kRxOffset];
    s->iov[i].iov_len = e[kRxCapacity];
    msghdr& h = s->msgs[i].msg_hdr;
    h.msg_name = &s->addrs[i];
    h.msg_namelen = sizeof(sockaddr_in);
    h.msg_iov = &s->iov[i];
    h.msg_iovlen = 1;
    h.msg_control = nullptr;
    h.msg_controllen = 0;
    h.msg_flags = 0;
    s->msgs[i].msg_len = 0;
  }
  int got;
  do got = recvmmsg(s->fd, s->msgs, n, MSG_DONTWAIT | MSG_TRUNC, nullptr);
  while (got < 0 && errno == EINTR);
  if (got < 0) return Number(env, errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno);
  for (int i = 0; i < got; i++) {
    uint32_t* e = d + i * kDescWords;
    const sockaddr_in& a = s->addrs[i];
    e[kRxLength] = s->msgs[i].msg_len;
    e[kRxAddress] = ntohl(a.sin_addr.s_addr);
    e[kRxPort] = ntohs(a.sin_port);
    e[kRxFlags] = (s->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0 ? kRxFlagTruncated : 0;
  }
  return Number(env, got);
}

void SetMessage(UdpSocket* s, unsigned m, uint32_t* d, unsigned first, unsigned count, unsigned segment) {
  const uint32_t* e = d + first * kDescWords;
  msghdr& h = s->msgs[m].msg_hdr;
  if (e[kTxAddress] != 0) {
    sockaddr_in& a = s->addrs[m];
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(e[kTxAddress]);
    a.sin_port = htons(static_cast<uint16_t>(e[kTxPort]));
    h.msg_name = &a;
    h.msg_namelen = sizeof a;
  } else {
    h.msg_name = nullptr;
    h.msg_namelen = 0;
  }
  h.msg_iov = &s->iov[first];
  h.msg_iovlen = count;
  h.msg_flags = 0;
  if (count > 1) {
    h.msg_control = s->control[m];
    h.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
    cmsghdr* c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_UDP;
    c->cmsg_type = UDP_SEGMENT;
    c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t size = static_cast<uint16_t>(segment);
    memcpy(CMSG_DATA(c), &size, sizeof size);
  } else {
    h.msg_control = nullptr;
    h.msg_controllen = 0;
  }
  s->msg_first[m] = static_cast<uint16_t>(first);
  s->msg_count[m] = static_cast<uint16_t>(count);
}

// Groups descriptors [from, n) into messages numbered from `m`: with GSO, a run of
// datagrams to one destination whose sizes are equal (the last may be shorter) becomes one
// message the kernel segments. Returns the number after the last message.
unsigned BuildMessages(UdpSocket* s, uint32_t* d, unsigned from, unsigned n, bool gso, unsigned m) {
  for (unsigned i = from; i < n;) {
    const uint32_t* e = d + i * kDescWords;
    unsigned run = 1, total = e[kTxLength];
    if (gso && e[kTxLength] > 0) {
      while (i + run < n && run < kMaxGsoSegments) {
        const uint32_t* f = d + (i + run) * kDescWords;
        if (f[kTxAddress] != e[kTxAddress] || f[kTxPort] != e[kTxPort] || f[kTxLength] > e[kTxLength] || f[kTxLength] == 0 ||
            total + f[kTxLength] > kMaxDatagram)
          break;
        total += f[kTxLength];
        run++;
        if (f[kTxLength] < e[kTxLength]) break;  // a shorter one ends the run
      }
    }
    SetMessage(s, m++, d, i, run, e[kTxLength]);
    i += run;
  }
  return m;
}

void MarkMessage(UdpSocket* s, uint32_t* d, unsigned m, uint32_t status) {
  for (unsigned k = 0; k < s->msg_count[m]; k++) d[(s->msg_first[m] + k) * kDescWords + kTxStatus] = status;
}

// udpSend(socket, descriptors, count, gso) → descriptors consumed: sent, or refused with
// their errno in the status word. Fewer than `count` means the socket would block (EAGAIN,
// ENOBUFS): the rest is the caller's to keep and retry when writable.
napi_value UdpSend(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!Args(env, info, 4, argv)) return nullptr;
  UdpSocket* s = Unwrap(env, argv[0]);
  uint32_t* d;
  unsigned n;
  bool gso;
  if (s == nullptr || !CheckDescriptors(env, s, argv[1], argv[2], false, &d, &n) || !GetBool(env, argv[3], "gso", &gso)) return nullptr;
  for (unsigned i = 0; i < n; i++) {
    uint32_t* e = d + i * kDescWords;
    s->iov[i].iov_base = s->pool + e[kTxOffset];
    s->iov[i].iov_len = e[kTxLength];
    e[kTxStatus] = 0;
  }
  unsigned messages = BuildMessages(s, d, 0, n, gso && s->gso, 0);
  unsigned m = 0;
  while (m < messages) {
    unsigned want = messages - m;
    int fault = 0;
    if (s->fault_errno != 0) {
      if (s->fault_after < want) {
        want = s->fault_after;
        fault = s->fault_errno;
      }
      s->fault_errno = 0;
    }
    int r, err = 0;
    if (want == 0) {
      r = -1;
      err = fault;
    } else {
      r = sendmmsg(s->fd, s->msgs + m, want, MSG_DONTWAIT);
      if (r < 0) err = errno;
    }
    if (r > 0) {
      m += r;
      if (fault == 0 || m == messages) continue;
      err = fault;
    }
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) break;
    if (s->msg_count[m] > 1 && (err == EIO || err == EINVAL || err == EOPNOTSUPP)) {
      // Segmentation refused: the rest of this call goes one datagram per message. EIO and
      // EOPNOTSUPP say the path cannot segment at all, so the socket stops trying; EINVAL may
      // be this destination's fault (a bad route), so the next call tries again.
      if (err != EINVAL) s->gso = false;
      messages = BuildMessages(s, d, s->msg_first[m], n, false, m);
      continue;
    }
    MarkMessage(s, d, m, static_cast<uint32_t>(err));
    m++;
  }
  unsigned consumed = m < messages ? s->msg_first[m] : n;
  return Number(env, consumed);
}

// udpPoll(socket, events, callback): calls callback(events) from this thread's event loop
// when the socket is readable (1) and/or writable (2); events 0 stops polling.
napi_value UdpPoll(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!Args(env, info, 3, argv)) return nullptr;
  UdpSocket* s = Unwrap(env, argv[0]);
  int64_t events;
  if (s == nullptr || !GetInt64(env, argv[1], 0, 3, "events", &events)) return nullptr;
  if (events == 0) {
    if (s->poll != nullptr) uv_poll_stop(s->poll);
    DropPollRefs(s);
    return Undefined(env);
  }
  if (!GetFunction(env, argv[2], "callback")) return nullptr;
  if (s->poll == nullptr) {
    uv_loop_t* loop;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
      napi_throw_error(env, "NFVKIT_ERR_NATIVE", "no event loop");
      return nullptr;
    }
    auto* p = new uv_poll_t;
    if (uv_poll_init_socket(loop, p, s->fd) != 0) {
      delete p;
      napi_throw_error(env, "NFVKIT_ERR_NATIVE", "uv_poll_init_socket failed");
      return nullptr;
    }
    p->data = s;
    s->poll = p;
    napi_add_async_cleanup_hook(env, OnAsyncCleanup, s, &s->cleanup);
    napi_value name;
    napi_create_string_utf8(env, "nfvkit.udpPoll", NAPI_AUTO_LENGTH, &name);
    napi_async_init(env, nullptr, name, &s->async);
  }
  // Re-arming with the callback already held (the usual case) only changes the events.
  bool same = false;
  if (s->callback != nullptr) {
    napi_value current;
    napi_get_reference_value(env, s->callback, &current);
    if (current != nullptr) napi_strict_equals(env, current, argv[2], &same);
  }
  if (!same) {
    DropPollRefs(s);
    napi_create_reference(env, argv[2], 1, &s->callback);
  }
  if (s->self == nullptr) napi_create_reference(env, argv[0], 1, &s->self);
  int uv_events = (events & 1 ? UV_READABLE : 0) | (events & 2 ? UV_WRITABLE : 0);
  uv_poll_start(s->poll, uv_events, [](uv_poll_t* h, int status, int ev) {
    auto* s = static_cast<UdpSocket*>(h->data);
    if (s == nullptr || s->callback == nullptr) return;
    napi_env env = s->env;
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_value cb, self, arg, result;
    napi_get_reference_value(env, s->callback, &cb);
    napi_get_reference_value(env, s->self, &self);
    int mask = (ev & UV_READABLE ? 1 : 0) | (ev & UV_WRITABLE ? 2 : 0);
    napi_create_int32(env, status < 0 ? status : mask, &arg);
    if (cb != nullptr && self != nullptr && napi_make_callback(env, s->async, self, cb, 1, &arg, &result) == napi_pending_exception) {
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
    napi_close_handle_scope(env, scope);
  });
  return Undefined(env);
}

// udpClose(socket): stops polling, closes the fd, lets go of the pool. Idempotent.
napi_value UdpClose(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, 1, argv)) return nullptr;
  UdpSocket* s = Unwrap(env, argv[0], false);
  if (s != nullptr) CloseSocket(s, false);
  return Undefined(env);
}

// udpInjectSendFault(socket, after, errno): test hook; the next udpSend stops after `after`
// datagrams as if the kernel had returned `errno` (EAGAIN, ENOBUFS, …).
napi_value UdpInjectSendFault(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!Args(env, info, 3, argv)) return nullptr;
  UdpSocket* s = Unwrap(env, argv[0]);
  int64_t after, err;
  if (s == nullptr || !GetInt64(env, argv[1], 0, kMaxBatch, "after", &after) || !GetInt64(env, argv[2], 1, 4095, "errno", &err)) return nullptr;
  s->fault_after = static_cast<unsigned>(after);
  s->fault_errno = static_cast<int>(err);
  return Undefined(env);
}

// udpSteer(socket, program: Uint32Array): attaches a classic BPF program to the socket's
// SO_REUSEPORT group (SO_ATTACH_REUSEPORT_CBPF): for each datagram the kernel runs it over
// the UDP payload and delivers to the socket of the returned index (in the order the
// sockets joined the group; an index past the last falls back to the kernel's hash).
// Two words per instruction: code | jt << 16 | jf << 24, then k. The kernel checks the
// program (jumps forward and in range, known opcodes, no constant division by zero).
napi_value UdpSteer(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!Args(env, info, 2, argv)) return nullptr;
  UdpSocket* s = Unwrap(env, argv[0]);
  void* data;
  size_t length;
  napi_value unused;
  if (s == nullptr || !GetTypedArray(env, argv[1], napi_uint32_array, "program", &data, &length, &unused)) return nullptr;
  if (length < 2 || length % 2 != 0 || length > 2 * BPF_MAXINSNS) {
    ThrowArgument(env, false, "program must hold 1..4096 instructions of two words each");
    return nullptr;
  }
  const uint32_t* words = static_cast<const uint32_t*>(data);
  const size_t count = length / 2;
  std::vector<sock_filter> filter(count);
  for (size_t i = 0; i < count; i++) {
    filter[i].code = static_cast<uint16_t>(words[2 * i] & 0xffff);
    filter[i].jt = static_cast<uint8_t>((words[2 * i] >> 16) & 0xff);
    filter[i].jf = static_cast<uint8_t>(words[2 * i] >> 24);
    filter[i].k = words[2 * i + 1];
  }
  sock_fprog prog{static_cast<unsigned short>(count), filter.data()};
  if (setsockopt(s->fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) != 0) {
    ThrowErrno(env, "setsockopt(SO_ATTACH_REUSEPORT_CBPF)", errno);
    return nullptr;
  }
  return Undefined(env);
}

}  // namespace

int UdpSocketFd(napi_env env, napi_value handle) {
  UdpSocket* s = Unwrap(env, handle);
  return s == nullptr ? -1 : s->fd;
}

void RegisterUdpSocket(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"udpOpen", nullptr, UdpOpen, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"udpConnect", nullptr, UdpConnect, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"udpInfo", nullptr, UdpInfo, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"udpReceive", nullptr, UdpReceive, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"udpSend", nullptr, UdpSend, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"udpPoll", nullptr, UdpPoll, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"udpClose", nullptr, UdpClose, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"udpInjectSendFault", nullptr, UdpInjectSendFault, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"udpSteer", nullptr, UdpSteer, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
}

}  // namespace nfvkit
