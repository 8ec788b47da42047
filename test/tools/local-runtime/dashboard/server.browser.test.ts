// The dashboard's HTTP surface: loopback only, strict headers, a CSP that admits exactly the
// inline script and style it serves, and nothing but GET/HEAD on two routes.
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSignals } from '../../../../lib/config/signals';
import { loadStageConfig } from '../../../../lib/config/stage-config';
import {
  type LocalDashboard,
  startLocalDashboard,
} from '../../../../tools/local-runtime/dashboard';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function call(
  url: string,
  options: { method?: string; host?: string; path?: string } = {},
): Promise<Reply> {
  const target = new URL(options.path ?? '/', url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: options.method ?? 'GET',
        headers: options.host ? { Host: options.host } : {},
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

describe('local dashboard server', () => {
  const config = loadStageConfig('dev');
  let dashboard: LocalDashboard;

  beforeAll(async () => {
    dashboard = await startLocalDashboard({ config });
  });
  afterAll(async () => {
    await dashboard?.close();
  });

  it('serves the page with a CSP that allows exactly its inline script and style', async () => {
    const reply = await call(dashboard.url);
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(reply.headers['x-content-type-options']).toBe('nosniff');
    const csp = String(reply.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("connect-src 'self'");
    const script = /<script type="module">([\s\S]*)<\/script>/.exec(reply.body)?.[1];
    const style = /<style>([\s\S]*)<\/style>/.exec(reply.body)?.[1];
    expect(script).toBeDefined();
    expect(style).toBeDefined();
    expect(csp).toContain(`script-src ${sha256(script ?? '')};`);
    expect(csp).toContain(`style-src ${sha256(style ?? '')};`);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);
    // Data never goes through HTML parsing in the page script.
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });

  it('answers /api/signals with every signal of the stage and its thresholds', async () => {
    const reply = await call(dashboard.url, { path: '/api/signals' });
    expect(reply.status).toBe(200);
    expect(reply.headers['content-type']).toBe('application/json');
    const body = JSON.parse(reply.body) as {
      signals: Array<{ id: string; thresholds: Array<{ value: number }> }>;
    };
    const expected = buildSignals(config);
    expect(body.signals.map((s) => s.id).sort()).toEqual(expected.map((s) => s.id).sort());
    for (const s of expected) {
      expect(body.signals.find((x) => x.id === s.id)?.thresholds.map((t) => t.value)).toEqual(
        s.thresholds.map((t) => t.value),
      );
    }
  });

  it('refuses foreign Host headers, other methods and other paths', async () => {
    expect((await call(dashboard.url, { host: 'attacker.example' })).status).toBe(421);
    const post = await call(dashboard.url, { method: 'POST', path: '/api/signals' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await call(dashboard.url, { path: '/../etc/passwd' })).status).toBe(404);
    expect((await call(dashboard.url, { path: '/favicon.ico' })).status).toBe(204);
    expect((await call(dashboard.url, { path: '/api/other' })).status).toBe(404);
    const port = new URL(dashboard.url).port;
    expect((await call(dashboard.url, { host: `localhost:${port}` })).status).toBe(200);
  });

  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal);

  it.skipIf(external === undefined)('does not listen on other interfaces', async () => {
    const port = new URL(dashboard.url).port;
    await expect(call(`http://${external?.address}:${port}/`)).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
  });
});
