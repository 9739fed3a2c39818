import { afterEach, describe, expect, it } from 'vitest';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { loadNativeAddon, type NativeHandle } from '../../../src/native/native-addon.ts';

const status = loadNativeAddon();
const addon = status.available ? status.addon : null;

describe.skipIf(addon === null)('native waiter: one blocking wait for sockets and a ring', () => {
  const opened: Array<() => void> = [];
  afterEach(() => {
    for (const close of opened.splice(0)) close();
  });

  function waiter(): NativeHandle {
    const w = addon!.waiterOpen();
    opened.push(() => addon!.waiterClose(w));
    return w;
  }

  it('times out when nothing is ready, wakes on a ring, and consumes the ring', () => {
    const w = waiter();
    const t0 = performance.now();
    expect(addon!.waiterWait(w, 20)).toBe(0);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(15);
    addon!.eventFdRing(addon!.waiterEventFd(w));
    expect(addon!.waiterWait(w, 1000)).toBe(1);
    expect(addon!.waiterWait(w, 0)).toBe(0);
  });

  it('wakes when a socket it holds becomes readable', async () => {
    const w = waiter();
    const pool = new Uint8Array(new SharedArrayBuffer(4096));
    const s = addon!.udpOpen('127.0.0.1', 0, false, 0, 0, pool);
    opened.push(() => addon!.udpClose(s));
    addon!.waiterAdd(w, s);
    expect(addon!.waiterWait(w, 0)).toBe(0);
    const sender = createSocket('udp4');
    try {
      sender.send(Buffer.from('x'), addon!.udpInfo(s).port, '127.0.0.1');
      await once(sender, 'listening');
      const deadline = performance.now() + 2000;
      let ready = 0;
      while (ready === 0 && performance.now() < deadline) ready = addon!.waiterWait(w, 50);
      expect(ready).toBe(1);
    } finally {
      sender.close();
    }
  });

  it('refuses a closed waiter and rings of fds it did not make', () => {
    const w = addon!.waiterOpen();
    const fd = addon!.waiterEventFd(w);
    addon!.waiterClose(w);
    expect(() => addon!.waiterWait(w, 0)).toThrow(/closed/);
    expect(() => addon!.eventFdRing(fd)).toThrow(/not an open waiter eventfd/);
    expect(() => addon!.eventFdRing(0)).toThrow(/not an open waiter eventfd/);
  });
});
