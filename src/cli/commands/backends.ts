/**
 * `nfvkit backends [list] <chain> [--function <name>]` lists the backends of a function with
 * backends (the load balancer) with their state, health and connections;
 * `nfvkit backends drain|remove|activate <chain> <service> <backend> [--function <name>]`
 * sets one backend's state for every instance of the function, no new image:
 * `drain` (no new flows, established ones finish), `remove` (established ones dropped too),
 * `activate`. `--function` may be left out when the chain has one function with backends.
 * Exit 3 for an unknown chain, function, service or backend, 4 for a function without
 * backends, 2 for a malformed command line.
 *
 * @example
 * ```sh
 * nfvkit backends web-edge-vxlan
 * nfvkit backends drain web-edge-vxlan web 198.18.3.13:8080
 * # backend 198.18.3.13:8080 of web-edge-vxlan/lb service web: draining (effective draining, 3 connections)
 * ```
 */
import type { Command } from 'commander';
import type { BackendStateName } from '../../backends/backend-control-layout.ts';
import type { BackendStatus } from '../../controller/backend-status.ts';
import { InvalidArgumentError } from '../../errors/catalog.ts';
import { println, type CliContext } from '../cli-context.ts';
import { addConnectionOptions, withClient, type ConnectionFlags } from '../connection.ts';
import { outputOption, printResult, type OutputFormat } from '../output.ts';
import { backendTable } from '../views/backend-table.ts';

interface BackendsFlags extends ConnectionFlags {
  function?: string;
  output: OutputFormat;
}

/** The verbs of `nfvkit backends` that set a state, and the state each sets. */
const ACTIONS: Readonly<Record<string, BackendStateName>> = { drain: 'draining', remove: 'removed', activate: 'active' };

/** What a command line asks: a list, or one backend's new state. */
type BackendsRequest = { readonly chain: string } | { readonly chain: string; readonly service: string; readonly backend: string; readonly state: BackendStateName };

/** Reads the positional words: `[list] <chain>` or `<action> <chain> <service> <backend>`. */
export function parseBackendsArgs(words: readonly string[]): BackendsRequest {
  const [first, ...rest] = words;
  if (first !== undefined && ACTIONS[first] !== undefined) {
    if (rest.length !== 3) throw new InvalidArgumentError(`usage: nfvkit backends ${first} <chain> <service> <backend> (got ${rest.length} of the 3 words)`);
    const [chain, service, backend] = rest as [string, string, string];
    return { chain, service, backend, state: ACTIONS[first] };
  }
  const list = first === 'list' ? rest : words;
  if (list.length !== 1) throw new InvalidArgumentError('usage: nfvkit backends [list] <chain>, or nfvkit backends drain|remove|activate <chain> <service> <backend>');
  return { chain: list[0] };
}

/** One line for a backend whose state was set. */
function changedLine(b: BackendStatus): string {
  return `backend ${b.backend} of ${b.chain}/${b.function} service ${b.service}: ${b.state} (effective ${b.effective}, ${b.connections} connection${b.connections === 1 ? '' : 's'})`;
}

/** Registers `nfvkit backends` on `program`; output goes to `ctx`. */
export function registerBackendsCommand(program: Command, ctx: CliContext): void {
  const cmd = program
    .command('backends')
    .description("list a function's backends, or drain, remove or activate one (no new image)")
    .argument('<words...>', '[list] <chain> | drain|remove|activate <chain> <service> <backend>')
    .option('-f, --function <name>', 'the function (default: the chain’s only function with backends)')
    .addOption(outputOption());
  addConnectionOptions(cmd).action(async (words: string[], opts: BackendsFlags) => {
    const request = parseBackendsArgs(words);
    await withClient(ctx, opts, async (client) => {
      if ('state' in request) {
        const row = await client.setBackendState(request.chain, opts.function ?? '', request.service, request.backend, request.state);
        printResult(ctx, opts.output, row, () => changedLine(row));
        return;
      }
      const rows = await client.listBackends(request.chain, opts.function ?? '');
      if (opts.output === 'text' && rows.length === 0) println(ctx, 'no backends');
      else printResult(ctx, opts.output, rows, () => backendTable(rows, Date.now()));
    });
  });
}
