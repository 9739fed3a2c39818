// The instance sandbox: a seccomp-bpf filter (synchronised to every thread) that denies
// opening files, new sockets, programs, signals to other processes and tracing, each
// denied call failing with EPERM and counted by reason in shared memory; plus a drop to an
// unprivileged uid where the process runs as root.
#pragma once
#include <node_api.h>

namespace nfvkit {
void RegisterSandbox(napi_env env, napi_value exports);
}
