#include "heap.h"

#include <v8.h>

#include "args.h"

namespace nfvkit {
namespace {

// Largest old generation an instance may ask for: 64 GiB.
constexpr int64_t kMaxHeapMiB = int64_t{64} << 10;

size_t KeepLimit(void*, size_t current, size_t) { return current; }

// heapLimit(mib) → the isolate's heap size limit in bytes afterwards. Lowers the calling
// isolate's old-generation limit to `mib` MiB, as `--max-old-space-size` would have set it
// at start: reaching it is V8's fatal "heap out of memory", as with the flag. V8 only
// lowers a limit this way (never above the one it started with, never below the live heap
// and a quarter), and only through RemoveNearHeapLimitCallback(callback, limit), so a
// callback that keeps the current limit is added and removed at once.
napi_value HeapLimit(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, 1, argv)) return nullptr;
  int64_t mib;
  if (!GetInt64(env, argv[0], 1, kMaxHeapMiB, "mib", &mib)) return nullptr;
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  isolate->AddNearHeapLimitCallback(KeepLimit, nullptr);
  isolate->RemoveNearHeapLimitCallback(KeepLimit, static_cast<size_t>(mib) << 20);
  v8::HeapStatistics stats;
  isolate->GetHeapStatistics(&stats);
  return Number(env, static_cast<double>(stats.heap_size_limit()));
}

// collectGarbage(): a full collection, as `gc()` of `--expose-gc` (no memory reduction,
// which would flush the bytecode a warm process compiled ahead). V8 grants it only while
// `--expose-gc` is set, so the flag is set for the call and cleared after it: V8 computes
// its flag hash anew from the flags that differ from the defaults, so the code cache of
// Node's modules loaded later is still accepted.
napi_value CollectGarbage(napi_env env, napi_callback_info) {
  v8::V8::SetFlagsFromString("--expose-gc");
  v8::Isolate::GetCurrent()->RequestGarbageCollectionForTesting(v8::Isolate::kFullGarbageCollection);
  v8::V8::SetFlagsFromString("--no-expose-gc");
  return Undefined(env);
}

}  // namespace

void RegisterHeap(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"heapLimit", nullptr, HeapLimit, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"collectGarbage", nullptr, CollectGarbage, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
}

}  // namespace nfvkit
