import type { BenchSuite } from '../lib/report.ts';
import { bootSuite } from './boot.ts';
import { chainSuite } from './chain.ts';
import { conntrackSuite } from './conntrack.ts';
import { firewallSuite } from './firewall.ts';
import { httpSuite } from './http.ts';
import { ioSuite } from './io.ts';
import { loadBalancerSuite } from './load-balancer.ts';
import { natSuite } from './nat.ts';
import { packetSuite } from './packet.ts';
import { scaleSuite } from './scale.ts';
import { takeoverSuite } from './takeover.ts';
import { virtqueueSuite } from './virtqueue.ts';

/** Every benchmark suite, in the order `npm run bench` runs them. Register new suites here. */
export const SUITES: BenchSuite[] = [packetSuite, virtqueueSuite, ioSuite, conntrackSuite, firewallSuite, loadBalancerSuite, natSuite, bootSuite, chainSuite, httpSuite, scaleSuite, takeoverSuite];
