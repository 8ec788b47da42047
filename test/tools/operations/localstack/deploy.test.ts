import { execFile } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  assessHealth,
  CDKLOCAL_ENDPOINT,
  healthUrl,
  LOOPBACK_ENDPOINT,
  type Probe,
  plan,
  REQUIRED_SERVICES,
  START_LOCALSTACK,
  TOKEN_PAGE,
} from '../../../../tools/operations/localstack/plan';

const TOOLS = { node: '/usr/bin/node', cdklocal: '/repo/node_modules/aws-cdk-local/bin/cdklocal' };
// An obviously fake value: these tests never reach LocalStack.
const FAKE_TOKEN = 'not-a-real-token';

describe('plan', () => {
  it('stops without a token, saying what is needed, where to get it and what runs without it', () => {
    for (const token of [undefined, '', '   ']) {
      const p = plan({ LOCALSTACK_AUTH_TOKEN: token, PATH: '/bin' }, TOOLS);
      expect(p.ok).toBe(false);
      if (p.ok) continue;
      expect(p.message).toContain('LOCALSTACK_AUTH_TOKEN is not set');
      expect(p.message).toContain(TOKEN_PAGE);
      expect(p.message).toContain(START_LOCALSTACK);
      for (const paid of [
        'Amazon MSK: Ultimate',
        'RDS and RDS Proxy: Base',
        'ElastiCache: Base',
        'API Gateway v2 (HTTP API): Base',
      ]) {
        expect(p.message).toContain(paid);
      }
      expect(p.message).toContain('`npm start` runs the whole pipeline');
      expect(p.message).toContain('Nothing was deployed.');
    }
  });

  it('bootstraps, then deploys every stack of the localstack stage with the pinned cdklocal', () => {
    const p = plan({ LOCALSTACK_AUTH_TOKEN: FAKE_TOKEN, PATH: '/bin' }, TOOLS);
    if (!p.ok) throw new Error(p.message);
    expect(p.commands.map((c) => c.args)).toEqual([
      [TOOLS.node, TOOLS.cdklocal, 'bootstrap', '-c', 'stage=localstack'],
      [
        TOOLS.node,
        TOOLS.cdklocal,
        'deploy',
        '--all',
        '-c',
        'stage=localstack',
        '--require-approval',
        'never',
      ],
    ]);
    expect(p.endpoints).toEqual([CDKLOCAL_ENDPOINT, LOOPBACK_ENDPOINT]);
  });

  it('does not pass the auth token on to cdklocal, and keeps the rest of the environment', () => {
    const p = plan({ LOCALSTACK_AUTH_TOKEN: FAKE_TOKEN, PATH: '/bin', HOME: '/home/u' }, TOOLS);
    if (!p.ok) throw new Error(p.message);
    expect(p.childEnv).toEqual({ PATH: '/bin', HOME: '/home/u' });
  });

  it('probes only AWS_ENDPOINT_URL when set, and needs AWS_ENDPOINT_URL_S3 with it as cdklocal does', () => {
    const custom = 'http://localstack.internal:4566';
    const without = plan({ LOCALSTACK_AUTH_TOKEN: FAKE_TOKEN, AWS_ENDPOINT_URL: custom }, TOOLS);
    expect(without.ok).toBe(false);
    if (!without.ok) expect(without.message).toMatch(/AWS_ENDPOINT_URL_S3 is not/);
    const both = plan(
      {
        LOCALSTACK_AUTH_TOKEN: FAKE_TOKEN,
        AWS_ENDPOINT_URL: custom,
        AWS_ENDPOINT_URL_S3: 'http://s3.localstack.internal:4566',
      },
      TOOLS,
    );
    expect(both.ok && both.endpoints).toEqual([custom]);
  });
});

const healthy = (overrides: Record<string, string> = {}) => ({
  services: {
    ...Object.fromEntries(REQUIRED_SERVICES.map((s) => [s, 'available'])),
    ...overrides,
  },
  edition: 'pro',
  version: '2026.7.5',
});
const answered = (endpoint: string, body: unknown, status = 200): Probe => ({
  endpoint,
  ok: true,
  status,
  body,
});
const refused = (endpoint: string): Probe => ({
  endpoint,
  ok: false,
  error: `connect ECONNREFUSED ${endpoint}`,
});

describe('assessHealth', () => {
  it('deploys when the first endpoint answers with a health report of usable services', () => {
    const v = assessHealth([answered(CDKLOCAL_ENDPOINT, healthy({ lambda: 'running' }))]);
    expect(v).toEqual({ ok: true, endpoint: CDKLOCAL_ENDPOINT, version: '2026.7.5', warnings: [] });
  });

  it('warns, without stopping, about services reported missing or not available', () => {
    const { kafka: _kafka, ...withoutKafka } = healthy({ rds: 'disabled' }).services;
    const v = assessHealth([answered(CDKLOCAL_ENDPOINT, { services: withoutKafka })]);
    expect(v.ok).toBe(true);
    if (v.ok) expect(v.warnings.join(' ')).toMatch(/kafka \(missing\), rds \(disabled\)/);
  });

  it('stops when nothing answers, naming every URL it tried and how to start LocalStack', () => {
    const v = assessHealth([refused(CDKLOCAL_ENDPOINT), refused(LOOPBACK_ENDPOINT)]);
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.message).toContain(healthUrl(CDKLOCAL_ENDPOINT));
    expect(v.message).toContain(healthUrl(LOOPBACK_ENDPOINT));
    expect(v.message).toContain(START_LOCALSTACK);
  });

  it('counts an error status as no answer', () => {
    const v = assessHealth([answered(CDKLOCAL_ENDPOINT, 'Service Unavailable', 503)]);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.message).toContain('HTTP 503');
  });

  it('stops when only 127.0.0.1 answers: cdklocal would send its requests to the other name', () => {
    const v = assessHealth([refused(CDKLOCAL_ENDPOINT), answered(LOOPBACK_ENDPOINT, healthy())]);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.message).toMatch(/answers at http:\/\/127\.0\.0\.1:4566 but not at/);
  });

  it('stops when the answer is not a LocalStack health report', () => {
    const v = assessHealth([answered(CDKLOCAL_ENDPOINT, { status: 'ok' })]);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.message).toContain("not with LocalStack's health report");
  });
});

// The real command, end to end, in cases where it must stop before cdklocal runs. A recording
// HTTP server stands in for LocalStack's endpoint, so any request the command makes is seen.
describe('npm run deploy:localstack (the real command)', () => {
  const repo = resolve(__dirname, '..', '..', '..', '..');
  let server: Server | undefined;
  afterEach(async () => {
    const s = server;
    server = undefined;
    if (s) await new Promise((done) => s.close(done));
  });

  async function recordingServer(
    answer: (req: IncomingMessage) => [number, string],
  ): Promise<{ url: string; requests: string[] }> {
    const requests: string[] = [];
    const s = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      const [status, body] = answer(req);
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
    server = s;
    await new Promise<void>((done) => s.listen(0, '127.0.0.1', done));
    const { port } = s.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, requests };
  }

  function deploy(
    env: NodeJS.ProcessEnv,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((done) => {
      execFile(
        'npx',
        ['tsx', 'tools/operations/localstack/deploy.ts'],
        { cwd: repo, env, timeout: 60_000 },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
          done({ code, stdout, stderr });
        },
      );
    });
  }

  const baseEnv = (endpoint: string): NodeJS.ProcessEnv => {
    const { LOCALSTACK_AUTH_TOKEN: _token, ...env } = process.env;
    return { ...env, AWS_ENDPOINT_URL: endpoint, AWS_ENDPOINT_URL_S3: endpoint };
  };

  it('fails without a token with the clear message, contacting nothing and running no cdklocal', async () => {
    // Not a healthy answer: were the command to go on regardless, it would still not deploy.
    const fake = await recordingServer(() => [503, 'unavailable']);
    const { code, stdout, stderr } = await deploy(baseEnv(fake.url));
    expect(code).toBe(1);
    expect(stderr).toContain('needs a LocalStack auth token: LOCALSTACK_AUTH_TOKEN is not set');
    expect(stderr).toContain(TOKEN_PAGE);
    expect(stderr).toContain('Amazon MSK: Ultimate');
    expect(stderr).toContain('Nothing was deployed.');
    expect(stderr).not.toMatch(/^\s+at /m); // no stack trace
    expect(stdout).not.toContain('> cdklocal');
    expect(fake.requests).toEqual([]);
  }, 60_000);

  it('fails when LocalStack does not answer, before running cdklocal', async () => {
    const closed = await recordingServer(() => [200, '{}']);
    const url = closed.url;
    await new Promise((done) => server?.close(done));
    server = undefined;
    const { code, stdout, stderr } = await deploy({
      ...baseEnv(url),
      LOCALSTACK_AUTH_TOKEN: FAKE_TOKEN,
    });
    expect(code).toBe(1);
    expect(stderr).toContain('LocalStack does not answer');
    expect(stderr).toContain(`${url}/_localstack/health`);
    expect(stdout).not.toContain('> cdklocal');
  }, 60_000);

  it('fails when something else answers on the endpoint, after one health request only', async () => {
    const other = await recordingServer(() => [200, JSON.stringify({ hello: 'world' })]);
    const { code, stdout, stderr } = await deploy({
      ...baseEnv(other.url),
      LOCALSTACK_AUTH_TOKEN: FAKE_TOKEN,
    });
    expect(code).toBe(1);
    expect(stderr).toContain("not with LocalStack's health report");
    expect(other.requests).toEqual(['GET /_localstack/health']);
    expect(stdout).not.toContain('> cdklocal');
  }, 60_000);
});
