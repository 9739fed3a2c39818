import type { ChainTraffic } from './controller-api.ts';
import type { ChainRuntime } from './chain-runtime.ts';
import { chainLayerDrops } from './controller-metrics.ts';

/**
 * What a running chain carried and dropped (`ControllerApi.chainTraffic`): frames in and out
 * of each end, the drop total, and every non-zero pipeline, ring and host drop by reason,
 * named as in `/metrics` — `<instance>:<counter>` (`nfvkit_function_drops_total`),
 * `<instance>:<side>:<reason>` (`nfvkit_ring_drops_total`), `host:<reason>`
 * (`nfvkit_host_drops_total`).
 *
 * @example
 * ```ts
 * const { enteredInside, drops } = readChainTraffic(controller.chain('web-edge'));
 * ```
 */
export function readChainTraffic(runtime: ChainRuntime): ChainTraffic {
  const t = runtime.traffic();
  const drops: Record<string, number> = {};
  for (const [key, n] of Object.entries(runtime.dataPlane.dropsByReason())) if (!key.startsWith('host:')) drops[key] = n;
  let layers: ReturnType<typeof chainLayerDrops> = [];
  try {
    layers = chainLayerDrops([runtime]);
  } catch {
    // its ends already closed (a chain being deleted): pipeline drops only
  }
  const prefix = `${runtime.name}/`;
  for (const d of layers) {
    if (!(d.value > 0)) continue;
    if (d.layer === 'host') drops[`host:${d.reason}`] = (drops[`host:${d.reason}`] ?? 0) + d.value;
    else if (d.layer === 'ring') {
      const id = d.instance === undefined ? '?' : d.instance.startsWith(prefix) ? d.instance.slice(prefix.length) : d.instance;
      drops[`${id}:${d.side}:${d.reason}`] = d.value;
    }
  }
  return {
    chain: runtime.name,
    enteredInside: t.enteredInside,
    enteredOutside: t.enteredOutside,
    leftInside: t.leftInside,
    leftOutside: t.leftOutside,
    dropped: runtime.dataPlane.dropped(),
    drops,
  };
}
