import { request } from 'node:http';

const [url, countText, timeoutText] = process.argv.slice(2);

function get(target: string): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(target, { agent: false, timeout: Number(timeoutText ?? 10_000) }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ms: performance.now() - started }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutText ?? 10_000} ms`)));
    req.on('error', reject);
    req.end();
  });
}

const results: Array<{ status: number; body: string; ms: number }> = [];
try {
  for (let i = 0; i < Number(countText ?? 1); i++) results.push(await get(`${url}?i=${i}`));
  console.log(JSON.stringify({ ok: true, results }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: (err as Error).message, results }));
  process.exitCode = 1;
}
