#include "shared-memory.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <v8.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <new>
#include <set>

#include "args.h"

namespace nfvkit {
namespace {

// Largest region: 16 GiB (a pool of 32768 buffers is ~70 MiB).
constexpr int64_t kMaxRegionBytes = int64_t{16} << 30;
constexpr unsigned kRequiredSeals = F_SEAL_SHRINK | F_SEAL_GROW;

// One mmap of a memfd. Every SharedArrayBuffer over it (the whole or a slice) holds one
// reference; the last one released unmaps it, on whichever thread V8 frees it.
struct Mapping {
  uint8_t* base;
  size_t length;
  std::atomic<int> refs;
};

std::mutex g_mutex;
// Mappings by base address, so `shmSlice` accepts only memory this addon mapped.
std::map<uint8_t*, Mapping*> g_mappings;
// Memfds this addon created and has not closed (`shmCloseFd` closes only these).
std::set<int> g_fds;

void Release(void*, size_t, void* deleter_data) {
  auto* m = static_cast<Mapping*>(deleter_data);
  if (m->refs.fetch_sub(1) != 1) return;
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_mappings.erase(m->base);
  }
  munmap(m->base, m->length);
  delete m;
}

// Node-API and V8 handles are the same pointer (node's js_native_api_v8.h converts them
// this way); Node-API has no call for a SharedArrayBuffer over external memory, so this
// file uses V8 for that one thing. It ties the build to the Node major it was built for,
// which `npm ci` guarantees by building from source.
napi_value ToNapi(v8::Local<v8::Value> v) { return reinterpret_cast<napi_value>(*v); }
v8::Local<v8::Value> FromNapi(napi_value v) {
  v8::Local<v8::Value> local;
  memcpy(static_cast<void*>(&local), &v, sizeof v);
  return local;
}

// A SharedArrayBuffer over [data, data + length) of mapping `m` (takes one reference).
napi_value NewView(Mapping* m, uint8_t* data, size_t length) {
  m->refs.fetch_add(1);
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  std::unique_ptr<v8::BackingStore> store = v8::SharedArrayBuffer::NewBackingStore(data, length, Release, m);
  return ToNapi(v8::SharedArrayBuffer::New(isolate, std::move(store)));
}

// Maps `fd` (length `length`) shared and registers it; nullptr with errno set on failure.
Mapping* Map(int fd, size_t length) {
  void* p = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return nullptr;
  auto* m = new (std::nothrow) Mapping{static_cast<uint8_t*>(p), length, {0}};
  if (m == nullptr) {
    munmap(p, length);
    errno = ENOMEM;
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(g_mutex);
  g_mappings[m->base] = m;
  return m;
}

napi_value Result(napi_env env, int fd, napi_value memory) {
  napi_value out;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "fd", Number(env, fd));
  napi_set_named_property(env, out, "memory", memory);
  return out;
}

// shmCreate(name, bytes) → { fd, memory }: a sealed memfd (it can neither shrink nor grow,
// so no process mapping it can make another one fault) mapped shared here. `fd` is
// close-on-exec; hand it to a child through spawn's stdio (which dups it).
napi_value ShmCreate(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!Args(env, info, 2, argv)) return nullptr;
  char name[64];
  int64_t bytes;
  if (!GetString(env, argv[0], "name", name, sizeof name) || !GetInt64(env, argv[1], 1, kMaxRegionBytes, "bytes", &bytes)) return nullptr;
  int fd = static_cast<int>(syscall(SYS_memfd_create, name, MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (fd < 0) {
    ThrowErrno(env, "memfd_create", errno);
    return nullptr;
  }
  Mapping* m = nullptr;
  if (ftruncate(fd, bytes) != 0 || fcntl(fd, F_ADD_SEALS, kRequiredSeals | F_SEAL_SEAL) != 0 ||
      (m = Map(fd, static_cast<size_t>(bytes))) == nullptr) {
    int err = errno;
    ::close(fd);
    ThrowErrno(env, "shmCreate", err);
    return nullptr;
  }
  {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_fds.insert(fd);
  }
  return Result(env, fd, NewView(m, m->base, m->length));
}

// shmAttach(fd, bytes) → SharedArrayBuffer: maps a memfd this process inherited. Refused
// unless `fd` is a sealed memfd (shrink and grow) of exactly `bytes`.
napi_value ShmAttach(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!Args(env, info, 2, argv)) return nullptr;
  int64_t fd, bytes;
  if (!GetInt64(env, argv[0], 0, INT32_MAX, "fd", &fd) || !GetInt64(env, argv[1], 1, kMaxRegionBytes, "bytes", &bytes)) return nullptr;
  int seals = fcntl(static_cast<int>(fd), F_GET_SEALS);
  struct stat st{};
  if (seals < 0 || fstat(static_cast<int>(fd), &st) != 0) {
    ThrowErrno(env, "shmAttach: not a memfd", errno == EINVAL ? EBADF : errno);
    return nullptr;
  }
  if ((static_cast<unsigned>(seals) & kRequiredSeals) != kRequiredSeals) {
    ThrowArgument(env, false, "shmAttach: the memfd is not sealed against shrinking and growing");
    return nullptr;
  }
  if (st.st_size != bytes) {
    ThrowArgument(env, true, "shmAttach: the memfd's size differs from bytes");
    return nullptr;
  }
  Mapping* m = Map(static_cast<int>(fd), static_cast<size_t>(bytes));
  if (m == nullptr) {
    ThrowErrno(env, "mmap", errno);
    return nullptr;
  }
  return NewView(m, m->base, m->length);
}

// The mapping `value` is the whole of (a SharedArrayBuffer returned by shmCreate or
// shmAttach), or nullptr with a TypeError pending.
Mapping* WholeMapping(napi_env env, napi_value value) {
  v8::Local<v8::Value> v = FromNapi(value);
  Mapping* m = nullptr;
  if (v->IsSharedArrayBuffer()) {
    std::shared_ptr<v8::BackingStore> store = v.As<v8::SharedArrayBuffer>()->GetBackingStore();
    auto* base = static_cast<uint8_t*>(store->Data());
    std::lock_guard<std::mutex> lock(g_mutex);
    auto it = g_mappings.find(base);
    if (it != g_mappings.end() && it->second->length == store->ByteLength()) m = it->second;
  }
  if (m == nullptr) ThrowArgument(env, false, "memory must be a SharedArrayBuffer returned by shmCreate or shmAttach");
  return m;
}

// The arguments (memory, offset, length) of a call on a range of a whole mapping: the
// mapping, and a non-empty range that lies inside it. False (with the error thrown) otherwise.
bool RangeArgs(napi_env env, napi_callback_info info, Mapping** m, int64_t* offset, int64_t* length) {
  napi_value argv[3];
  if (!Args(env, info, 3, argv)) return false;
  *m = WholeMapping(env, argv[0]);
  if (*m == nullptr) return false;
  const int64_t bytes = static_cast<int64_t>((*m)->length);
  return GetInt64(env, argv[1], 0, bytes - 1, "offset", offset) && GetInt64(env, argv[2], 1, bytes - *offset, "length", length);
}

// shmSlice(memory, offset, length) → SharedArrayBuffer over that range of `memory`, which
// must be a whole mapping returned by shmCreate or shmAttach. The slice keeps it mapped.
napi_value ShmSlice(napi_env env, napi_callback_info info) {
  Mapping* m;
  int64_t offset, length;
  if (!RangeArgs(env, info, &m, &offset, &length)) return nullptr;
  return NewView(m, m->base + offset, static_cast<size_t>(length));
}

// shmDiscard(memory, offset, length): gives the pages of [offset, offset + length) of
// `memory` (a whole mapping returned by shmCreate or shmAttach) back to the system
// (madvise MADV_REMOVE: the memfd's pages are freed, in every process mapping them); they
// read as zeros afterwards, and a page is allocated again, zeroed by the kernel, only when
// touched. `offset` and `length` must be whole pages. For memory no one uses any more: a
// range freed this way needs no zeroing before it is handed out again.
napi_value ShmDiscard(napi_env env, napi_callback_info info) {
  Mapping* m;
  int64_t offset, length;
  if (!RangeArgs(env, info, &m, &offset, &length)) return nullptr;
  const int64_t page = sysconf(_SC_PAGESIZE);
  if (offset % page != 0 || length % page != 0) {
    ThrowArgument(env, true, "shmDiscard: offset and length must be multiples of the page size");
    return nullptr;
  }
  if (madvise(m->base + offset, static_cast<size_t>(length), MADV_REMOVE) != 0) {
    ThrowErrno(env, "madvise", errno);
    return nullptr;
  }
  return Undefined(env);
}

// shmCloseFd(fd): closes a memfd made by shmCreate (its mappings stay valid).
napi_value ShmCloseFd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!Args(env, info, 1, argv)) return nullptr;
  int64_t fd;
  if (!GetInt64(env, argv[0], 0, INT32_MAX, "fd", &fd)) return nullptr;
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_fds.erase(static_cast<int>(fd)) == 0) {
    ThrowArgument(env, true, "fd is not an open memfd made by shmCreate");
    return nullptr;
  }
  ::close(static_cast<int>(fd));
  return Undefined(env);
}

}  // namespace

void RegisterSharedMemory(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"shmCreate", nullptr, ShmCreate, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"shmAttach", nullptr, ShmAttach, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"shmSlice", nullptr, ShmSlice, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"shmDiscard", nullptr, ShmDiscard, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"shmCloseFd", nullptr, ShmCloseFd, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
}

}  // namespace nfvkit
