import { describe, expect, it } from 'vitest';
import { DropReason } from '../../../src/packet/drop-reason.ts';
import { FrameLayout } from '../../../src/packet/frame-layout.ts';
import { findIcmpv6Quote, Icmpv6Quote } from '../../../src/packet/icmpv6-quote.ts';
import type { Ipv6FrameSpec } from '../../../src/packet/ipv6-frame-builder.ts';
import { parseFrame } from '../../../src/packet/parse-frame.ts';
import { frame6, viewOf } from './frame-fixtures.ts';

function quoteOf(error: Ipv6FrameSpec): { quote: Icmpv6Quote; found: boolean; view: DataView } {
  const bytes = frame6(error);
  const view = viewOf(bytes);
  const layout = new FrameLayout();
  expect(parseFrame(view, 0, bytes.length, layout)).toBe(DropReason.OK);
  const quote = new Icmpv6Quote();
  return { quote, found: findIcmpv6Quote(view, layout, quote), view };
}

describe('the packet an ICMPv6 error quotes', () => {
  const sent = frame6({ proto: 17, srcPort: 7, dstPort: 9, payloadLength: 30, extensionHeaders: [{ type: 0 }, { type: 60 }] }).subarray(14);

  it('whole: its IPv6 header, upper layer after the extension headers, complete', () => {
    const { quote, found, view } = quoteOf({ proto: 58, icmpType: 1, icmpCode: 4, payload: sent });
    expect(found).toBe(true);
    expect(quote).toMatchObject({ l3: 62, l4: 62 + 56, proto: 17, end: 62 + sent.length, complete: true, isFragment: false, laterFragment: false });
    expect(view.getUint16(quote.l4 + 2)).toBe(9);
  });

  it('cut after the ports: still found, not complete; cut inside the ports: no upper layer', () => {
    let r = quoteOf({ proto: 58, icmpType: 2, payload: sent.subarray(0, 56 + 8) });
    expect(r.quote).toMatchObject({ l4: 62 + 56, complete: false, end: 62 + 64 });
    r = quoteOf({ proto: 58, icmpType: 3, payload: sent.subarray(0, 56 + 6) });
    expect(r.found).toBe(true);
    expect(r.quote.l4).toBe(-1);
  });

  it('a quoted later fragment has no upper layer; not an error, or no IPv6 inside: not found', () => {
    const frag = frame6({ proto: 6, payloadLength: 12, extensionHeaders: [{ type: 44, fragmentOffset: 9 }] }).subarray(14);
    expect(quoteOf({ proto: 58, icmpType: 4, payload: frag }).quote).toMatchObject({ l4: -1, proto: 6, isFragment: true, laterFragment: true });
    expect(quoteOf({ proto: 58, icmpType: 129, payload: sent }).found).toBe(false);
    const v4 = sent.slice();
    v4[0] = 0x45;
    expect(quoteOf({ proto: 58, icmpType: 1, payload: v4 }).found).toBe(false);
    expect(quoteOf({ proto: 58, icmpType: 1, payload: sent.subarray(0, 39) }).found).toBe(false);
  });
});
