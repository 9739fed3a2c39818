import { counterList } from '../../counters/counter-list.ts';

/**
 * What an instance with direct links counts in its lane's block of the link area
 * (`LinkArea.stats`), one float64 each, written by the instance only and read by the host:
 * steering figures (as `DataPlaneCounters` on the host), its drops by reason, traffic, and
 * the pins its tables hold (which drains wait on).
 */
export const DIRECT_LINK_COUNTER_LIST = counterList([
  { name: 'self_pins', help: 'entries of its own link tables that pin a flow to it' },
  { name: 'self_flows', help: 'flows that entered it (entries of the link table on its left)' },
  { name: 'new_flows', help: 'flows seen for the first time on one of its links (pinned by Maglev)' },
  { name: 'repinned', help: 'frames whose pin named a peer that is gone: re-pinned' },
  { name: 'inherited', help: 'frames whose pin named a failed peer: moved to the successor that took its state over' },
  { name: 'learn_conflicts', help: 'frames received from a peer other than the live one the flow is pinned to (kept as pinned)' },
  { name: 'unkeyed', help: 'frames no link can key (ARP, …): sent to the first active peer' },
  { name: 'expired', help: 'pins expired by its sweep' },
  { name: 'unpinned', help: 'flows its link table had no room for (sent on unpinned)' },
  { name: 'no_peer', drop: true, help: 'no active instance in the adjacent stage the frame had to enter' },
  { name: 'awaiting_heir', drop: true, help: 'frames of a flow whose peer failed, while the successor that takes its connections over boots' },
  { name: 'state_lost', drop: true, help: 'frames of a flow whose peer is gone with its connections: a TCP segment is answered with a reset back to its sender' },
  { name: 'peer_full', drop: true, help: 'frames its peer had no room for (never while the loop keeps to txRoom)' },
  { name: 'sent', help: 'frames sent to peers' },
  { name: 'received', help: 'frames received from peers' },
  { name: 'left_generation', help: 'the generation of the stage on its left it last applied' },
  { name: 'right_generation', help: 'the generation of the stage on its right it last applied' },
  { name: 'violation', help: 'the first peer that broke the queue-pair protocol: 1 + side × 256 + lane (0: none)' },
  { name: 'pin_answer', help: "its answer to the host's last pin query: 2 × the query's sequence, + 1 when that flow is pinned to it on the link on its left" },
] as const);

/** Slots of `DIRECT_LINK_COUNTER_LIST` by UPPER_SNAKE name. */
export const DirectLinkCounter = DIRECT_LINK_COUNTER_LIST.index;
