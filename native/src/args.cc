#include "args.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace nfvkit {

void ThrowArgument(napi_env env, bool range, const char* message) {
  if (range) napi_throw_range_error(env, "NFVKIT_ERR_NATIVE_ARGUMENT", message);
  else napi_throw_type_error(env, "NFVKIT_ERR_NATIVE_ARGUMENT", message);
}

void ThrowErrno(napi_env env, const char* what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, message, error, num;
  const char* name = strerrorname_np(err);
  napi_create_string_utf8(env, name != nullptr ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
  napi_create_error(env, code, message, &error);
  napi_create_int32(env, err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_set_named_property(env, error, "syscall", message);
  napi_throw(env, error);
}

bool GetInt64(napi_env env, napi_value v, int64_t lo, int64_t hi, const char* name, int64_t* out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  char msg[160];
  if (t != napi_number) {
    snprintf(msg, sizeof msg, "%s must be a number", name);
    ThrowArgument(env, false, msg);
    return false;
  }
  double d;
  napi_get_value_double(env, v, &d);
  if (!(d >= static_cast<double>(lo) && d <= static_cast<double>(hi)) || d != static_cast<double>(static_cast<int64_t>(d))) {
    snprintf(msg, sizeof msg, "%s must be an integer in %lld..%lld", name, static_cast<long long>(lo), static_cast<long long>(hi));
    ThrowArgument(env, true, msg);
    return false;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

bool GetBool(napi_env env, napi_value v, const char* name, bool* out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_boolean) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s must be a boolean", name);
    ThrowArgument(env, false, msg);
    return false;
  }
  napi_get_value_bool(env, v, out);
  return true;
}

bool GetString(napi_env env, napi_value v, const char* name, char* out, size_t cap) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  size_t len = 0;
  char msg[160];
  if (t != napi_string) {
    snprintf(msg, sizeof msg, "%s must be a string", name);
    ThrowArgument(env, false, msg);
    return false;
  }
  napi_get_value_string_utf8(env, v, nullptr, 0, &len);
  if (len + 1 > cap) {
    snprintf(msg, sizeof msg, "%s is longer than %zu bytes", name, cap - 1);
    ThrowArgument(env, true, msg);
    return false;
  }
  napi_get_value_string_utf8(env, v, out, cap, &len);
  return true;
}

bool GetFunction(napi_env env, napi_value v, const char* name) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_function) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s must be a function", name);
    ThrowArgument(env, false, msg);
    return false;
  }
  return true;
}

bool GetTypedArray(napi_env env, napi_value v, napi_typedarray_type type, const char* name,
                   void** data, size_t* length, napi_value* buffer) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  napi_typedarray_type actual;
  size_t offset;
  char msg[160];
  if (is) napi_get_typedarray_info(env, v, &actual, length, data, buffer, &offset);
  if (!is || actual != type) {
    snprintf(msg, sizeof msg, "%s must be a %s", name,
             type == napi_uint8_array ? "Uint8Array" : type == napi_uint32_array ? "Uint32Array" : type == napi_int32_array ? "Int32Array" : "typed array");
    ThrowArgument(env, false, msg);
    return false;
  }
  if (*data == nullptr && *length > 0) {
    snprintf(msg, sizeof msg, "%s has no backing store", name);
    ThrowArgument(env, false, msg);
    return false;
  }
  return true;
}

bool Args(napi_env env, napi_callback_info info, size_t argc, napi_value* argv, void** data) {
  size_t got = argc;
  return napi_get_cb_info(env, info, &got, argv, nullptr, data) == napi_ok;
}

void* UnwrapTagged(napi_env env, napi_value v, const napi_type_tag* tag, const char* what) {
  void* p = nullptr;
  napi_valuetype t;
  napi_typeof(env, v, &t);
  bool tagged = false;
  if (t == napi_object) napi_check_object_type_tag(env, v, tag, &tagged);
  if (!tagged || napi_unwrap(env, v, &p) != napi_ok || p == nullptr) {
    ThrowArgument(env, false, what);
    return nullptr;
  }
  return p;
}

napi_value Undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

napi_value Number(napi_env env, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  return n;
}

}  // namespace nfvkit
