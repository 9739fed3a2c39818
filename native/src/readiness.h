// Blocking readiness for threads and processes that own no event loop turn to spare (an
// instance's poll loop): an epoll set holding sockets and an eventfd that another thread
// rings, and futex wait/wake on a shared Int32 word (not process-private, so it crosses
// processes, which Atomics.wait/notify does not).
#pragma once
#include <node_api.h>

namespace nfvkit {
void RegisterReadiness(napi_env env, napi_value exports);
}
