// nfvkit's native addon: only what JavaScript cannot do. Batched UDP socket calls into the
// packet pool (udp-socket.cc) and blocking readiness waits (readiness.cc). Every packet
// decision stays in TypeScript; see src/native/ for the wrapper and its dgram fallback.
// Shared memory between processes (shared-memory.cc), the instance sandbox (sandbox.cc) and
// the heap limit and collection of an instance process (heap.cc).
#include <node_api.h>

#include "args.h"
#include "heap.h"
#include "readiness.h"
#include "sandbox.h"
#include "shared-memory.h"
#include "udp-socket.h"

namespace nfvkit {
namespace {

// Bumped whenever an export's signature or the descriptor layout changes; the TypeScript
// loader refuses a build of another version.
constexpr int kAbiVersion = 4;

void SetNumber(napi_env env, napi_value obj, const char* name, double v) {
  napi_set_named_property(env, obj, name, Number(env, v));
}

napi_value Init(napi_env env, napi_value exports) {
  RegisterUdpSocket(env, exports);
  RegisterReadiness(env, exports);
  RegisterSharedMemory(env, exports);
  RegisterSandbox(env, exports);
  RegisterHeap(env, exports);
  napi_value layout;
  napi_create_object(env, &layout);
  SetNumber(env, layout, "descWords", kDescWords);
  SetNumber(env, layout, "rxOffset", kRxOffset);
  SetNumber(env, layout, "rxCapacity", kRxCapacity);
  SetNumber(env, layout, "rxLength", kRxLength);
  SetNumber(env, layout, "rxAddress", kRxAddress);
  SetNumber(env, layout, "rxPort", kRxPort);
  SetNumber(env, layout, "rxFlags", kRxFlags);
  SetNumber(env, layout, "txOffset", kTxOffset);
  SetNumber(env, layout, "txLength", kTxLength);
  SetNumber(env, layout, "txAddress", kTxAddress);
  SetNumber(env, layout, "txPort", kTxPort);
  SetNumber(env, layout, "txStatus", kTxStatus);
  SetNumber(env, layout, "rxFlagTruncated", kRxFlagTruncated);
  SetNumber(env, layout, "maxBatch", kMaxBatch);
  SetNumber(env, layout, "maxDatagram", kMaxDatagram);
  napi_set_named_property(env, exports, "layout", layout);
  SetNumber(env, exports, "abiVersion", kAbiVersion);
  return exports;
}

}  // namespace
}  // namespace nfvkit

NAPI_MODULE(NODE_GYP_MODULE_NAME, nfvkit::Init)
