import { describe, expect, it } from 'vitest';
import { nat } from '../../../functions/nat/pipeline.ts';
import { natConfigSchema } from '../../../functions/nat/config.ts';
import { shardPortRange } from '../../../functions/nat/nat-engine.ts';
import { natShardKey } from '../../../src/dataplane/ports/vxlan-replica-group.ts';

describe('NAT shardedPorts: the range the controller steers translated replies by', () => {
  it('is the SNAT range, 1024-65535 by default', () => {
    expect(nat.shardedPorts!(natConfigSchema.parse({ snat: { addresses: '198.18.3.2/32' } }))).toEqual({ from: 1024, to: 65535 });
    expect(nat.shardedPorts!(natConfigSchema.parse({ snat: { addresses: '198.18.3.2/32', ports: '20000-29999' } }))).toEqual({ from: 20000, to: 29999 });
  });

  it('cut by natShardKey gives each shard the ports the NAT instance of that shard allocates from', () => {
    for (const [ports, count] of [['1024-65535', 8], ['20000-29999', 4], ['1000-1006', 3], ['5000-5000', 1]] as const) {
      const { from, to } = nat.shardedPorts!(natConfigSchema.parse({ snat: { addresses: '198.18.3.2/32', ports } }));
      const key = natShardKey(from, to, count);
      if (key.by !== 'port-shard') throw new Error('not a port-shard key');
      for (let index = 0; index < count; index++) {
        const [a, b] = shardPortRange(from, to, { index, count });
        // A port's shard by the key: its slice, the rest of the range in the last one.
        const shardOf = (p: number) => Math.min(Math.floor((p - key.base) / key.shardSize), count - 1);
        expect([shardOf(a), shardOf(b)]).toEqual([index, index]);
      }
    }
  });
});
