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
      srcAddr: 0x0a010000,
      srcPrefix: 16,
      dstAddr: 0xc6120007,
      dstPrefix: 32,
      sportFrom: 1024,
      dportFrom: 443,
      dportTo: 443,
    });
    expect(parse({ action: 'allow', proto: 'icmp', icmpType: 'echo-request' })).toMatchObject({ proto: 1, icmpFrom: 8, icmpTo: 8 });
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

describe('firewall config: IPv6 rules', () => {
  it('parses a mixed rule set and refuses each IPv6 prefix as not supported yet, at its field, beside the other problems', () => {
    const found = issues({
      rules: [
        { action: 'allow', src: '198.18.0.0/15', proto: 'tcp', dport: 80 },
        { action: 'allow', src: '2001:db8::/32', proto: 'tcp', dport: 80 },
        { action: 'drop', dst: '64:ff9b::198.18.0.1' },
        { action: 'drop', dst: '2001:db8:::1/64' },
        { action: 'allow', src: '10.0.0.0/8', dport: 22 },
      ],
    });
    const why = 'IPv6 is not supported here yet (firewall rules match IPv4 packets only for now) [NFVKIT_ERR_IPV6_UNSUPPORTED]';
    expect(found).toEqual([
      { path: 'rules[1].src', message: `2001:db8::/32: ${why}`, code: 'NFVKIT_ERR_IPV6_UNSUPPORTED' },
      { path: 'rules[2].dst', message: `64:ff9b::198.18.0.1: ${why}`, code: 'NFVKIT_ERR_IPV6_UNSUPPORTED' },
      { path: 'rules[3].dst', message: 'not an IPv4 CIDR block, nor an IPv6 prefix (":::" is not a form: "::" stands for the zero groups)' },
      { path: 'rules[4].dport', message: 'dport needs proto tcp or udp' },
    ]);
  });

  it('keeps the IPv4 rules of the same set exactly as before', () => {
    const c = validateConfig(firewallConfigSchema, { rules: [{ action: 'allow', src: '198.18.0.0/15', dst: 'any' }] }, 'firewall config');
    expect(c.rules[0].src).toEqual({ addr: 0xc6120000, prefix: 15, mask: 0xfffe0000 });
    expect(c.rules[0].dst).toEqual({ addr: 0, prefix: 0, mask: 0 });
  });
});
