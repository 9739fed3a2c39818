#include "sandbox.h"

#include <grp.h>
#include <pthread.h>
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

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <new>
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

void Emit(std::vector<sock_filter>& f, uint16_t code, uint32_t k, uint8_t jt = 0, uint8_t jf = 0) {
  f.push_back(sock_filter{code, jt, jf, k});
}

// What the filter does with a system call that has a rule (everything else is allowed).
enum class Action { kTrap, kClone, kClone3, kSignalSelf, kSigaction };

struct Key {
  uint32_t nr;
  Action action;
};

// Every number with a rule, sorted.
std::vector<Key> Keys() {
  std::vector<Key> keys;
  for (const Rule& r : kDenied) keys.push_back({static_cast<uint32_t>(r.nr), Action::kTrap});
  keys.push_back({__NR_clone, Action::kClone});
  keys.push_back({__NR_clone3, Action::kClone3});
  keys.push_back({__NR_kill, Action::kSignalSelf});
  keys.push_back({__NR_tgkill, Action::kSignalSelf});
  keys.push_back({__NR_rt_sigaction, Action::kSigaction});
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) { return a.nr < b.nr; });
  return keys;
}

// A jump to an action's block, patched once the blocks are laid out after the tree.
struct Fixup {
  size_t at;
  Action action;
};

// The dispatch over keys[lo, hi) with the number in the accumulator: a balanced tree of
// `>=` tests (each jumping to its right half with an unconditional jump, whose offset has
// 32 bits where a conditional one has 8) down to runs of at most three `==` tests. The
// kernel runs the filter once per system call number when it is installed (to cache the
// calls it always allows), so a linear list of the ~85 rules made every sandbox entry pay
// ~0.3 ms for it; the tree is ~7 tests deep.
void EmitTree(std::vector<sock_filter>& f, const std::vector<Key>& keys, size_t lo, size_t hi, std::vector<Fixup>& fixups) {
  if (hi - lo <= 3) {
    for (size_t i = lo; i < hi; i++) {
      Emit(f, BPF_JMP | BPF_JEQ | BPF_K, keys[i].nr, 0, 1);
      if (keys[i].action == Action::kTrap) {
        Emit(f, BPF_RET | BPF_K, SECCOMP_RET_TRAP);
      } else if (keys[i].action == Action::kClone3) {
        // clone3 cannot be filtered on its flags (they sit in memory): ENOSYS makes glibc use clone.
        Emit(f, BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
      } else {
        fixups.push_back({f.size(), keys[i].action});
        Emit(f, BPF_JMP | BPF_JA, 0);
      }
    }
    Emit(f, BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    return;
  }
  size_t mid = lo + (hi - lo) / 2;
  Emit(f, BPF_JMP | BPF_JGE | BPF_K, keys[mid].nr, 0, 1);
  size_t right = f.size();
  Emit(f, BPF_JMP | BPF_JA, 0);
  EmitTree(f, keys, lo, mid, fixups);
  f[right].k = static_cast<uint32_t>(f.size() - right - 1);
  EmitTree(f, keys, mid, hi, fixups);
}

constexpr uint32_t kTrap = SECCOMP_RET_TRAP;
constexpr uint32_t kAllow = SECCOMP_RET_ALLOW;

// The filter: foreign architectures and x32 are killed; then the number is dispatched by
// `EmitTree` to a return, or to the block of a call allowed only with some arguments.
std::vector<sock_filter> BuildFilter(pid_t self) {
  std::vector<sock_filter> f;
  Emit(f, BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
  Emit(f, BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
  Emit(f, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  Emit(f, BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
  Emit(f, BPF_JMP | BPF_JGE | BPF_K, 0x40000000, 0, 1);  // x32 ABI
  Emit(f, BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  std::vector<Key> keys = Keys();
  std::vector<Fixup> fixups;
  EmitTree(f, keys, 0, keys.size(), fixups);
  auto patch = [&](Action action) {
    for (const Fixup& x : fixups)
      if (x.action == action) f[x.at].k = static_cast<uint32_t>(f.size() - x.at - 1);
  };
  // clone: threads yes (the libuv pool, workers), new processes no.
  patch(Action::kClone);
  Emit(f, BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0]));
  Emit(f, BPF_JMP | BPF_JSET | BPF_K, CLONE_THREAD, 0, 1);
  Emit(f, BPF_RET | BPF_K, kAllow);
  Emit(f, BPF_RET | BPF_K, kTrap);
  // kill, tgkill: only to this process.
  patch(Action::kSignalSelf);
  Emit(f, BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0]));
  Emit(f, BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(self), 0, 1);
  Emit(f, BPF_RET | BPF_K, kAllow);
  Emit(f, BPF_RET | BPF_K, kTrap);
  // rt_sigaction: nobody replaces the SIGSYS handler that counts and fails denied calls
  // (reading it is fine: Node does at exit). The `act` pointer is 64 bits: both halves
  // must be zero.
  patch(Action::kSigaction);
  Emit(f, BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0]));
  Emit(f, BPF_JMP | BPF_JEQ | BPF_K, SIGSYS, 1, 0);
  Emit(f, BPF_RET | BPF_K, kAllow);
  Emit(f, BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[1]));
  Emit(f, BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 2);
  Emit(f, BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[1]) + 4);
  Emit(f, BPF_JMP | BPF_JEQ | BPF_K, 0, 1, 0);
  Emit(f, BPF_RET | BPF_K, kTrap);
  Emit(f, BPF_RET | BPF_K, kAllow);
  return f;
}

// Runs classic BPF program `f` (the opcodes BuildFilter emits) over `d`; UINT32_MAX for
// anything else or a jump out of the program.
uint32_t RunFilter(const std::vector<sock_filter>& f, const seccomp_data& d) {
  uint32_t a = 0;
  for (size_t pc = 0; pc < f.size(); pc++) {
    const sock_filter& i = f[pc];
    switch (i.code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (i.k + 4 > sizeof d) return UINT32_MAX;
        memcpy(&a, reinterpret_cast<const uint8_t*>(&d) + i.k, 4);
        break;
      case BPF_JMP | BPF_JA:
        pc += i.k;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += a == i.k ? i.jt : i.jf;
        break;
      case BPF_JMP | BPF_JGE | BPF_K:
        pc += a >= i.k ? i.jt : i.jf;
        break;
      case BPF_JMP | BPF_JSET | BPF_K:
        pc += (a & i.k) != 0 ? i.jt : i.jf;
        break;
      case BPF_RET | BPF_K:
        return i.k;
      default:
        return UINT32_MAX;
    }
  }
  return UINT32_MAX;
}

// What the rules above say of a call, straight from the tables (the reference the tree is
// checked against).
uint32_t Expected(const seccomp_data& d, pid_t self) {
  if (d.arch != AUDIT_ARCH_X86_64 || static_cast<uint32_t>(d.nr) >= 0x40000000) return SECCOMP_RET_KILL_PROCESS;
  for (const Rule& r : kDenied)
    if (r.nr == d.nr) return kTrap;
  switch (d.nr) {
    case __NR_clone:
      return (d.args[0] & CLONE_THREAD) != 0 ? kAllow : kTrap;
    case __NR_clone3:
      return SECCOMP_RET_ERRNO | ENOSYS;
    case __NR_kill:
    case __NR_tgkill:
      return static_cast<uint32_t>(d.args[0]) == static_cast<uint32_t>(self) ? kAllow : kTrap;
    case __NR_rt_sigaction:
      return d.args[0] == SIGSYS && d.args[1] != 0 ? kTrap : kAllow;
    default:
      return kAllow;
  }
}

// sandboxFilterCheck() → { instructions, mismatches }: runs the filter this process would
// install over every system call number below 1024 (and x32, and a foreign architecture),
// with arguments on both sides of each rule's test, and counts the verdicts that differ
// from the rule tables. Installs nothing.
napi_value SandboxFilterCheck(napi_env env, napi_callback_info) {
  pid_t self = getpid();
  std::vector<sock_filter> f = BuildFilter(self);
  const uint64_t args0[] = {0, CLONE_THREAD, static_cast<uint64_t>(self), static_cast<uint64_t>(self) + 1, SIGSYS, SIGSYS - 1};
  const uint64_t args1[] = {0, 1, uint64_t{1} << 32};
  int mismatches = 0;
  for (int nr = -1; nr < 1024 + 1; nr++) {
    for (uint64_t a0 : args0) {
      for (uint64_t a1 : args1) {
        for (uint32_t arch : {static_cast<uint32_t>(AUDIT_ARCH_X86_64), static_cast<uint32_t>(AUDIT_ARCH_I386)}) {
          seccomp_data d{};
          d.nr = nr == 1024 ? 0x40000000 : nr;  // the last: an x32 call
          d.arch = arch;
          d.args[0] = a0;
          d.args[1] = a1;
          if (RunFilter(f, d) != Expected(d, self)) mismatches++;
        }
      }
    }
  }
  napi_value out;
  napi_create_object(env, &out);
  napi_set_named_property(env, out, "instructions", Number(env, static_cast<double>(f.size())));
  napi_set_named_property(env, out, "mismatches", Number(env, mismatches));
  return out;
}

// Checks sandboxEnter's / sandboxBegin's arguments and installs the SIGSYS handler that
// counts in `counters` (kept alive for the process's life). False with an exception pending.
bool Prepare(napi_env env, napi_callback_info info, int64_t* uid, int64_t* gid) {
  napi_value argv[3];
  if (!Args(env, info, 3, argv)) return false;
  void* data;
  size_t length;
  napi_value unused;
  if (!GetTypedArray(env, argv[0], napi_int32_array, "counters", &data, &length, &unused) ||
      !GetInt64(env, argv[1], -1, 0x7fffffff, "uid", uid) || !GetInt64(env, argv[2], -1, 0x7fffffff, "gid", gid))
    return false;
  if (length < kReasonCount) {
    ThrowArgument(env, true, "counters needs one word per sandbox reason");
    return false;
  }
  if (g_entered) {
    ThrowArgument(env, false, "this process is already sandboxed");
    return false;
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
    return false;
  }
  return true;
}

// What failed in `DropAndFilter`, and its errno (0: nothing failed).
struct Outcome {
  const char* what = nullptr;
  int err = 0;
};

// The drop to `uid`/`gid` (when root and uid >= 0), no new privileges, and the filter on
// every thread (TSYNC). Runs on any thread of the process: the id changes reach every
// thread (glibc's setxid broadcast), TSYNC too.
Outcome DropAndFilter(int64_t uid, int64_t gid) {
  if (uid >= 0 && geteuid() == 0) {
    gid_t g = static_cast<gid_t>(gid >= 0 ? gid : uid);
    // Each of these calls stops every thread of the process (glibc's setxid broadcast), so
    // the ones with nothing to change are skipped: the host starts instance processes with
    // their groups dropped and their gid set already (spawn's `gid`).
    gid_t rg, eg, sg;
    bool same_gid = getresgid(&rg, &eg, &sg) == 0 && rg == g && eg == g && sg == g;
    if ((getgroups(0, nullptr) != 0 && setgroups(0, nullptr) != 0) || (!same_gid && setresgid(g, g, g) != 0) ||
        setresuid(static_cast<uid_t>(uid), static_cast<uid_t>(uid), static_cast<uid_t>(uid)) != 0)
      return {"drop to an unprivileged uid", errno};
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return {"PR_SET_NO_NEW_PRIVS", errno};
  std::vector<sock_filter> filter = BuildFilter(getpid());
  sock_fprog prog{static_cast<unsigned short>(filter.size()), filter.data()};
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
  // r > 0: the id of a thread that could not be synchronised.
  if (r != 0) return {"seccomp (TSYNC)", r > 0 ? ESRCH : errno};
  return {};
}

// Dies with the controller: on the main thread (the process's leader, whose setting the
// kernel reads), after the uid change (which clears it). A parent that is already gone
// leaves the process to init: then fail.
bool DieWithParent(napi_env env) {
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != parent || parent == 1) {
    ThrowErrno(env, "PR_SET_PDEATHSIG", errno == 0 ? ESRCH : errno);
    return false;
  }
  return true;
}

// sandboxEnter(counters, uid, gid): from now on, for every thread of this process, the
// calls above fail with EPERM and are counted in `counters` (Int32Array of at least
// kReasonCount words over shared memory, kept alive for the process's life). When the
// process runs as root and `uid` ≥ 0, it first drops to uid/gid (a second layer). The
// process also dies with its parent (PR_SET_PDEATHSIG). Once per process; irreversible.
napi_value SandboxEnter(napi_env env, napi_callback_info info) {
  int64_t uid, gid;
  if (!Prepare(env, info, &uid, &gid)) return nullptr;
  g_entered = true;
  Outcome o = DropAndFilter(uid, gid);
  if (o.what != nullptr) {
    ThrowErrno(env, o.what, o.err);
    return nullptr;
  }
  if (!DieWithParent(env)) return nullptr;
  return Number(env, kReasonCount);
}

// The sandbox entered on a thread of its own (`sandboxBegin` … `sandboxFinish`).
struct Entering {
  pthread_t thread;
  int64_t uid, gid;
  Outcome outcome;
};
Entering* g_entering = nullptr;

void* EnterOnThread(void* arg) {
  auto* e = static_cast<Entering*>(arg);
  e->outcome = DropAndFilter(e->uid, e->gid);
  return nullptr;
}

// sandboxBegin(counters, uid, gid): sandboxEnter's arguments and checks; the id drop and
// the filter run on a new thread while the caller goes on (the id changes stop every
// thread of the process, and on a busy machine wait for each to be scheduled: this way
// the caller's own work overlaps them). `sandboxFinish()` waits for them and completes the
// entry; nothing may count on the sandbox before it returned. Once per process.
napi_value SandboxBegin(napi_env env, napi_callback_info info) {
  int64_t uid, gid;
  if (!Prepare(env, info, &uid, &gid)) return nullptr;
  auto* e = new (std::nothrow) Entering{};
  if (e == nullptr) {
    napi_throw_error(env, "NFVKIT_ERR_NATIVE", "out of memory");
    return nullptr;
  }
  e->uid = uid;
  e->gid = gid;
  int err = pthread_create(&e->thread, nullptr, EnterOnThread, e);
  if (err != 0) {
    delete e;
    ThrowErrno(env, "pthread_create", err);
    return nullptr;
  }
  g_entered = true;
  g_entering = e;
  return Undefined(env);
}

// sandboxFinish() → kReasonCount: waits for the thread `sandboxBegin` started, throws what
// it failed at, and sets the parent-death signal (on this thread: the process's leader).
napi_value SandboxFinish(napi_env env, napi_callback_info) {
  Entering* e = g_entering;
  if (e == nullptr) {
    ThrowArgument(env, false, "sandboxFinish without sandboxBegin");
    return nullptr;
  }
  g_entering = nullptr;
  int err = pthread_join(e->thread, nullptr);
  Outcome o = err != 0 ? Outcome{"pthread_join", err} : e->outcome;
  delete e;
  if (o.what != nullptr) {
    ThrowErrno(env, o.what, o.err);
    return nullptr;
  }
  if (!DieWithParent(env)) return nullptr;
  return Number(env, kReasonCount);
}

}  // namespace

void RegisterSandbox(napi_env env, napi_value exports) {
  napi_property_descriptor fns[] = {
      {"sandboxEnter", nullptr, SandboxEnter, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"sandboxBegin", nullptr, SandboxBegin, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"sandboxFinish", nullptr, SandboxFinish, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
      {"sandboxFilterCheck", nullptr, SandboxFilterCheck, nullptr, nullptr, nullptr, napi_enumerable, nullptr},
  };
  napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns);
  napi_value n;
  napi_create_int32(env, kReasonCount, &n);
  napi_set_named_property(env, exports, "sandboxReasons", n);
}

}  // namespace nfvkit
