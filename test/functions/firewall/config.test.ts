import { describe, expect, it } from 'vitest';
import { ConfigValidationError } from '../../../src/errors/catalog.ts';
import { validateConfig } from '../../../src/config/validate-config.ts';
import { Action, ANY_RULE, RejectWith } from '../../../functions/firewall/acl-rule.ts';
import { firewallConfigSchema, firewallRuleSchema, toAclRule } from '../../../functions/firewall/config.ts';

function issues(raw: unknown): Array<{ path: string; message: string }> {
  try {
    validateConfig(firewallConfigSchema, raw, 'firewall config');
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigValidationError);
    return [...(err as ConfigValidationError).issues];
  }
  throw new Error('config was accepted');
}

describe('firewall config', () => {
  it('fills in defaults', () => {
    const c = validateConfig(firewallConfigSchema, {}, 'firewall config');
    expect(c.defaultPolicy).toBe('drop');
    expect(c.stateful).toBe(true);
    expect(c.rules).toEqual([]);
    expect(c.conntrack).toEqual({ capacity: 65536, timeouts: {}, whenFull: 'evict', sweepPerBatch: 32 });
    expect(c.classifier.algorithm).toBe('auto');
  });

  it('turns a rule into its numeric form', () => {
    const parse = (r: unknown) => toAclRule(firewallRuleSchema.parse(r));
    expect(parse({ action: 'reject', side: 'outside', src: '10.1.0.0/16', dst: '198.18.0.7', proto: 'tcp', sport: '1024-65535', dport: 443, rejectWith: 'tcp-reset' })).toEqual({
      ...ANY_RULE,
      action: Action.REJECT,
      reject: RejectWith.TCP_RESET,
      side: 1,
      proto: 6,
      family: 4,
      srcAddr: 0x0a010000,
      srcPrefix: 16,
      dstAddr: 0xc6120007,
      dstPrefix: 32,
      sportFrom: 1024,
      dportFrom: 443,
      dportTo: 443,
    });
    expect(parse({ action: 'allow', proto: 'icmp', icmpType: 'echo-request' })).toMatchObject({ proto: 1, family: 4, icmpFrom: 8, icmpTo: 8 });
    expect(parse({ action: 'allow', proto: 1, icmpType: '3-5' })).toMatchObject({ icmpFrom: 3, icmpTo: 5 });
    expect(parse({ action: 'drop', proto: 47 })).toMatchObject({ action: Action.DROP, proto: 47 });
    expect(parse({ action: 'reject', proto: 'udp', rejectWith: 'admin-prohibited' })).toMatchObject({ reject: 13 });
    expect(parse({ action: 'allow' })).toEqual({ ...ANY_RULE });
  });

  it('reports every problem at once, with field paths, including cross-field checks', () => {
    const found = issues({
      defaultPolicy: 'maybe',
      rules: [
        { action: 'allow', dport: 80 },
        { action: 'allow', proto: 'udp', icmpType: 8 },
        { action: 'allow', proto: 'tcp', rejectWith: 'tcp-reset' },
        { action: 'reject', proto: 'udp', rejectWith: 'tcp-reset' },
        { action: 'drop', src: '10.0.0.0/33', sport: '90-80', proto: 'tcp' },
        { action: 'drop', icmpType: 'bogus', proto: 'icmp', colour: 'red' },
      ],
      conntrack: { capacity: 1000, timeouts: { tcpEstablished: -1 } },
    });
    expect(found.map((i) => i.path).sort()).toEqual([
      'conntrack.capacity',
      'conntrack.timeouts.tcpEstablished',
      'defaultPolicy',
      'rules[0].dport',
      'rules[1].icmpType',
      'rules[2].rejectWith',
      'rules[3].rejectWith',
      'rules[4].sport',
      'rules[4].src',
      'rules[5]',
      'rules[5].icmpType',
    ]);
    expect(found.find((i) => i.path === 'rules[0].dport')?.message).toMatch(/tcp or udp/);
    expect(found.find((i) => i.path === 'rules[1].icmpType')?.message).toMatch(/proto icmp/);
  });
});

describe('firewall config: IPv6 and mixed rule sets', () => {
  it('accepts IPv6 prefixes beside IPv4 ones; each rule takes the family of its addresses, a rule without addresses both', () => {
    const c = validateConfig(
      firewallConfigSchema,
      {
        rules: [
          { action: 'allow', src: '198.18.0.0/15', proto: 'tcp', dport: 80 },
          { action: 'allow', src: '2001:db8::/32', proto: 'tcp', dport: 80 },
          { action: 'drop', dst: '64:ff9b::198.18.0.1' },
          { action: 'allow', src: '2001:db8:1::/48', dst: '2001:db8:2::5/64' },
          { action: 'allow', proto: 'tcp', dport: 22 },
          { action: 'allow', src: 'any', dst: 'any' },
          { action: 'allow', proto: 'icmpv6', icmpType: 'nd-neighbor-solicit' },
          { action: 'allow', proto: 58, icmpType: 'echo-request' },
          { action: 'allow', proto: 'icmp', icmpType: 'echo-request' },
          { action: 'drop', src: '::/0' },
          { action: 'drop', src: '0.0.0.0/0' },
        ],
      },
      'firewall config',
    );
    const rules = c.rules.map(toAclRule);
    expect(rules.map((r) => r.family)).toEqual([4, 6, 6, 6, 0, 0, 6, 6, 4, 6, 4]);
    expect(rules[1]).toEqual({ ...ANY_RULE, proto: 6, family: 6, srcPrefix: 32, srcAddr6: [0x20010db8, 0, 0, 0], dportFrom: 80, dportTo: 80 });
    expect(rules[2]).toMatchObject({ action: Action.DROP, dstPrefix: 128, dstAddr6: [0x0064ff9b, 0, 0, 0xc6120001], dstAddr: 0, srcPrefix: 0 });
    // Host bits are cleared, as for IPv4.
    expect(rules[3]).toMatchObject({ srcAddr6: [0x20010db8, 0x00010000, 0, 0], srcPrefix: 48, dstAddr6: [0x20010db8, 0x00020000, 0, 0], dstPrefix: 64 });
    expect(rules[5]).toEqual({ ...ANY_RULE });
    expect(rules[6]).toMatchObject({ proto: 58, icmpFrom: 135, icmpTo: 135 });
    expect(rules[7]).toMatchObject({ proto: 58, icmpFrom: 128, icmpTo: 128 });
    expect(rules[8]).toMatchObject({ proto: 1, icmpFrom: 8, icmpTo: 8 });
    expect(rules[9]).toMatchObject({ family: 6, srcPrefix: 0 });
  });

  it('refuses malformed prefixes and mixed families within a rule at their fields, beside the other problems', () => {
    const found = issues({
      rules: [
        { action: 'allow', src: '198.18.0.0/15', dst: '2001:db8::1' },
        { action: 'allow', src: '2001:db8::/129' },
        { action: 'drop', dst: '2001:db8:::1/64' },
        { action: 'allow', src: '2001:db8::/32', proto: 'icmp' },
        { action: 'allow', dst: '198.18.0.1', proto: 'icmpv6' },
        { action: 'allow', proto: 'icmpv6', icmpType: 'timestamp' },
        { action: 'allow', proto: 'icmp', icmpType: 'nd-neighbor-solicit' },
        { action: 'reject', src: '2001:db8::/32', proto: 'udp', rejectWith: 'tcp-reset' },
        { action: 'allow', src: '10.0.0.0/8', dport: 22 },
        { action: 'allow', src: 'nowhere' },
      ],
    });
    expect(found).toEqual([
      { path: 'rules[0].dst', message: 'dst is IPv6 but src is IPv4: a rule matches one address family' },
      { path: 'rules[1].src', message: expect.stringMatching(/^not an IPv6 prefix: /) },
      { path: 'rules[2].dst', message: 'not an IPv6 prefix: ":::" is not a form: "::" stands for the zero groups' },
      { path: 'rules[3].proto', message: 'icmp is carried by IPv4 only: an IPv6 rule takes proto icmpv6' },
      { path: 'rules[4].proto', message: 'icmpv6 is carried by IPv6 only: an IPv4 rule takes proto icmp' },
      { path: 'rules[5].icmpType', message: expect.stringMatching(/^not an ICMPv6 type .*nd-neighbor-solicit/) },
      { path: 'rules[6].icmpType', message: expect.stringMatching(/^not an ICMP type .*timestamp/) },
      { path: 'rules[7].rejectWith', message: 'tcp-reset needs proto tcp' },
      { path: 'rules[8].dport', message: 'dport needs proto tcp or udp' },
      { path: 'rules[9].src', message: 'not an IPv4 or IPv6 prefix (a.b.c.d/len or 2001:db8::/32)' },
    ]);
  });

  it('keeps the IPv4 rules of the same set as before, tagged with their family', () => {
    const c = validateConfig(firewallConfigSchema, { rules: [{ action: 'allow', src: '198.18.0.0/15', dst: 'any' }] }, 'firewall config');
    expect(c.rules[0].src).toEqual({ family: 4, addr: 0xc6120000, prefix: 15, mask: 0xfffe0000 });
    expect(c.rules[0].dst).toBeUndefined();
    expect(toAclRule(c.rules[0])).toEqual({ ...ANY_RULE, family: 4, srcAddr: 0xc6120000, srcPrefix: 15 });
  });
});
