import type { ChainSummary, ControllerApi } from '../controller/controller-api.ts';

/**
 * Every running chain's summary, ordered by name, read page by page through
 * `ControllerApi.listChainSummaries` (what `nfvkit up` lists in its live display and summary).
 *
 * @example
 * ```ts
 * for (const chain of allChainSummaries(controller)) println(ctx, `${chain.name} ${chain.phase}`);
 * ```
 */
export function allChainSummaries(api: ControllerApi): ChainSummary[] {
  const chains: ChainSummary[] = [];
  let pageToken = '';
  do {
    const page = api.listChainSummaries({ pageToken });
    chains.push(...page.chains);
    pageToken = page.nextPageToken;
  } while (pageToken !== '');
  return chains;
}
