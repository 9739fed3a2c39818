#include "readiness.h"

#include <linux/futex.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <ctime>
#include <mutex>
#include <new>
#include <set>

#include "args.h"
#include "udp-socket.h"

namespace nfvkit {
namespace {

// Eventfds this addon made and has not closed: `eventFdRing` writes only to these, so a
// number from JavaScript can never make it write into some other file.
std::mutex g_eventfds_mutex;
std::set<int> g_eventfds;

struct Waiter {
  int epfd = -1;
  int evfd = -1;
};

void CloseWaiter(Waiter* w) {
  if (w->evfd >= 0) {
    std::lock_guard<std::mutex> lock(g_eventfds_mutex);
    g_eventfds.erase(w->evfd);
    ::close(w->evfd);
  }
  if (w->epfd >= 0) ::close(w->epfd);
  w->epfd = w->evfd = -1;
}

void FinalizeWaiter(napi_env, void* data, void*) {
  auto* w = static_cast<Waiter*>(data);
  CloseWaiter(w);
  delete w;
}

// Tells waiter handles from every other wrapped object (a socket, another addon's object).
const napi_type_tag kWaiterTag = {0x6e6676b1776169adULL, 0x2b7e1c90d4f35a61ULL};

Waiter* UnwrapWaiter(napi_env env, napi_value v, bool open = true) {
  auto* w = static_cast<Waiter*>(UnwrapTagged(env, v, &kWaiterTag, "waiter must be a handle returned by waiterOpen"));
  if (w == nullptr) return nullptr;
  if (open && w->epfd < 0) {
    ThrowArgument(env, false, "waiter is closed");
    return nullptr;
  }
  return w;
}

// waiterOpen() → handle; `waiterEventFd(handle)` names the eventfd other threads ring.
napi_value WaiterOpen(napi_env env, napi_callback_info) {
  auto* w = new (std::nothrow) Waiter();
  if (w == nullptr) {
    napi_throw_error(env, "NFVKIT_ERR_NATIVE", "out of memory");
    return nullptr;
  }
  w->epfd = epoll_create1(EPOLL_CLOEXEC);
  w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = w->evfd;
  if (w->epfd < 0 || w->evfd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &ev) != 0) {
    int err = errno;
    CloseWaiter(w);
    delete w;
    ThrowErrno(env, "waiterOpen", err);
    return nullptr;
  }
  {
    std::lock_guard<std::mutex> lock(g_eventfds_mutex);
    g_eventfds.insert(w->evfd);
  }
  napi_value handle;
  napi_create_object(env, &handle);
  if (napi_type_tag_object(env, handle, &kWaiterTag) != napi_ok || napi_wrap(env, handle, w, FinalizeWaiter, nullptr, nullptr) != napi_ok) {
    CloseWaiter(w);
    delete w;
    napi_throw_error(env, "NFVKIT_ERR_NATIVE", "napi_wrap failed");
    return nullptr;
  }
  return handle;
}

napi_value WaiterEventFd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, 1, argv)) return nullptr;
  Waiter* w = UnwrapWaiter(env, argv[0]);
  return w == nullptr ? nullptr : Number(env, w->evfd);
}

// waiterAdd(waiter, socket): the socket's readability wakes `waiterWait` too.
napi_value WaiterAdd(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!Args(env, info, 2, argv)) return nullptr;
  Waiter* w = UnwrapWaiter(env, argv[0]);
  if (w == nullptr) return nullptr;
  int fd = UdpSocketFd(env, argv[1]);
  if (fd < 0) return nullptr;
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) != 0 && errno != EEXIST) ThrowErrno(env, "epoll_ctl", errno);
  return Undefined(env);
}

// waiterWait(waiter, timeoutMs) → sources ready (0 on timeout). Blocks the calling thread:
// for instance loops, never the controller's main thread. A ring is consumed here.
napi_value WaiterWait(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!Args(env, info, 2, argv)) return nullptr;
  Waiter* w = UnwrapWaiter(env, argv[0]);
  int64_t timeout;
  if (w == nullptr || !GetInt64(env, argv[1], 0, 60000, "timeoutMs", &timeout)) return nullptr;
  epoll_event ev[16];
  int n;
  do n = epoll_wait(w->epfd, ev, 16, static_cast<int>(timeout));
  while (n < 0 && errno == EINTR);
  if (n < 0) {
    ThrowErrno(env, "epoll_wait", errno);
    return nullptr;
  }
  for (int i = 0; i < n; i++) {
    if (ev[i].data.fd == w->evfd) {
      uint64_t v;
      (void)!read(w->evfd, &v, sizeof v);
    }
  }
  return Number(env, n);
}

napi_value WaiterClose(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, 1, argv)) return nullptr;
  Waiter* w = UnwrapWaiter(env, argv[0], false);
  if (w != nullptr) CloseWaiter(w);
  return Undefined(env);
}

// eventFdRing(fd): wakes the waiter that owns eventfd `fd`, from any thread of the process.
napi_value EventFdRing(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, 1, argv)) return nullptr;
  int64_t fd;
  if (!GetInt64(env, argv[0], 0, INT32_MAX, "fd", &fd)) return nullptr;
  std::lock_guard<std::mutex> lock(g_eventfds_mutex);
  if (g_eventfds.count(static_cast<int>(fd)) == 0) {
    ThrowArgument(env, true, "fd is not an open waiter eventfd of this process");
    return nullptr;
  }
  uint64_t one = 1;
  (void)!write(static_cast<int>(fd), &one, sizeof one);
  return Undefined(env);
}

// The word at `index` of an Int32Array over shared memory.
bool FutexWord(napi_env env, napi_value arr, napi_value index_v, int32_t** word) {
  void* data;
  size_t length;
  napi_value unused;
  int64_t index;
  if (!GetTypedArray(env, arr, napi_int32_array, "words", &data, &length, &unused) ||
      !GetInt64(env, index_v, 0, static_cast<int64_t>(length) - 1, "index", &index))
    return false;
  *word = static_cast<int32_t*>(data) + index;
  return true;
}

// futexWait(words, index, expected, timeoutMs) → "ok" | "not-equal" | "timed-out", as
// Atomics.wait answers, but woken by futexWake from any process mapping the same memory.
napi_value FutexWait(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!Args(env, info, 4, argv)) return nullptr;
  int32_t* word;
  int64_t expected, timeout;
  if (!FutexWord(env, argv[0], argv[1], &word) || !GetInt64(env, argv[2], INT32_MIN, INT32_MAX, "expected", &expected) ||
      !GetInt64(env, argv[3], 0, 60000, "timeoutMs", &timeout))
    return nullptr;
  timespec ts{static_cast<time_t>(timeout / 1000), static_cast<long>((timeout % 1000) * 1000000)};
  long r = syscall(SYS_futex, word, FUTEX_WAIT, static_cast<int32_t>(expected), &ts, nullptr, 0);
  const char* out = "ok";
  if (r != 0) out = errno == EAGAIN ? "not-equal" : errno == ETIMEDOUT ? "timed-out" : "ok";  // EINTR: a spurious wake
  napi_value v;
  napi_create_string_utf8(env, out, NAPI_AUTO_LENGTH, &v);
  return v;
}

// futexWake(words, index, count) → waiters woken.
napi_value FutexWake(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!Args(env, info, 3, argv)) return nullptr;
  int32_t* word;
  int64_t count;
  if (!FutexWord(env, argv[0], argv[1], &word) || !GetInt64(env, argv[2], 1, INT32_MAX, "count", &count)) return nullptr;
  long r = syscall(SYS_futex, word, FUTEX_WAKE, static_cast<int32_t>(count), nullptr, nullptr, 0);
  return Number(env, r < 0 ? 0 : r);
}

}  // namespace

void RegisterReadiness(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"waiterOpen", nullptr, WaiterOpen, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"waiterEventFd", nullptr, WaiterEventFd, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"waiterAdd", nullptr, WaiterAdd, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"waiterWait", nullptr, WaiterWait, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"waiterClose", nullptr, WaiterClose, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"eventFdRing", nullptr, EventFdRing, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"futexWait", nullptr, FutexWait, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"futexWake", nullptr, FutexWake, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
}

}  // namespace nfvkit
