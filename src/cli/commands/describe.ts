/**
 * `nfvkit describe chain <name> [--events <n>] [-o text|json|yaml]`: a chain's status (with
 * why it is not `Ready`), where its ends run and their port figures, its functions (image,
 * ready/desired replicas, bounds, failures and crash-loop back-off), its instances and its
 * most recent events. A chain that does not
 * exist exits 3.
 *
 * @example
 * ```sh
 * nfvkit describe chain web-edge --events 5
 * ```
 */
import { Argument, type Command } from 'commander';
import type { ChainStatus, ControllerEvent, InstanceStatus } from '../../controller/controller-api.ts';
import { println, type CliContext } from '../cli-context.ts';
import { wholeNumber } from '../arg-parsers.ts';
import { addConnectionOptions, withClient, type ConnectionFlags } from '../connection.ts';
import { outputOption, renderData, type OutputFormat } from '../output.ts';
import { readHistory } from '../stream-reading.ts';
import { formatAge, formatTimestamp } from '../units.ts';
import { functionTable, readySummary } from '../views/chain-table.ts';
import { EVENT_HEADER, eventLine } from '../views/event-line.ts';
import { instanceTable } from '../views/instance-table.ts';
import { CHAIN_RESOURCES } from './get.ts';

interface DescribeFlags extends ConnectionFlags {
  events: number;
  output: OutputFormat;
}

/** Everything `describe chain` shows. */
export interface ChainDescription {
  readonly chain: ChainStatus;
  readonly instances: readonly InstanceStatus[];
  /** The most recent events of the chain, oldest first. */
  readonly events: readonly ControllerEvent[];
}

const indent = (text: string): string => text.replace(/^/gm, '  ');

/** The text view of a chain description; `now` (Unix ms) gives the ages. */
export function describeChainText(d: ChainDescription, totalEvents: number, now: number): string {
  const c = d.chain;
  const lines = [
    `Name:        ${c.name}`,
    `Phase:       ${c.phase}${c.phaseReason === '' ? '' : ` (${c.phaseReason})`}`,
    `Generation:  ${c.generation}`,
    `Placement:   ${c.placement} (${c.placementReason})`,
    ...endsLines(c),
    `Applied:     ${formatTimestamp(c.appliedAt)} (${formatAge(now - c.appliedAt)} ago)`,
    `Ready:       ${readySummary(c)}`,
    '',
    'Functions:',
    indent(functionTable(c.functions, now)),
    '',
    'Instances:',
    d.instances.length === 0 ? '  (none)' : indent(instanceTable(d.instances, now)),
    '',
    `Events (${d.events.length === totalEvents ? `${totalEvents}` : `last ${d.events.length} of ${totalEvents}`}):`,
    d.events.length === 0 ? '  (none)' : indent([EVENT_HEADER, ...d.events.map(eventLine)].join('\n')),
  ];
  return lines.join('\n');
}

/**
 * Where the ends run and their port figures, one line per end:
 * `Ends:        replicas (fused chain with in-memory ends …)` then
 * `  inside:    framesIn 1200, framesBack 40, flowsMovedOut 512 …`. Nothing from a server that does not say.
 */
function endsLines(c: ChainStatus): string[] {
  if (c.ends === undefined) return [];
  const lines = [`Ends:        ${c.ends.where} (${c.ends.reason})`];
  for (const side of ['inside', 'outside']) {
    const figures = Object.entries(c.ends.figures)
      .filter(([k]) => k.startsWith(`${side}.`))
      .map(([k, v]) => `${k.slice(side.length + 1)} ${Math.round(v)}`);
    if (figures.length > 0) lines.push(`  ${`${side}:`.padEnd(11)}${figures.join(', ')}`);
  }
  return lines;
}

/** Registers `nfvkit describe` on `program`; output goes to `ctx`. */
export function registerDescribeCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('describe')
    .description("show a chain's status, functions, instances and recent events")
    .addArgument(new Argument('<resource>', 'what to describe').choices(CHAIN_RESOURCES))
    .argument('<name>', 'chain name')
    .option('--events <n>', 'how many recent events to show', wholeNumber(0), 20)
    .addOption(outputOption());
  addConnectionOptions(cmd).action(async (_resource: string, name: string, opts: DescribeFlags) => {
    await withClient(ctx, opts, async (client) => {
      const chain = await client.getChain(name);
      const instances = await client.listInstances(name);
      const history = await readHistory(client.watchEvents({ chain: name }));
      const events = opts.events === 0 ? [] : history.slice(-opts.events);
      const description: ChainDescription = { chain, instances, events };
      println(ctx, opts.output === 'text' ? describeChainText(description, history.length, Date.now()) : renderData(opts.output, description));
    });
  });
}
