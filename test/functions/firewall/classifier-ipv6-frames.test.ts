import { describe, expect, it } from 'vitest';
import { packetPorts, type AclRule } from '../../../functions/firewall/acl-rule.ts';
import { planFamily } from '../../../functions/firewall/classifier-plan.ts';
import { classifierFunction6 } from '../../../functions/firewall/classifier-codegen.ts';
import { classifierOptionsSchema, firewallRuleSchema, toAclRule } from '../../../functions/firewall/config.ts';
import { aclPacket6, firstMatch6 } from '../../../functions/firewall/interpreter.ts';
import { generateRuleSet, generateTraffic6 } from '../../../functions/firewall/rule-set-generator.ts';
import { FlowKey6, extractFlowKey6 } from '../../../src/packet/flow-key-ipv6.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import { parseFrame } from '../../../src/packet/parse-frame.ts';
import { DropReason } from '../../../src/packet/drop-reason.ts';
import { frame6 } from '../../unit/packet/frame-fixtures.ts';

const groups = (w: ArrayLike<number>) => Array.from({ length: 8 }, (_, i) => ((w[i >>> 1] >>> 0) >>> (i & 1 ? 0 : 16)) & 0xffff);

describe('IPv6 classifier on real frames: parse-frame, the IPv6 flow key, the address words as the element reads them', () => {
  it('gives the interpreter\'s verdict on the flow key for ~1,900 frames (TCP, UDP, ICMPv6, extension headers)', () => {
    const rules: AclRule[] = generateRuleSet({ count: 400, seed: 77, ipv6Share: 0.7 }).map((r) => toAclRule(firewallRuleSchema.parse(r)));
    const classify = classifierFunction6(planFamily(rules, 6, classifierOptionsSchema.parse({})));
    const layout = new FrameLayout();
    const key = new FlowKey6();
    let matched = 0;
    // parse-frame drops a multicast source (ff00::/8), as it must: those random points are left out.
    const packets = generateTraffic6(rules, 2000, 5).filter((p) => (p.proto === 6 || p.proto === 17 || p.proto === 58) && p.src[0] >>> 24 !== 0xff);
    packets.forEach((p, i) => {
      const bytes = frame6({
        proto: p.proto,
        src: groups(p.src),
        dst: groups(p.dst),
        srcPort: p.sport,
        dstPort: p.dport,
        icmpType: p.icmpType,
        payloadLength: 8,
        ...(i % 3 === 0 ? { extensionHeaders: [{ type: 0 }, { type: 60 }] } : {}),
      });
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      expect(parseFrame(view, 0, bytes.length, layout)).toBe(DropReason.OK);
      expect(extractFlowKey6(view, layout, key)).toBe(true);
      const l3 = layout.l3Offset;
      const l4 = layout.l4Offset;
      const icmpType = layout.ipProto === 58 ? view.getUint8(l4) : 0;
      const pkt = aclPacket6(p.side, key, icmpType);
      const words = (at: number) => [view.getInt32(at), view.getInt32(at + 4), view.getInt32(at + 8), view.getInt32(at + 12)];
      const [sp, dp] = packetPorts(pkt);
      const want = firstMatch6(rules, pkt);
      expect(classify(p.side, layout.ipProto, words(l3 + 8), words(l3 + 24), sp, dp)).toBe(want);
      // The frame carries what the generator aimed: the key is the packet.
      expect(firstMatch6(rules, p)).toBe(want);
      if (want >= 0) matched++;
    });
    expect(packets.length).toBeGreaterThan(1500);
    expect(matched).toBeGreaterThan(packets.length / 3);
  });
});
