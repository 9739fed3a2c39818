import { ANY_RULE, type AclRule, type AddressWords } from '../../../functions/firewall/acl-rule.ts';
import { seededRandom } from '../../../functions/firewall/rule-set-generator.ts';

/** Unstructured rule sets: any prefix length, ranges and protocols, drawn from small pools so rules overlap a lot. */
export function randomRules(seed: number, count: number): AclRule[] {
  const rnd = seededRandom(seed);
  const int = (n: number) => Math.floor(rnd() * n);
  const addrs = Array.from({ length: 1 + int(8) }, () => Math.floor(rnd() * 2 ** 32));
  const ports = Array.from({ length: 1 + int(8) }, () => int(65536));
  const rules: AclRule[] = [];
  for (let i = 0; i < count; i++) {
    const proto = [0, 6, 17, 1, 47, 6, 17][int(7)];
    const r: AclRule = { ...ANY_RULE, action: int(3), reject: -1, side: int(3) - 1, proto };
    const srcPrefix = rnd() < 0.3 ? 0 : int(33);
    const dstPrefix = rnd() < 0.3 ? 0 : int(33);
    const mask = (p: number) => (p === 0 ? 0 : (0xffffffff << (32 - p)) >>> 0);
    r.srcPrefix = srcPrefix;
    r.srcAddr = (addrs[int(addrs.length)] & mask(srcPrefix)) >>> 0;
    r.dstPrefix = dstPrefix;
    r.dstAddr = (addrs[int(addrs.length)] & mask(dstPrefix)) >>> 0;
    const range = (): [number, number] => {
      if (rnd() < 0.4) return [0, 65535];
      const a = ports[int(ports.length)];
      const b = rnd() < 0.5 ? a : ports[int(ports.length)];
      return a <= b ? [a, b] : [b, a];
    };
    if (proto === 6 || proto === 17) {
      [r.sportFrom, r.sportTo] = range();
      [r.dportFrom, r.dportTo] = range();
    } else if (proto === 1 && rnd() < 0.6) {
      const a = int(16);
      const b = rnd() < 0.5 ? a : int(256);
      [r.icmpFrom, r.icmpTo] = a <= b ? [a, b] : [b, a];
    }
    rules.push(r);
  }
  return rules;
}

/**
 * Unstructured dual-stack rule sets: IPv4 rules as {@link randomRules} makes them, IPv6 rules
 * with any prefix length 0–128 over a small pool of addresses that share leading words (so
 * prefixes nest and cross word boundaries), and rules without addresses (both families).
 */
export function randomDualStackRules(seed: number, count: number): AclRule[] {
  const rnd = seededRandom(seed ^ 0x6a09e667);
  const int = (n: number) => Math.floor(rnd() * n);
  const v4 = randomRules(seed, count);
  const top = [0x20010db8, int(2 ** 32)];
  const addrs6 = Array.from({ length: 1 + int(8) }, () => [top[int(2)], rnd() < 0.5 ? 0 : int(2 ** 32), int(2 ** 32), int(2 ** 32)] as const);
  const mask6 = (a: readonly number[], prefix: number): AddressWords =>
    a.map((w, i) => {
      const bits = Math.max(0, Math.min(32, prefix - 32 * i));
      return bits === 0 ? 0 : (w & ((0xffffffff << (32 - bits)) >>> 0)) >>> 0;
    }) as unknown as AddressWords;
  const share6 = rnd();
  return v4.map((r): AclRule => {
    const x = rnd();
    if (x < 0.1) return { ...r, family: 0, srcAddr: 0, srcPrefix: 0, dstAddr: 0, dstPrefix: 0 };
    if (x < 0.1 + 0.9 * share6) {
      const srcPrefix = rnd() < 0.3 ? 0 : int(129);
      const dstPrefix = rnd() < 0.3 ? 0 : int(129);
      return {
        ...r,
        family: 6,
        proto: r.proto === 1 ? 58 : r.proto,
        srcAddr: 0,
        dstAddr: 0,
        srcPrefix,
        dstPrefix,
        srcAddr6: mask6(addrs6[int(addrs6.length)], srcPrefix),
        dstAddr6: mask6(addrs6[int(addrs6.length)], dstPrefix),
      };
    }
    return { ...r, family: 4 };
  });
}
