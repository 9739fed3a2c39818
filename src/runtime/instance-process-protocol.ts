/**
 * What an instance process and its host say to each other (see `instance-process.ts`, the
 * process's entry, for the descriptors and the order of things).
 */

/**
 * The bootstrap's arguments: `node <bootstrap> <heap MiB> [cold]`. The first is the limit of
 * its old generation (set by the bootstrap before anything else runs, `NativeAddon.heapLimit`);
 * `cold` when the process is started for one instance, its boot message already written (no
 * warm-up, no `idle`).
 */
export const ProcessArg = { HEAP_MIB: 2, COLD: 3 } as const;

/** The bootstrap's last argument when the process is started for one instance (see `ProcessArg`). */
export const COLD_ARGUMENT = 'cold';

/** Descriptor numbers of an instance process (see the module documentation). */
export const ProcessFd = { BOOT: 0, MESSAGES: 3, MEMORY: 4, WARM_MEMORY: 5, HOST_WAKE: 6 } as const;

/**
 * Import an image ahead and rehearse its start-up (a warm process, before its boot); with
 * `counters`, also build its pipeline on that range of the warm pool's memfd (fd 5 of
 * `warmBytes`), which the host gives the instance as its counters if it boots this image.
 */
export interface ProcessPreloadMessage {
  readonly type: 'preload';
  readonly imagePath: string;
  readonly counters?: { readonly offset: number; readonly length: number; readonly warmBytes: number };
}

/**
 * Sent by a warm pool the moment it takes the process for an instance, before it builds the
 * instance's devices: the process maps the data plane's memfd now and, when nothing left of
 * its boot reads a file (`imagePath` preloaded, `files` false), enters its sandbox now too,
 * counting denied calls on the `sandbox.counters` range of that memory (the instance's
 * `sandboxSab`). Both then overlap the host's set-up instead of following the boot message.
 */
export interface ProcessArmMessage {
  readonly type: 'arm';
  /** Absolute path of the image the boot will name. */
  readonly imagePath: string;
  /** The data plane's memfd, opened at `path` (`/proc/<host>/fd/<n>`), `bytes` long: the boot message names the same. */
  readonly memory: { readonly path: string; readonly bytes: number };
  /** The sandbox to enter (uid −1: keep it) and where its counters lie in `memory`; null: none. */
  readonly sandbox: { readonly uid: number; readonly gid: number; readonly counters: { readonly offset: number; readonly length: number } } | null;
  /** The boot will import files (port or direct-link runtimes): the sandbox waits for `ready` as without arming. */
  readonly files: boolean;
  /**
   * Ranges of `memory` every boot writes to (the pool's header, free stack and buffer
   * metadata): the process reads one byte of each page now, which maps them, so that the
   * boot's first writes there cost no page fault each (absent: none).
   */
  readonly touch?: ReadonlyArray<{ readonly offset: number; readonly length: number }>;
}

/** A line the host writes on fd 0: preloads (any number), at most one arm, then one boot. */
export type ProcessHostMessage = ProcessPreloadMessage | ProcessArmMessage | ProcessBootMessage;

/** The last line the host writes on fd 0: what to run. */
export interface ProcessBootMessage {
  readonly type: 'boot';
  /** Absolute path of the sealed image. */
  readonly imagePath: string;
  /** The data plane's memfd: inherited as `fd`, or opened at `path` (`/proc/<host>/fd/<n>`, for a process started ahead); `bytes` long. */
  readonly memory: { readonly fd: number; readonly bytes: number } | { readonly path: string; readonly bytes: number };
  /** `InstanceWorkerData` with its buffers as ranges (`encodeSharedRefs`; memory 0: the data plane's, 1: the warm pool's). */
  readonly data: unknown;
  /** Enter the sandbox before `ready`, dropping to this uid/gid when root (uid −1: keep it); null: no sandbox. */
  readonly sandbox: { readonly uid: number; readonly gid: number } | null;
}

/** What a process says once it waits for its boot message (loader warmed), and again after each preload. */
export interface ProcessIdle {
  readonly type: 'idle';
}

/** What the process says when the instance threw (then it exits with code 70). */
export interface ProcessCrash {
  readonly type: 'crashed';
  readonly name: string;
  readonly message: string;
}
