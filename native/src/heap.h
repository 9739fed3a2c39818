// The V8 heap of an instance process, bounded and collected without V8 command-line flags:
// any flag that differs from the defaults changes V8's flag hash, which makes V8 refuse
// the code cache Node ships for its own modules (~25 ms more to start a process).
#pragma once
#include <node_api.h>

namespace nfvkit {
void RegisterHeap(napi_env env, napi_value exports);
}
