import { describe, expect, it } from 'vitest';
import { prepareScenario6, type Family6 } from '../../../bench/suites/nat.ts';

// The NAT bench's IPv6 rows measure what they say: every packet of every pass is forwarded
// (passthrough) or translated (NAT64), also after the frames moved in the pass before (the
// traffic gives each batch its offsets and lengths back). One pass each, no timing.
describe('nat bench: IPv6 traffic', () => {
  for (const family of ['IPv6 passthrough', 'NAT64'] as const satisfies readonly Family6[]) {
    for (const mix of ['64 B', 'IMIX'] as const) {
      it(`${family}, ${mix}: two passes over every window, nothing dropped, each packet counted where it should be`, async () => {
        const { nat, traffic, counters, counterNames } = await prepareScenario6({ family, flows: 64, mix }, 1000);
        const count = (name: string) => counters[counterNames.indexOf(name)];
        for (let pass = 0; pass < 2; pass++) {
          for (let w = 0; w < traffic.windows.length; w++) {
            for (const b of traffic.load(w)) {
              nat.processBatch(b, 1001 + pass);
              for (let i = 0; i < b.count; i++) expect(b.verdicts[i], `${family} pass ${pass} packet ${b.ids[i]}`).toBe(b.sides[i] ^ 1);
            }
          }
        }
        const packets = 2 * traffic.count;
        if (family === 'NAT64') {
          expect(count('nat64_outbound') - 64).toBe(packets / 2); // the setup sent one SYN per flow
          expect(count('nat64_inbound') - 64).toBe(packets / 2);
          expect(count('ipv6_passed')).toBe(0);
        } else {
          expect(count('ipv6_passed')).toBe(packets);
        }
      });
    }
  }
});
