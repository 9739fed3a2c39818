/**
 * `nfvkit up [chain.yaml]`: the embedded default. Starts a controller and its data plane in
 * this process, restores the chains of its state directory (`--state-dir`, default
 * `<data-dir>/state`, see docs/state.md) with their generation and replicas, then starts
 * the gRPC controller API (`--listen`, default 127.0.0.1:50051, so the client commands
 * work against it) and the metrics endpoint (`--metrics`, default 127.0.0.1:9464), applies
 * the file if one is given, then shows live per-function rates every second
 * (in place on a terminal, appended otherwise; `--no-top` hides them) until Ctrl-C, SIGTERM
 * or `--duration`. Then it shuts everything down cleanly and prints a summary: frames in and
 * out, drops by reason, leaked buffers. Exit 0 on a clean stop.
 *
 * @example
 * ```sh
 * nfvkit up topologies/web-edge.yaml --duration 15
 * nfvkit up chain.yaml --listen 0.0.0.0:50051 --tls-cert srv.crt --tls-key srv.key --tls-ca ca.crt
 * nfvkit up replay.yaml --data-dir /srv/nfvkit   # pcap paths resolve in /srv/nfvkit/read and /srv/nfvkit/write
 * nfvkit up --data-dir /srv/nfvkit                # no file: run the chains stored in /srv/nfvkit/state
 * nfvkit up --image-grace 1h --image-store-cap 2Gi  # unused images kept 1 h; the store kept under 2 GiB
 * ```
 *
 * Images no chain uses leave the image store `--image-grace` after their last use (default
 * 10 min), and the least recently used unused ones go early when a build pushes the store
 * over `--image-store-cap`; `--no-image-gc` keeps every image (see docs/image-store.md).
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Option, type Command } from 'commander';
import type { ChainTraffic, ControllerApi } from '../../controller/controller-api.ts';
import type { RestoreResult } from '../../controller/controller.ts';
import { DataDir } from '../../controller/data-dir.ts';
import { InvalidArgumentError, NotFoundError } from '../../errors/catalog.ts';
import { parseListenAddress } from '../../grpc/listen-address.ts';
import type { ServerTlsOptions } from '../../grpc/server-tls.ts';
import { ImageStore } from '../../image/image-store.ts';
import { checkMetricsExposure } from '../../metrics/metrics-server.ts';
import { DEFAULT_STATE_DIR, STATE_DIR_ENV, StateStore } from '../../controller/state-store.ts';
import { describePacketIo } from '../../native/native-addon.ts';
import { describeInstanceMode } from '../../dataplane/chain-data-plane.ts';
import { println, type CliContext } from '../cli-context.ts';
import { DEFAULT_IMAGE_GRACE_MS } from '../../controller/image-gc.ts';
import { byteSize, durationMs, positiveNumber, wholeNumber } from '../arg-parsers.ts';
import { DEFAULT_SERVER, readPem, TOKEN_ENV } from '../connection.ts';
import { startEmbeddedController, type EmbeddedController } from '../embedded-controller.ts';
import { allChainSummaries } from '../all-chain-summaries.ts';
import { ratesByFunction } from '../function-rates.ts';
import { LiveDisplay } from '../live-display.ts';
import { readTextInput } from '../read-input.ts';
import { RunSummary } from '../run-summary.ts';
import { storeOption } from '../store-option.ts';
import { formatAge, formatBytes, formatRate } from '../units.ts';
import { functionRatesTable } from '../views/rates-table.ts';

/** Default metrics endpoint of `up` (Prometheus exporters' customary port range). */
export const DEFAULT_METRICS_ADDRESS = '127.0.0.1:9464';

interface UpFlags {
  listen: string;
  metrics: string | false;
  metricsUnauthenticated?: boolean;
  duration?: number;
  token?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  top: boolean;
  interval: number;
  drain: number;
  warm: number;
  store?: string;
  stateDir?: string;
  state: boolean;
  dataDir?: string;
  readDir?: string;
  writeDir?: string;
  imageGc: boolean;
  imageGrace: number;
  imageStoreCap?: number;
}

/** `unused images removed 10m after their last use, no size cap` (or why none are). */
function describeImageGc(opts: UpFlags): string {
  if (!opts.imageGc) return 'images kept (--no-image-gc)';
  const cap = opts.imageStoreCap === undefined ? 'no size cap' : `cap ${formatBytes(opts.imageStoreCap)}`;
  return `unused images removed ${opts.imageGrace === 0 ? 'at once' : `${formatAge(opts.imageGrace)} after their last use`}, ${cap}`;
}

/** The `--metrics` endpoint, refused before anything starts if it would be open to the network unprotected. */
function metricsEndpoint(opts: UpFlags, token: string | undefined, tls: ServerTlsOptions | undefined): { host: string; port: number; unauthenticated: boolean } | undefined {
  if (opts.metrics === false) return undefined;
  const parsed = parseListenAddress(opts.metrics);
  if (parsed.unix) throw new InvalidArgumentError(`--metrics: expected host:port, got ${opts.metrics}`);
  const unauthenticated = opts.metricsUnauthenticated === true;
  checkMetricsExposure(parsed.host, parsed.port, { token, tls, unauthenticated });
  return { host: parsed.host, port: parsed.port, unauthenticated };
}

function serverTls(opts: UpFlags): ServerTlsOptions | undefined {
  if (opts.tlsCert === undefined && opts.tlsKey === undefined) {
    if (opts.tlsCa !== undefined) throw new InvalidArgumentError('--tls-ca needs --tls-cert and --tls-key (the server certificate)');
    return undefined;
  }
  if (opts.tlsCert === undefined || opts.tlsKey === undefined) throw new InvalidArgumentError('--tls-cert and --tls-key go together');
  const cert = readPem('--tls-cert', opts.tlsCert);
  const key = readPem('--tls-key', opts.tlsKey);
  return opts.tlsCa === undefined ? { cert, key } : { cert, key, ca: readPem('--tls-ca', opts.tlsCa), requireClientCert: true };
}

/**
 * A signal that aborts with `interrupted` or after `seconds`. (Not `AbortSignal.any` with
 * `AbortSignal.timeout`: Node may collect such a timeout signal before it fires.)
 */
function stopAfter(interrupted: AbortSignal, seconds: number | undefined): { signal: AbortSignal; dispose(): void } {
  const stop = new AbortController();
  const abort = (): void => stop.abort();
  const timer = seconds === undefined ? undefined : setTimeout(abort, Math.round(seconds * 1000));
  if (interrupted.aborted) stop.abort();
  else interrupted.addEventListener('abort', abort, { once: true });
  return {
    signal: stop.signal,
    dispose: () => {
      clearTimeout(timer);
      interrupted.removeEventListener('abort', abort);
    },
  };
}

/** Frames in/out per chain since the previous frame, for the header lines. */
class TrafficRates {
  private last = new Map<string, { frames: [number, number]; at: number }>();

  lines(api: ControllerApi, now: number): string[] {
    const next = new Map<string, { frames: [number, number]; at: number }>();
    const lines: string[] = [];
    for (const chain of allChainSummaries(api)) {
      let t: ChainTraffic;
      try {
        t = api.chainTraffic(chain.name);
      } catch (err) {
        if (err instanceof NotFoundError) continue; // deleted since the list was read
        throw err;
      }
      const frames: [number, number] = [t.enteredInside + t.enteredOutside, t.leftInside + t.leftOutside];
      const before = this.last.get(chain.name);
      const dt = before === undefined ? 0 : (now - before.at) / 1000;
      const rate = (i: 0 | 1): string => (before === undefined || dt <= 0 ? '-' : formatRate((frames[i] - before.frames[i]) / dt));
      lines.push(`chain/${chain.name}  ${chain.phase}  frames in ${rate(0)}/s  out ${rate(1)}/s`);
      next.set(chain.name, { frames, at: now });
    }
    this.last = next;
    return lines;
  }
}

/** One live frame: uptime, a line per chain, the per-function rates table. */
function upFrame(api: ControllerApi, traffic: TrafficRates, uptimeMs: number): string {
  const rates = ratesByFunction(api.stats());
  const head = [`nfvkit up ${formatAge(uptimeMs)}`, ...traffic.lines(api, performance.now())];
  return [...head, rates.length === 0 ? '(no instances)' : functionRatesTable(rates)].join('\n');
}

/** `restored 2 chains: a (generation 3), b (generation 1)` or `nothing to restore`. */
function describeRestore(api: ControllerApi, restored: RestoreResult): string {
  const n = restored.restored.length;
  if (n === 0 && restored.failed.length === 0) return 'nothing to restore';
  const each = restored.restored.map((name) => `${name} (generation ${api.getChain(name).generation})`);
  return `restored ${n} chain${n === 1 ? '' : 's'}${n === 0 ? '' : `: ${each.join(', ')}`}${restored.failed.length === 0 ? '' : `; ${restored.failed.length} failed`}`;
}

function describeSecurity(token: string | undefined, tls: ServerTlsOptions | undefined): string {
  const transport = tls === undefined ? 'plaintext' : tls.requireClientCert === true ? 'mutual TLS' : 'TLS';
  return `${transport}${token === undefined ? '' : ', token required'}`;
}

/** Registers `nfvkit up` on `program`; output goes to `ctx`. */
export function registerUpCommand(program: Command, ctx: CliContext): void {
  program
    .command('up')
    .description('run a controller and its data plane in this process, restore the stored chains, apply a chain and show live rates until interrupted')
    .argument('[chain.yaml]', 'chain spec to apply (after the stored chains are restored)')
    .option('--listen <address>', 'gRPC controller address (host:port; port 0 picks a free one)', DEFAULT_SERVER)
    .option('--metrics <address>', 'Prometheus /metrics address (host:port)', DEFAULT_METRICS_ADDRESS)
    .option('--no-metrics', 'do not serve /metrics')
    .option('--metrics-unauthenticated', 'serve /metrics on a non-loopback address without TLS or a token (anyone who reaches it can read it)')
    .option('-d, --duration <seconds>', 'stop after this long (default: run until Ctrl-C or SIGTERM)', positiveNumber)
    .addOption(new Option('--token <token>', `bearer token clients must send (default: $${TOKEN_ENV})`))
    .option('--tls-cert <file>', 'server certificate (PEM): serve TLS')
    .option('--tls-key <file>', 'server private key (PEM)')
    .option('--tls-ca <file>', 'CA (PEM) client certificates must chain to: require mutual TLS')
    .option('--no-top', 'do not print the live rates')
    .option('--interval <ms>', 'refresh period of the live rates, ms', wholeNumber(100, 600_000), 1000)
    .option('--drain <ms>', 'at shutdown, how long flows may take to finish, ms', wholeNumber(0, 600_000), 1000)
    .option('--warm <n>', 'pre-booted isolates kept for fast instance start (0: cold boots only)', wholeNumber(0, 64), 2)
    .addOption(storeOption())
    .option('--state-dir <dir>', `directory the desired state (applied specs, generations, replicas) is kept in and restored from (default: $${STATE_DIR_ENV}, else <data-dir>/state)`)
    .option('--no-state', 'keep the desired state in memory only: restore nothing, save nothing')
    .option('--data-dir <dir>', 'directory of the controller\'s data; spec file paths (pcap read/write) resolve in its read/ and write/ (default: .nfvkit/data)')
    .option('--read-dir <dir>', 'directory pcap `read` paths resolve in (default: <data-dir>/read)')
    .option('--write-dir <dir>', 'directory pcap `write` paths resolve in (default: <data-dir>/write)')
    .option('--image-grace <duration>', 'how long an image no chain uses stays in the image store after its last use (90s, 10m, 1h; 0: at the next collection)', durationMs, DEFAULT_IMAGE_GRACE_MS)
    .option('--image-store-cap <bytes>', 'most bytes the image store may hold: past it, unused images go least recently used first (512Mi, 2Gi, 500M; default: no cap)', byteSize)
    .option('--no-image-gc', 'never remove images from the image store')
    .action(async (file: string | undefined, opts: UpFlags) => {
      const text = file === undefined ? undefined : readTextInput(file);
      const token = opts.token ?? (ctx.env[TOKEN_ENV] || undefined);
      const tls = serverTls(opts);
      const metrics = metricsEndpoint(opts, token, tls);
      const interrupted = ctx.stopSignal();

      const stateDir = opts.stateDir ?? (ctx.env[STATE_DIR_ENV] || undefined) ?? (opts.dataDir === undefined ? DEFAULT_STATE_DIR : join(opts.dataDir, 'state'));
      const stateStore = opts.state ? StateStore.open(stateDir) : undefined;

      const started = performance.now();
      const store = ImageStore.open(opts.store);
      // Resolved here so that `up` names its directories without reaching into the controller.
      const dataDir = DataDir.resolve({ dataDir: opts.dataDir, readDir: opts.readDir, writeDir: opts.writeDir });
      const embedded: EmbeddedController = await startEmbeddedController({
        registry: ctx.registry,
        store,
        imageGc: opts.imageGc ? { graceMs: opts.imageGrace, ...(opts.imageStoreCap === undefined ? {} : { capBytes: opts.imageStoreCap }) } : false,
        warm: opts.warm,
        listen: opts.listen,
        ...(ctx.endFactories === undefined ? {} : { endFactories: ctx.endFactories }),
        ...(stateStore === undefined ? {} : { stateStore }),
        dataDir,
        ...(token === undefined ? {} : { token }),
        ...(tls === undefined ? {} : { tls }),
        ...(metrics === undefined ? {} : { metrics }),
      });
      // Everything below reads the controller through its contract, like the client commands.
      const api: ControllerApi = embedded.controller;
      let summary: RunSummary | undefined;
      try {
        println(ctx, `nfvkit up: controller gRPC on ${embedded.server.address} (${describeSecurity(token, tls)})`);
        println(ctx, `nfvkit up: metrics ${embedded.metricsServer === undefined ? 'off' : `on ${embedded.metricsServer.url}${token === undefined ? '' : ' (token required)'}`}`);
        println(ctx, `nfvkit up: packet I/O ${describePacketIo()}`);
        println(ctx, `nfvkit up: instances run as ${describeInstanceMode()}`);
        await dataDir.ensure();
        println(ctx, `nfvkit up: spec files read from ${dataDir.readDir}, written to ${dataDir.writeDir}`);
        println(ctx, `nfvkit up: image store ${store.dir}: ${describeImageGc(opts)}`);
        println(ctx, stateStore === undefined ? 'nfvkit up: state in memory only (--no-state)' : `nfvkit up: state in ${stateStore.dir}: ${describeRestore(api, embedded.restored)}`);
        for (const { name, error } of embedded.restored.failed) println(ctx, `nfvkit up: chain/${name} not restored (kept in the state; apply or delete it): ${error.message}`);
        if (file !== undefined && text !== undefined) {
          const applyStart = performance.now();
          const { chain } = await api.apply(text, file);
          const n = chain.functions.length;
          println(ctx, `chain/${chain.name} created in ${((performance.now() - applyStart) / 1000).toFixed(1)} s: ${n} function${n === 1 ? '' : 's'} ${chain.placement} (${chain.placementReason}), phase ${chain.phase}`);
          if (chain.ends !== undefined) println(ctx, `chain/${chain.name} ends on the ${chain.ends.where === 'replicas' ? 'replicas' : 'host'}: ${chain.ends.reason}`);
        }
        println(ctx, opts.duration === undefined ? 'running until Ctrl-C' : `running for ${opts.duration} s (Ctrl-C stops earlier)`);

        // --duration counts from here: the chain is up and traffic flows.
        const stop = stopAfter(interrupted, opts.duration);
        const display = new LiveDisplay(ctx.stdout);
        const traffic = new TrafficRates();
        traffic.lines(api, performance.now());
        while (!stop.signal.aborted) {
          await sleep(opts.interval, undefined, { signal: stop.signal }).catch(() => undefined);
          if (stop.signal.aborted) break;
          if (opts.top) display.show(upFrame(api, traffic, performance.now() - started));
        }
        stop.dispose();
        println(ctx, `stopping: ${interrupted.aborted ? 'interrupted' : 'duration reached'}; draining flows for up to ${opts.drain} ms`);
        summary = RunSummary.capture(api);
      } finally {
        await embedded.close(opts.drain);
      }
      println(ctx, summary.render(performance.now() - started));
    });
}
