// Shared memory between processes: sealed memfds mapped MAP_SHARED and handed to
// JavaScript as SharedArrayBuffers (whole or in slices), so the pool, the rings and the
// counters can live in memory an instance process maps too.
#pragma once
#include <node_api.h>

namespace nfvkit {
void RegisterSharedMemory(napi_env env, napi_value exports);
}
