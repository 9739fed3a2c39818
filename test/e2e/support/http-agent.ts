/**
 * A client agent for end-to-end tests, run inside the client namespace: an HTTP server on a
 * Unix socket (reachable from the test in the root namespace) that makes requests from the
 * namespace on command and keeps keep-alive connections open between commands.
 * Usage: `node --import tsx http-agent.ts <socket path>`; prints `ready`.
 */
import { Agent, createServer, request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { rmSync } from 'node:fs';

const [socketPath] = process.argv.slice(2);

/** One HTTP response as the agent saw it: status, the backend's JSON body, the local port of the connection. */
export interface AgentReply {
  status: number;
  body: { backend?: string; from?: string; port?: number; path?: string };
  localPort: number;
}

/** What the test asks the agent (POST / with JSON on its Unix socket): GETs, closing a keep-alive agent, a bare TCP connect. */
export type AgentCommand =
  | { op: 'get'; url: string; count: number; keep?: string; timeoutMs?: number }
  | { op: 'close'; keep: string }
  | { op: 'connect'; host: string; port: number; timeoutMs: number };

const agents = new Map<string, Agent>();

function get(url: string, agent: Agent | false, timeoutMs: number): Promise<AgentReply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, timeout: timeoutMs }, (res: IncomingMessage) => {
      let text = '';
      const localPort = res.socket?.localPort ?? -1;
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as AgentReply['body'], localPort });
        } catch {
          resolve({ status: res.statusCode ?? 0, body: {}, localPort });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function tryConnect(host: string, port: number, timeoutMs: number): Promise<{ outcome: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const s = connect({ host, port, timeout: timeoutMs });
    const done = (outcome: string): void => {
      s.destroy();
      resolve({ outcome, ms: performance.now() - t0 });
    };
    s.on('connect', () => done('connected'));
    s.on('timeout', () => done('timeout'));
    s.on('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

async function run(cmd: AgentCommand): Promise<unknown> {
  switch (cmd.op) {
    case 'get': {
      let agent: Agent | false = false;
      if (cmd.keep !== undefined) {
        agent = agents.get(cmd.keep) ?? new Agent({ keepAlive: true, maxSockets: 1 });
        agents.set(cmd.keep, agent);
      }
      const results: AgentReply[] = [];
      try {
        for (let i = 0; i < cmd.count; i++) results.push(await get(cmd.url, agent, cmd.timeoutMs ?? 5000));
        return { ok: true, results };
      } catch (err) {
        return { ok: false, error: (err as Error).message, results };
      }
    }
    case 'close':
      agents.get(cmd.keep)?.destroy();
      agents.delete(cmd.keep);
      return { ok: true };
    case 'connect':
      return tryConnect(cmd.host, cmd.port, cmd.timeoutMs);
  }
}

if (socketPath !== undefined) {
  const server = createServer((req, res) => {
    let text = '';
    req.setEncoding('utf8').on('data', (d: string) => (text += d));
    req.on('end', () => {
      void run(JSON.parse(text) as AgentCommand).then((out) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(out));
      });
    });
  });
  rmSync(socketPath, { force: true });
  server.listen(socketPath, () => console.log('ready'));
  process.on('SIGTERM', () => {
    for (const a of agents.values()) a.destroy();
    server.close(() => process.exit(0));
  });
}
