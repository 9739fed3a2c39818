import { request } from 'node:http';
import type { AgentCommand, AgentReply } from './http-agent.ts';

/** What the agent's `get` answers: every request's reply, or the error that stopped them. */
export interface GetResult {
  ok: boolean;
  error?: string;
  results: AgentReply[];
}

/** Sends one command to the HTTP agent (running in the client namespace) over its Unix socket. */
export function callAgent<T>(socketPath: string, cmd: AgentCommand): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path: '/', method: 'POST', timeout: 30_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => resolve(JSON.parse(text) as T));
    });
    req.on('error', reject);
    req.end(JSON.stringify(cmd));
  });
}

/** The backend that answered each request of a `get`. */
export const backendsOf = (r: GetResult): string[] => r.results.map((x) => x.body.backend ?? '?');
