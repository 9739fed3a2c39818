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
