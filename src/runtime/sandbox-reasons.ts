/**
 * What the instance sandbox denies, one counter each (the native addon counts in this
 * order: `Reason` in native/src/sandbox.cc). A denied call fails inside the instance with
 * EPERM; the host reads the counts from shared memory (`InstanceHost.sandboxCounters`)
 * and exports them as `nfvkit_sandbox_denied_total{reason}`.
 */
export const SANDBOX_REASONS = [
  /** Opening, creating, renaming or removing files by path; chdir, chroot. */
  'file',
  /** New sockets, connect, bind, listen, accept (only the descriptors it was handed work). */
  'socket',
  /** execve, fork, vfork, clone of a new process. */
  'exec',
  /** A signal to any other process (kill, tgkill, tkill, sigqueue, pidfd). */
  'signal',
  /** ptrace, reading or writing another process's memory. */
  'trace',
  /** io_uring, mount, namespaces, bpf, modules, keyrings and other kernel facilities. */
  'kernel',
  /** Replacing the handler that counts these denials. */
  'sigsys',
] as const;

/** One of `SANDBOX_REASONS`. */
export type SandboxReason = (typeof SANDBOX_REASONS)[number];

/** The unprivileged uid/gid an instance process drops to when the controller runs as root (`nobody`). */
export const SANDBOX_UID = 65534;
