// Argument checking shared by every entry point: each one validates what JavaScript passed
// before it touches a file descriptor or a byte of memory, and throws a TypeError or
// RangeError (code NFVKIT_ERR_NATIVE_ARGUMENT) otherwise.
#pragma once
#include <node_api.h>
#include <cstddef>
#include <cstdint>

namespace nfvkit {

// Throws a JavaScript error of `kind` ("TypeError" or "RangeError") with `message`.
void ThrowArgument(napi_env env, bool range, const char* message);
// Throws an Error whose `code` is the errno name and `errno` its number.
void ThrowErrno(napi_env env, const char* what, int err);

bool GetInt64(napi_env env, napi_value v, int64_t lo, int64_t hi, const char* name, int64_t* out);
bool GetBool(napi_env env, napi_value v, const char* name, bool* out);
bool GetString(napi_env env, napi_value v, const char* name, char* out, size_t cap);
bool GetFunction(napi_env env, napi_value v, const char* name);

// A typed array's memory: element type, pointer, element count; checks the element type.
bool GetTypedArray(napi_env env, napi_value v, napi_typedarray_type type, const char* name,
                   void** data, size_t* length, napi_value* buffer);

// Reads `argc` arguments (missing ones are undefined).
bool Args(napi_env env, napi_callback_info info, size_t argc, napi_value* argv, void** data = nullptr);

// The native object wrapped in handle `v` if `v` carries type tag `tag`, else nullptr with a
// TypeError pending that says `what` is expected (a socket passed as a waiter, any other
// object, a primitive).
void* UnwrapTagged(napi_env env, napi_value v, const napi_type_tag* tag, const char* what);

napi_value Undefined(napi_env env);
napi_value Number(napi_env env, double v);

}  // namespace nfvkit
