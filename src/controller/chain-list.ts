/**
 * Chain lists: summaries instead of full statuses, and pages with opaque tokens. A token
 * names the last chain of the page it ends (chains are ordered by name), so a walk over
 * the pages returns every chain that exists throughout exactly once, whatever is applied
 * or deleted meanwhile.
 *
 * @example
 * ```ts
 * const page = pageOfChains(runtimes, (c) => c.name, { pageSize: 2 }, (c) => summarizeChain(c.status()));
 * page.nextPageToken; // '' on the last page
 * ```
 */
import { InvalidArgumentError } from '../errors/catalog.ts';
import type { ChainPage, ChainStatus, ChainSummary, ListChainsRequest } from './controller-api.ts';

/** Chains per page when the request does not say. */
export const DEFAULT_CHAIN_PAGE_SIZE = 100;
/** Most chains per page; a larger `pageSize` is clamped to it. */
export const MAX_CHAIN_PAGE_SIZE = 1000;

const TOKEN_PREFIX = 'after:';

/** The summary of a full status (drops the spec and the per-function images and bounds). */
export function summarizeChain(c: ChainStatus): ChainSummary {
  return {
    name: c.name,
    generation: c.generation,
    phase: c.phase,
    placement: c.placement,
    functions: c.functions.map((f) => ({ name: f.name, function: f.function, readyReplicas: f.readyReplicas, desiredReplicas: f.desiredReplicas })),
    appliedAt: c.appliedAt,
  };
}

function encodeToken(lastName: string): string {
  return Buffer.from(TOKEN_PREFIX + lastName, 'utf8').toString('base64url');
}

/** The chain name a token continues after; throws `InvalidArgumentError` for anything this module did not issue. */
function decodeToken(token: string): string {
  const text = /^[A-Za-z0-9_-]{1,200}$/.test(token) ? Buffer.from(token, 'base64url').toString('utf8') : '';
  if (!text.startsWith(TOKEN_PREFIX) || text.length === TOKEN_PREFIX.length) {
    throw new InvalidArgumentError('page_token is not a token of this controller (pass the next_page_token of the previous page, or none)');
  }
  return text.slice(TOKEN_PREFIX.length);
}

/**
 * The page `request` asks for among `items` (any order), by `nameOf`; `summarize` runs for
 * the page's items only.
 */
export function pageOfChains<T>(items: Iterable<T>, nameOf: (item: T) => string, request: ListChainsRequest, summarize: (item: T) => ChainSummary): ChainPage {
  const requested = request.pageSize ?? 0;
  if (!Number.isInteger(requested) || requested < 0) throw new InvalidArgumentError(`page_size must be a whole number >= 0, got ${requested}`);
  const size = requested === 0 ? DEFAULT_CHAIN_PAGE_SIZE : Math.min(requested, MAX_CHAIN_PAGE_SIZE);
  const after = request.pageToken === undefined || request.pageToken === '' ? undefined : decodeToken(request.pageToken);
  const byName = (a: T, b: T): number => {
    const x = nameOf(a);
    const y = nameOf(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
  const rest = [...items].filter((item) => after === undefined || nameOf(item) > after).sort(byName);
  const page = rest.slice(0, size);
  return {
    chains: page.map(summarize),
    nextPageToken: rest.length > size ? encodeToken(nameOf(page[page.length - 1])) : '',
  };
}
