import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NetlabError } from '../errors/catalog.ts';
import { PACKAGE_ROOT } from '../image/package-info.ts';
import { labId, MAX_INTERFACE_NAME, sanitizeRole } from './lab-names.ts';
import { LabProcess } from './lab-process.ts';
import { runCommand, type CommandResult, type RunCommandOptions } from './run-command.ts';

/**
 * Something a `Lab` created. `ns` is the namespace it lives in (`null`: the root namespace).
 * Addresses, routes, fdb entries and nft rules live inside a lab namespace or on a lab
 * device and vanish with it; they are recorded so `resources` tells the whole story.
 */
export type LabResource =
  | { readonly kind: 'namespace'; readonly name: string }
  | { readonly kind: 'link'; readonly ns: string | null; readonly name: string; readonly type: 'veth' | 'vxlan' }
  | { readonly kind: 'address'; readonly ns: string | null; readonly dev: string; readonly cidr: string }
  | { readonly kind: 'route'; readonly ns: string; readonly dst: string; readonly via: string }
  | { readonly kind: 'fdb'; readonly ns: string; readonly dev: string; readonly dst: string; readonly port: number }
  | { readonly kind: 'nft'; readonly ns: string; readonly script: string }
  | { readonly kind: 'process'; readonly ns: string; readonly process: LabProcess };

/** One end of a veth pair. */
export interface VethEnd {
  /** Lab namespace of this end, or `null` for the root namespace. */
  readonly ns: string | null;
  /** Device name (default: generated, unique to the lab). */
  readonly name?: string;
  /** Address to put on it, CIDR (`198.19.7.1/30`). */
  readonly address?: string;
}

/** A VXLAN device (RFC 7348) in a lab namespace, over an underlay device there. */
export interface VxlanDeviceOptions {
  readonly ns: string;
  readonly vni: number;
  /** Underlay device (e.g. the namespace's veth end). */
  readonly dev: string;
  /** Underlay source address. */
  readonly local: string;
  /** Underlay address of the far end (the chain's VXLAN port). */
  readonly remote: string;
  /** UDP port the device listens on, and sends to unless `remotePort` says otherwise (default 4789). */
  readonly port?: number;
  /**
   * UDP port of the far end, when it differs from `port` (added as the default fdb entry).
   * The device is then made with `nolearning`: the kernel would learn the far end's MACs
   * with `port` as their destination, and unicast would miss the far end.
   */
  readonly remotePort?: number;
  /** Overlay address, CIDR (`198.18.1.2/24`). */
  readonly address?: string;
  /** Device name (default: generated). */
  readonly name?: string;
  /**
   * Keep TX checksum offload on (default false: turned off with `ethtool -K … tx off`).
   * With offload on, a frame crossing veth keeps its inner TCP/UDP checksum unfinished,
   * and a user-space VXLAN endpoint would forward it with a wrong checksum.
   */
  readonly txChecksumOffload?: boolean;
}

/** A /30 underlay link: network and its two host addresses. */
export interface Subnet30 {
  /** First host (`x.y.z.1`-like), usually the root-namespace end. */
  readonly a: string;
  /** Second host, usually the lab-namespace end. */
  readonly b: string;
  readonly cidrA: string;
  readonly cidrB: string;
}

/** What `destroy()` did. */
export interface LabDestroyReport {
  /** Resources undone or released. */
  readonly removed: number;
  /** Failures met on the way (destroy continues past them). */
  readonly errors: readonly string[];
  /** Lab namespaces and root-namespace devices still present afterwards (must be empty). */
  readonly leftovers: readonly string[];
}

/** Options of `Lab`. */
export interface LabOptions {
  /** First characters of every name (default `nfv`; letters and digits, at most 3 used for devices). */
  readonly prefix?: string;
  /** Timeout of each `ip`/`nft` command, ms (default 10 000). */
  readonly commandTimeoutMs?: number;
}

/** Underlay /30s are drawn from 198.19.0.0/16 (RFC 2544 range; overlays use 198.18.0.0/16). */
const UNDERLAY_BASE = 0xc6130000;

/**
 * A network lab: network namespaces, veth pairs, VXLAN devices, addresses, routes, nft
 * rules and processes, all named uniquely per lab (`<prefix>-<id>-<role>`) and recorded as
 * they are created; `destroy()` undoes them in reverse order, goes on past failures, and
 * reports what (if anything) is left. Safety rails: everything but a veth end happens in a
 * namespace this lab created, and addresses go only on devices it created.
 *
 * Always destroy in `finally`:
 *
 * @example
 * ```ts
 * const lab = new Lab();
 * try {
 *   const client = await lab.namespace('client');
 *   const net = await lab.underlay30();
 *   const { b: cu } = await lab.veth({ ns: null, address: net.cidrA }, { ns: client, address: net.cidrB });
 *   await lab.vxlan({ ns: client, vni: 100, dev: cu, local: net.b, remote: net.a, address: '198.18.1.2/24' });
 *   await lab.route(client, '198.18.2.0/24', '198.18.1.1');
 *   const p = lab.spawnNode(client, new URL('./client.ts', import.meta.url));
 *   await p.exited;
 * } finally {
 *   const report = await lab.destroy(); // report.errors, report.leftovers: both empty
 * }
 * ```
 */
export class Lab {
  /** This lab's unique id (part of every name). */
  readonly id: string;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly records: LabResource[] = [];
  private readonly namespaces = new Set<string>();
  private readonly rootLinks = new Set<string>();
  private readonly linkNames = new Set<string>();
  private destroyed = false;
  private linkCount = 0;

  constructor(options: LabOptions = {}) {
    const prefix = sanitizeRole(options.prefix ?? 'nfv', 8);
    if (prefix === '') throw new NetlabError(`lab prefix '${options.prefix}' has no letter or digit`);
    this.prefix = prefix;
    this.id = labId();
    this.timeoutMs = options.commandTimeoutMs ?? 10_000;
  }

  /** Everything created so far, in creation order. */
  get resources(): readonly LabResource[] {
    return this.records;
  }

  /** Creates a namespace `<prefix>-<id>-<role>` with `lo` up; returns its name. */
  async namespace(role: string): Promise<string> {
    this.assertLive();
    const name = `${this.prefix}-${this.id}-${sanitizeRole(role, 16) || 'ns'}`;
    if (this.namespaces.has(name)) throw new NetlabError(`lab ${this.id} already has a namespace '${name}'`);
    await this.ip(['netns', 'add', name]);
    this.namespaces.add(name);
    this.records.push({ kind: 'namespace', name });
    await this.ip(['-n', name, 'link', 'set', 'lo', 'up']);
    return name;
  }

  /**
   * Picks a /30 in 198.19.0.0/16 that no root-namespace address or route overlaps, for a
   * veth underlay between the root namespace (`a`) and a lab namespace (`b`).
   */
  async underlay30(): Promise<Subnet30> {
    const used = await this.rootPrefixes();
    // Bounded: 64 random draws out of 16 383 /30s.
    for (let attempt = 0; attempt < 64; attempt++) {
      const net = (UNDERLAY_BASE + 4 * (1 + Math.floor(Math.random() * 16383))) >>> 0;
      if (used.some(([addr, mask]) => ((net & mask) >>> 0) === addr || ((addr & 0xfffffffc) >>> 0) === net)) continue;
      const a = ipString(net + 1);
      const b = ipString(net + 2);
      return { a, b, cidrA: `${a}/30`, cidrB: `${b}/30` };
    }
    throw new NetlabError('no free /30 found in 198.19.0.0/16 after 64 draws');
  }

  /**
   * Creates a veth pair between two namespaces of this lab (or one of them and the root
   * namespace), puts the addresses on and brings both ends up. Returns the device names.
   */
  async veth(a: VethEnd, b: VethEnd): Promise<{ a: string; b: string }> {
    this.assertLive();
    this.assertNs(a.ns, true);
    this.assertNs(b.ns, true);
    if (a.ns === null && b.ns === null) throw new NetlabError('a veth pair needs at least one end in a lab namespace');
    const nameA = this.deviceName(a.name);
    const nameB = this.deviceName(b.name);
    // Created in the root namespace, then each end moved (the root end stays: both-root is refused above).
    await this.ip(['link', 'add', nameA, 'type', 'veth', 'peer', 'name', nameB]);
    const home = a.ns === null ? nameA : nameB;
    this.rootLinks.add(home);
    this.records.push({ kind: 'link', ns: null, name: home, type: 'veth' });
    if (a.ns !== null) await this.ip(['link', 'set', nameA, 'netns', a.ns]);
    if (b.ns !== null) await this.ip(['link', 'set', nameB, 'netns', b.ns]);
    if (a.ns !== null && b.ns !== null) {
      // Neither end is in the root namespace any more: the pair goes with either namespace.
      this.rootLinks.delete(home);
      this.records.pop();
      this.records.push({ kind: 'link', ns: a.ns, name: nameA, type: 'veth' });
    }
    for (const [end, name] of [[a, nameA], [b, nameB]] as const) {
      if (end.address !== undefined) await this.address(end.ns, name, end.address);
      await this.ip([...nsArgs(end.ns), 'link', 'set', name, 'up']);
    }
    return { a: nameA, b: nameB };
  }

  /**
   * Creates a VXLAN device in a lab namespace (`ip link add … type vxlan id … local …
   * dev …`), with `remote` as its default destination (or, when `remotePort` is given, an
   * all-zeros fdb entry to `remote:remotePort` and no MAC learning), TX checksum offload
   * off (see `txChecksumOffload`), an optional address, and brings it up.
   * Returns the device name.
   */
  async vxlan(o: VxlanDeviceOptions): Promise<string> {
    this.assertLive();
    this.assertNs(o.ns, false);
    if (!Number.isInteger(o.vni) || o.vni < 0 || o.vni > 0xffffff) throw new NetlabError(`VNI ${o.vni} is not a 24-bit number`);
    const name = this.deviceName(o.name);
    const port = o.port ?? 4789;
    const args = ['-n', o.ns, 'link', 'add', name, 'type', 'vxlan', 'id', String(o.vni), 'local', o.local, 'dev', o.dev, 'dstport', String(port)];
    if (o.remotePort === undefined) args.push('remote', o.remote);
    else args.push('nolearning');
    await this.ip(args);
    this.records.push({ kind: 'link', ns: o.ns, name, type: 'vxlan' });
    if (o.remotePort !== undefined) {
      await this.ip(['-n', o.ns, 'fdb', 'append', '00:00:00:00:00:00', 'dev', name, 'dst', o.remote, 'port', String(o.remotePort)], 'bridge');
      this.records.push({ kind: 'fdb', ns: o.ns, dev: name, dst: o.remote, port: o.remotePort });
    }
    if (o.txChecksumOffload !== true) {
      const r = await runCommand('ip', ['netns', 'exec', o.ns, 'ethtool', '-K', name, 'tx', 'off'], { allowFailure: true, timeoutMs: this.timeoutMs }).catch((err: Error) => err);
      if (r instanceof Error || r.code !== 0) {
        const why = r instanceof Error ? r.message : r.stderr.trim();
        throw new NetlabError(`cannot turn off TX checksum offload on ${name} (apt-get install -y ethtool): ${why}`);
      }
    }
    if (o.address !== undefined) await this.address(o.ns, name, o.address);
    await this.ip(['-n', o.ns, 'link', 'set', name, 'up']);
    return name;
  }

  /**
   * Adds an address (CIDR) to a device in a lab namespace, or to a root-namespace device this
   * lab created. An IPv6 address skips duplicate address detection (`nodad`): the lab's
   * addresses are unique by construction, and DAD would keep it tentative (unusable) for
   * about a second.
   */
  async address(ns: string | null, dev: string, cidr: string): Promise<void> {
    this.assertLive();
    this.assertNs(ns, true);
    if (ns === null && !this.rootLinks.has(dev)) throw new NetlabError(`'${dev}' is not a root-namespace device of lab ${this.id}`);
    await this.ip([...nsArgs(ns), 'addr', 'add', cidr, 'dev', dev, ...(cidr.includes(':') ? ['nodad'] : [])]);
    this.records.push({ kind: 'address', ns, dev, cidr });
  }

  /** Adds (or replaces) a route in a lab namespace: `ip route replace dst via gateway`. */
  async route(ns: string, dst: string, via: string): Promise<void> {
    this.assertLive();
    this.assertNs(ns, false);
    await this.ip(['-n', ns, 'route', 'replace', dst, 'via', via]);
    this.records.push({ kind: 'route', ns, dst, via });
  }

  /** Loads an nft script (`nft -f -`) in a lab namespace. */
  async nft(ns: string, script: string): Promise<void> {
    this.assertLive();
    this.assertNs(ns, false);
    await runCommand('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], { input: script, timeoutMs: this.timeoutMs });
    this.records.push({ kind: 'nft', ns, script });
  }

  /**
   * Reads a named nft counter (`counter <name>` object of `table <family> <table>`) in a lab
   * namespace.
   *
   * @example
   * ```ts
   * await lab.nft(ns, `table inet t {
   *   counter ttl63 {}
   *   chain c { type filter hook input priority 0; ip ttl 63 counter name ttl63; }
   * }`);
   * (await lab.nftCounter(ns, 'inet', 't', 'ttl63')).packets;
   * ```
   */
  async nftCounter(ns: string, family: string, table: string, name: string): Promise<{ packets: number; bytes: number }> {
    this.assertNs(ns, false);
    const { stdout } = await this.exec(ns, 'nft', ['-j', 'list', 'counter', family, table, name]);
    const doc = JSON.parse(stdout) as { nftables?: Array<{ counter?: { packets: number; bytes: number } }> };
    const found = doc.nftables?.find((x) => x.counter !== undefined)?.counter;
    if (found === undefined) throw new NetlabError(`no counter ${family} ${table} ${name} in ${ns}`);
    return { packets: found.packets, bytes: found.bytes };
  }

  /** Runs a command inside a lab namespace (`ip netns exec ns file args…`) and waits for it. */
  exec(ns: string, file: string, args: readonly string[] = [], options: RunCommandOptions = {}): Promise<CommandResult> {
    this.assertNs(ns, false);
    return runCommand('ip', ['netns', 'exec', ns, file, ...args], { timeoutMs: this.timeoutMs, ...options });
  }

  /** Starts a command inside a lab namespace; the lab ends it on `destroy()` if it still runs. */
  spawn(ns: string, file: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): LabProcess {
    this.assertLive();
    this.assertNs(ns, false);
    const child = spawn('ip', ['netns', 'exec', ns, file, ...args], { cwd: PACKAGE_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = new LabProcess(child, ns, `[${ns}] ${file} ${args.join(' ')}`);
    this.records.push({ kind: 'process', ns, process: proc });
    return proc;
  }

  /**
   * Starts a Node script inside a lab namespace (a `.ts` script through tsx, resolved from
   * the package root). Its sockets live in that namespace.
   */
  spawnNode(ns: string, script: URL | string, args: readonly string[] = [], env: NodeJS.ProcessEnv = process.env): LabProcess {
    const path = script instanceof URL ? fileURLToPath(script) : script;
    const nodeArgs = path.endsWith('.ts') ? ['--import', 'tsx', path, ...args] : [path, ...args];
    return this.spawn(ns, process.execPath, nodeArgs, env);
  }

  /** Lab namespaces and root-namespace devices that exist right now. */
  async present(): Promise<string[]> {
    const out: string[] = [];
    const nsList = await runCommand('ip', ['netns', 'list'], { timeoutMs: this.timeoutMs });
    const names = new Set(nsList.stdout.split('\n').map((l) => l.split(' ')[0]).filter((s) => s !== ''));
    for (const r of this.records) {
      if (r.kind === 'namespace' && names.has(r.name)) out.push(`namespace ${r.name}`);
    }
    for (const dev of this.rootLinks) {
      const r = await runCommand('ip', ['link', 'show', 'dev', dev], { allowFailure: true, timeoutMs: this.timeoutMs });
      if (r.code === 0) out.push(`root device ${dev}`);
    }
    return out;
  }

  /**
   * Undoes everything in reverse order of creation: ends processes (SIGTERM, then SIGKILL),
   * deletes devices explicitly (a VXLAN device must be gone before its VNI is reused; `ip
   * netns del` frees devices lazily), then namespaces. Failures are collected, never thrown,
   * and the lab checks what is left. Calling it again does nothing.
   */
  async destroy(): Promise<LabDestroyReport> {
    if (this.destroyed) return { removed: 0, errors: [], leftovers: [] };
    this.destroyed = true;
    const errors: string[] = [];
    let removed = 0;
    const gone = new Set<string>();
    for (let i = this.records.length - 1; i >= 0; i--) {
      const r = this.records[i];
      try {
        switch (r.kind) {
          case 'process':
            await r.process.kill();
            break;
          case 'link': {
            if (r.ns !== null && gone.has(r.ns)) break;
            const res = await runCommand('ip', [...nsArgs(r.ns), 'link', 'del', r.name], { allowFailure: true, timeoutMs: this.timeoutMs });
            // The other end of a veth takes its peer with it: "Cannot find device" is success.
            if (res.code !== 0 && !/Cannot find device|does not exist/i.test(res.stderr)) errors.push(`link ${r.name}: ${res.stderr.trim()}`);
            break;
          }
          case 'namespace': {
            const res = await runCommand('ip', ['netns', 'del', r.name], { allowFailure: true, timeoutMs: this.timeoutMs });
            if (res.code !== 0) errors.push(`namespace ${r.name}: ${res.stderr.trim()}`);
            else gone.add(r.name);
            break;
          }
          default:
            // Addresses, routes, fdb entries and nft rules go with their device or namespace.
            break;
        }
        removed++;
      } catch (err) {
        errors.push(`${r.kind}: ${(err as Error).message}`);
      }
    }
    let leftovers: string[] = [];
    try {
      leftovers = await this.present();
    } catch (err) {
      errors.push(`checking leftovers: ${(err as Error).message}`);
    }
    this.records.length = 0;
    this.rootLinks.clear();
    return { removed, errors, leftovers };
  }

  private async ip(args: string[], tool: 'ip' | 'bridge' = 'ip'): Promise<CommandResult> {
    return runCommand(tool, args, { timeoutMs: this.timeoutMs });
  }

  private deviceName(requested: string | undefined): string {
    const name = requested ?? `${this.prefix.slice(0, 3)}${this.id}d${this.linkCount++}`;
    if (name.length > MAX_INTERFACE_NAME || !/^[A-Za-z0-9_.-]+$/.test(name)) throw new NetlabError(`'${name}' is not a valid device name (≤ 15 characters)`);
    if (this.linkNames.has(name)) throw new NetlabError(`lab ${this.id} already has a device '${name}'`);
    this.linkNames.add(name);
    return name;
  }

  private assertNs(ns: string | null, rootAllowed: boolean): void {
    if (ns === null) {
      if (!rootAllowed) throw new NetlabError('this operation is only done inside a lab namespace');
      return;
    }
    if (!this.namespaces.has(ns)) throw new NetlabError(`'${ns}' is not a namespace of lab ${this.id}`);
  }

  private assertLive(): void {
    if (this.destroyed) throw new NetlabError(`lab ${this.id} has been destroyed`);
  }

  private async rootPrefixes(): Promise<Array<[number, number]>> {
    const out: Array<[number, number]> = [];
    const addrs = await runCommand('ip', ['-4', '-o', 'addr', 'show'], { timeoutMs: this.timeoutMs });
    const routes = await runCommand('ip', ['-4', 'route', 'show', 'table', 'all'], { timeoutMs: this.timeoutMs });
    for (const m of `${addrs.stdout}\n${routes.stdout}`.matchAll(/(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/g)) {
      const addr = ipNumber(m[1]);
      const prefix = m[2] === undefined ? 32 : Number(m[2]);
      const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
      if (prefix > 0) out.push([(addr & mask) >>> 0, mask]);
    }
    return out;
  }
}

function nsArgs(ns: string | null): string[] {
  return ns === null ? [] : ['-n', ns];
}

function ipString(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

function ipNumber(s: string): number {
  return s.split('.').reduce((acc, b) => acc * 256 + Number(b), 0) >>> 0;
}
