// `npm run smoke -- --local` against `npm start -- --serve`: the real order API handler, relay,
// broker, consumer and PostgreSQL. Then the local dead-letter check on a parked dead letter.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../../tools/fixtures/services';
import { localChecks } from '../../../../tools/operations/smoke/local';

const ROOT = path.resolve(__dirname, '../../../..');
const TSX = path.join(ROOT, 'node_modules/tsx/dist/cli.mjs');

/** Resolves with the first match of `pattern` in what the stream has printed so far. */
function waitForOutput(
  text: () => string,
  child: ChildProcess,
  pattern: RegExp,
  timeoutMs: number,
): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = text().match(pattern);
      if (match !== null) {
        clearInterval(poll);
        clearTimeout(timer);
        child.off('exit', exited);
        resolve(match);
      }
    };
    const exited = (code: number | null) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`exited (${code}) before printing ${pattern}:\n${text()}`));
    };
    const poll = setInterval(check, 100);
    const timer = setTimeout(() => {
      clearInterval(poll);
      child.off('exit', exited);
      reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${text()}`));
    }, timeoutMs);
    child.once('exit', exited);
    check();
  });
}

function exitOf(child: ChildProcess, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no exit within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe('npm run smoke -- --local', () => {
  let start: ChildProcess | undefined;
  let db: TestDatabase | undefined;
  afterAll(async () => {
    // Only if the test failed before stopping it.
    if (start?.exitCode === null && start.signalCode === null) start.kill('SIGKILL');
    await db?.drop();
  });

  it('passes against npm start -- --serve, printing each step; npm start stops on SIGINT', {
    timeout: 240_000,
  }, async () => {
    const child = spawn(
      process.execPath,
      [
        TSX,
        'tools/local-runtime/start.ts',
        '--serve',
        '--api-port',
        '0',
        '--events',
        '20',
        '--rate',
        '0',
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    start = child;
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout?.resume();
    const [, url] = await waitForOutput(
      () => stderr,
      child,
      /Order API: (http:\/\/127\.0\.0\.1:\d+)/,
      120_000,
    );

    const smoke = spawn(
      process.execPath,
      [TSX, 'tools/operations/smoke/cli.ts', '--local', '--url', url as string, '--timeout', '60'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    smoke.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    smoke.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const code = await exitOf(smoke, 90_000);
    expect(code, `${out}\n${err}`).toBe(0);
    const step = String.raw`\[ *\d+\.\d s\]`;
    const id = '[0-9a-f-]{36}';
    const short = '[0-9a-f]{8}…';
    for (const line of [
      String.raw`smoke: local order API ${url}/ \(unsigned\); dead letters from PostgreSQL .+`,
      `${step} POST /orders -> 202 order ${id}`,
      `${step} POST /orders/${short}/events PaymentCaptured -> 202`,
      `${step} POST /orders/${short}/events OrderShipped -> 202`,
      String.raw`${step} GET /orders/${short} -> 200 SHIPPED v3 \(\d+ polls?\)`,
      `${step} alarms: not applicable: the local dashboard draws alarm thresholds but evaluates no alarm state`,
      `${step} dead letters: none for order ${short} \\(local dead_letters table\\)`,
      String.raw`smoke: passed in \d+\.\d s \(order ${id}\)`,
    ]) {
      expect(out).toMatch(new RegExp(`^${line}$`, 'm'));
    }

    // The SIGINT handler is in place once the demo's summary is out.
    await waitForOutput(() => stderr, child, /Ctrl-C to stop/, 120_000);
    child.kill('SIGINT');
    expect(await exitOf(child, 60_000)).toBe(0);
  });

  it('the local dead-letter check finds a dead letter parked for the order', async () => {
    db = await createTestDatabase('smoke');
    const order = { orderId: `smoke-${randomUUID()}`, eventIds: [randomUUID(), randomUUID()] };
    const checks = localChecks(db.env);
    expect(await checks.deadLetters(order, { fromMs: 0, toMs: 0 })).toMatchObject({
      kind: 'passed',
    });
    // By the order (aggregate) id, and by an event id where the aggregate was unreadable.
    for (const [eventId, aggregateId, offset] of [
      [order.eventIds[1], order.orderId, 41],
      [order.eventIds[0], null, 42],
    ] as const) {
      await db.pool.query(
        `INSERT INTO dead_letters (event_id, event_type, aggregate_id, correlation_id, error_type,
           error_message, payload, source_topic, source_partition, source_offset, attempts,
           first_failed_at, last_failed_at, record_digest)
         VALUES ($1, 'OrderShipped', $2, 'smoke', 'INVALID_TRANSITION', 'shipped before payment',
           '{}'::jsonb, 'order-events', 0, $3, 1, now(), now(), repeat('a', 64))`,
        [eventId, aggregateId, offset],
      );
    }
    const result = await checks.deadLetters(order, { fromMs: 0, toMs: 0 });
    expect(result.kind).toBe('failed');
    expect(result.kind === 'failed' && result.reason).toBe(
      `2 dead letter(s) for order ${order.orderId} in the local dead_letters table`,
    );
    expect(result.kind === 'failed' && result.details).toEqual([
      expect.stringMatching(
        new RegExp(
          `^#\\d+ INVALID_TRANSITION OrderShipped event ${order.eventIds[1]} PARKED since `,
        ),
      ),
      expect.stringMatching(
        new RegExp(
          `^#\\d+ INVALID_TRANSITION OrderShipped event ${order.eventIds[0]} PARKED since `,
        ),
      ),
    ]);
  });
});
