#include "sandbox.h"

#include <grp.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include "args.h"

namespace nfvkit {
namespace {

// What a denied system call tried to do; the index of its counter in the instance's
// sandbox block (`SandboxReason` in src/runtime/sandbox-reasons.ts, same order).
enum Reason : int { kFile = 0, kSocket, kExec, kSignal, kTrace, kKernel, kSigsys, kReasonCount };

struct Rule {
  int nr;
  Reason reason;
};

// Denied outright: opening or changing files by path, new sockets, programs, tracing and
// other processes' memory, kernel facilities a function has no business with.
constexpr Rule kDenied[] = {
    {__NR_open, kFile},          {__NR_openat, kFile},        {__NR_openat2, kFile},         {__NR_creat, kFile},
    {__NR_open_by_handle_at, kFile}, {__NR_name_to_handle_at, kFile}, {__NR_unlink, kFile}, {__NR_unlinkat, kFile},
    {__NR_rename, kFile},        {__NR_renameat, kFile},      {__NR_renameat2, kFile},       {__NR_mkdir, kFile},
    {__NR_mkdirat, kFile},       {__NR_rmdir, kFile},         {__NR_link, kFile},            {__NR_linkat, kFile},
    {__NR_symlink, kFile},       {__NR_symlinkat, kFile},     {__NR_chmod, kFile},           {__NR_fchmodat, kFile},
    {__NR_chown, kFile},         {__NR_lchown, kFile},        {__NR_fchownat, kFile},        {__NR_truncate, kFile},
    {__NR_mknod, kFile},         {__NR_mknodat, kFile},       {__NR_chdir, kFile},           {__NR_chroot, kFile},
    {__NR_socket, kSocket},      {__NR_socketpair, kSocket},  {__NR_connect, kSocket},       {__NR_bind, kSocket},
    {__NR_listen, kSocket},      {__NR_accept, kSocket},      {__NR_accept4, kSocket},
    {__NR_execve, kExec},        {__NR_execveat, kExec},      {__NR_fork, kExec},            {__NR_vfork, kExec},
    {__NR_tkill, kSignal},       {__NR_rt_sigqueueinfo, kSignal}, {__NR_rt_tgsigqueueinfo, kSignal},
    {__NR_pidfd_open, kSignal},  {__NR_pidfd_send_signal, kSignal}, {__NR_pidfd_getfd, kSignal},
    {__NR_ptrace, kTrace},       {__NR_process_vm_readv, kTrace}, {__NR_process_vm_writev, kTrace},
    {__NR_io_uring_setup, kKernel}, {__NR_io_uring_enter, kKernel}, {__NR_io_uring_register, kKernel},
    {__NR_mount, kKernel},       {__NR_umount2, kKernel},     {__NR_pivot_root, kKernel},    {__NR_unshare, kKernel},
    {__NR_setns, kKernel},       {__NR_bpf, kKernel},         {__NR_perf_event_open, kKernel}, {__NR_init_module, kKernel},
    {__NR_finit_module, kKernel}, {__NR_delete_module, kKernel}, {__NR_kexec_load, kKernel}, {__NR_reboot, kKernel},
    {__NR_swapon, kKernel},      {__NR_swapoff, kKernel},     {__NR_userfaultfd, kKernel},   {__NR_keyctl, kKernel},
    {__NR_add_key, kKernel},     {__NR_request_key, kKernel}, {__NR_personality, kKernel},   {__NR_acct, kKernel},
};

// Counters in shared memory the host reads; written by the SIGSYS handler only.
std::atomic<int32_t>* g_counters = nullptr;
bool g_entered = false;

Reason ReasonOf(int nr) {
  for (const Rule& r : kDenied)
    if (r.nr == nr) return r.reason;
  switch (nr) {
    case __NR_clone:
      return kExec;
    case __NR_kill:
    case __NR_tgkill:
      return kSignal;
    case __NR_rt_sigaction:
      return kSigsys;
    default:
      return kKernel;
  }
}

// The kernel trapped a denied call (SECCOMP_RET_TRAP): count it and make it fail with EPERM,
// as if the kernel had refused it. Async-signal-safe: one atomic add, one register write.
// glibc's malloc reads this once, by itself, when it first trims a heap: denied like any
// file, but not counted against the function.
constexpr char kMallocProbe[] = "/proc/sys/vm/overcommit_memory";

bool IsMallocProbe(int nr, const greg_t* regs) {
  const char* path = nr == __NR_openat ? reinterpret_cast<const char*>(regs[REG_RSI]) : nr == __NR_open ? reinterpret_cast<const char*>(regs[REG_RDI]) : nullptr;
  return path != nullptr && strncmp(path, kMallocProbe, sizeof kMallocProbe) == 0;
}

void OnSigsys(int, siginfo_t* info, void* context) {
  auto* uc = static_cast<ucontext_t*>(context);
  Reason reason = ReasonOf(info->si_syscall);
  if (g_counters != nullptr && !IsMallocProbe(info->si_syscall, uc->uc_mcontext.gregs)) g_counters[reason].fetch_add(1, std::memory_order_relaxed);
  uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
}

constexpr uint32_t kTrap = SECCOMP_RET_TRAP;
constexpr uint32_t kAllow = SECCOMP_RET_ALLOW;

void Emit(std::vector<sock_filter>& f, uint16_t code, uint32_t k, uint8_t jt = 0, uint8_t jf = 0) {
  f.push_back(sock_filter{code, jt, jf, k});
}

// The filter: foreign architectures and x32 are killed; each rule is a block entered when
// the syscall number matches and ending in a return, so the accumulator holds the number
// again whenever a block is skipped.
std::vector<sock_filter> BuildFilter(pid_t self) {
  std::vector<sock_filter> f;
  Emit(f, BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
  Emit(f, BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
  Emit(f, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  Emit(f, BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
  Emit(f, BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);  // x32 ABI
  Emit(f, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  for (const Rule& r : kDenied) {
    Emit(f, BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(r.nr), 0, 1);
    Emit(f, BPF_RET | BPF_K, kTrap);
  }
  // clone: threads yes (the libuv pool, workers), new processes no.
  Emit(f, BPF_JMP | BPF_JEQ | BPF_K, __NR_clone, 0, 4);
  Emit(f, BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0]));
  Emit(f, BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1);
  Emit(f, BPF_RET | BPF_K, kAllow);
  Emit(f, BPF_RET | BPF_K, kTrap);
  // clone3 cannot be filtered on its flags (they sit in memory): ENOSYS makes glibc use clone.
  Emit(f, BPF_JMP | BPF_JEQ | BPF_K, __NR_clone3, 0, 1);
  Emit(f, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
  // Signals only to this process.
  for (int nr : {__NR_kill, __NR_tgkill}) {
    Emit(f, BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 4);
    Emit(f, BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0]));
    Emit(f, BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(self), 0, 1);
    Emit(f, BPF_RET | BPF_K, kAllow);
    Emit(f, BPF_RET | BPF_K, kTrap);
  }
  // Nobody replaces the SIGSYS handler that counts and fails denied calls (reading it is
  // fine: Node does at exit). The `act` pointer is 64 bits: both halves must be zero.
  Emit(f, BPF_JMP | BPF_JEQ | BPF_K, __NR_rt_sigaction, 0, 9);
  Emit(f, BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0]));
  Emit(f, BPF_JMP | BPF_JEQ | BPF_K, SIGSYS, 1, 0);
  Emit(f, BPF_RET | BPF_K, kAllow);
  Emit(f, BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[1]));
  Emit(f, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2);
  Emit(f, BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[1]) + 4);
  Emit(f, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
  Emit(f, BPF_RET | BPF_K, kTrap);
  Emit(f, BPF_RET | BPF_K, kAllow);
  Emit(f, BPF_RET | BPF_K, kAllow);  // everything else
  return f;
}

// sandboxEnter(counters, uid, gid): from now on, for every thread of this process, the
// calls above fail with EPERM and are counted in `counters` (Int32Array of at least
// kReasonCount words over shared memory, kept alive for the process's life). When the
// process runs as root and `uid` ≥ 0, it first drops to uid/gid (a second layer). The
// process also dies with its parent (PR_SET_PDEATHSIG). Once per process; irreversible.
napi_value SandboxEnter(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!Args(env, info, 3, argv)) return nullptr;
  void* data;
  size_t length;
  napi_value unused;
  int64_t uid, gid;
  if (!GetTypedArray(env, argv[0], napi_int32_array, "counters", &data, &length, &unused) ||
      !GetInt64(env, argv[1], -1, 0x7fffffff, "uid", &uid) || !GetInt64(env, argv[2], -1, 0x7fffffff, "gid", &gid))
    return nullptr;
  if (length < kReasonCount) {
    ThrowArgument(env, true, "counters needs one word per sandbox reason");
    return nullptr;
  }
  if (g_entered) {
    ThrowArgument(env, false, "this process is already sandboxed");
    return nullptr;
  }
  napi_ref keep;
  napi_create_reference(env, argv[0], 1, &keep);  // never deleted: the handler writes there for good
  g_counters = reinterpret_cast<std::atomic<int32_t>*>(data);
  struct sigaction sa{};
  sa.sa_sigaction = OnSigsys;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSYS, &sa, nullptr) != 0) {
    ThrowErrno(env, "sigaction", errno);
    return nullptr;
  }
  if (uid >= 0 && geteuid() == 0) {
    gid_t g = static_cast<gid_t>(gid >= 0 ? gid : uid);
    if (setgroups(0, nullptr) != 0 || setresgid(g, g, g) != 0 || setresuid(static_cast<uid_t>(uid), static_cast<uid_t>(uid), static_cast<uid_t>(uid)) != 0) {
      ThrowErrno(env, "drop to an unprivileged uid", errno);
      return nullptr;
    }
  }
  // Dies with the controller (set after the uid change, which clears it). A parent that is
  // already gone leaves the process to init: then exit now.
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != parent || parent == 1) {
    ThrowErrno(env, "PR_SET_PDEATHSIG", errno == 0 ? ESRCH : errno);
    return nullptr;
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    ThrowErrno(env, "PR_SET_NO_NEW_PRIVS", errno);
    return nullptr;
  }
  std::vector<sock_filter> filter = BuildFilter(getpid());
  sock_fprog prog{static_cast<unsigned short>(filter.size()), filter.data()};
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
  if (r != 0) {
    // r > 0: the id of a thread that could not be synchronised.
    ThrowErrno(env, "seccomp (TSYNC)", r > 0 ? ESRCH : errno);
    return nullptr;
  }
  g_entered = true;
  return Number(env, kReasonCount);
}

}  // namespace

void RegisterSandbox(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"sandboxEnter", nullptr, SandboxEnter, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  napi_value n;
  napi_create_int32(env, kReasonCount, &n);
  napi_set_named_property(env, exports, "sandboxReasons", n);
}

}  // namespace nfvkit
