// Oversized orders while ordinary orders flow through the real order API handler: the API must
// refuse what is too large (413), has too many items or a NUL (400), and accept an order just
// under its limit; a writer that bypassed the API puts a ~1.4 MB event in the outbox, followed
// by a later event of the same order. The relay must set the large row aside and hold the later
// one, and every ordinary order written after it must flow as fast as before. The operator's
// `npm run outbox -- discard` then lets the held event through: dead-lettered and parked.

import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import type { Pool } from 'pg';
import { orderCommands } from '../../../../lambdas/order-api/commands';
import { createOrderApiHandler, type OrderApiHandler } from '../../../../lambdas/order-api/handler';
import { createOrderApi } from '../../../../lambdas/order-api/http';
import { createEnvelope, type OrderEvent } from '../../../../lambdas/shared/events/envelope';
import { getOutboxRow, listSetAside } from '../../../../lambdas/shared/outbox/set-aside';
import { orderApiSettings } from '../../../../lib/config/function-environment';
import { httpEvent, lambdaContext } from '../../../local-runtime/http-event';
import { EXIT, run as outboxCommand } from '../../../operations/outbox/actions';
import { percentile } from '../../bench/stats';
import type { ExpectedOrder } from '../../ground-truth';
import { account, baseChecks } from '../accounting';
import { createHarness, type Harness } from '../harness';
import { type DrillInput, orderEvent, writeOutbox } from '../inputs';
import { sleep, waitUntil } from '../services/lifecycle';
import { type Check, type Drill, type DrillContext, type DrillResult, drillResult } from '../types';

const SIZES = {
  full: { orders: 300, ordersPerSec: 20, drainMs: 120_000 },
  quick: { orders: 60, ordersPerSec: 20, drainMs: 60_000 },
} as const;

/** An ordinary event written after the oversized row must be applied within this. */
const AFTER_BOUND_MS = 60_000;

/** Keys of DrillResult.details the CI test reads. */
export const OVERSIZED_FIGURES = {
  refusals: 'API refusals by status',
  largeAccepted: 'order of 1,000 items just under the body limit (status, body / event bytes)',
  setAside: 'outbox rows set aside',
  held: 'rows held behind them (before discard)',
  reason: 'set-aside reason',
  before: 'ordinary orders before / after the oversized row',
  publishP: 'publish latency p50 / p95, before → after (ms)',
  appliedP: 'commit-to-applied latency p50 / p95, before → after (ms)',
  drain: 'drain after discard (s)',
  heldState: 'held row before discard (state; applied or published)',
  discard: 'operator discard (exit code: output)',
  issues: 'issues the 400s named',
} as const;

interface Refusal {
  readonly label: string;
  readonly expected: number;
  readonly orderId: string;
  readonly body: string;
  /** An issue path the 400 must name. */
  readonly path?: string;
}

const silent = () => undefined;

function apiHandler(pool: Pool, h: Harness, config: DrillContext['config']): OrderApiHandler {
  return createOrderApiHandler({
    flushMetrics: silent,
    api: () =>
      createOrderApi({
        commands: orderCommands(pool, { logger: h.logger }),
        limits: orderApiSettings(config),
        logger: { ...h.logger, appendKeys: silent, removeKeys: silent },
      }),
  });
}

/** `count` items whose sku is `skuChars` long (the schema allows 200). */
function items(count: number, skuChars: number) {
  return Array.from({ length: count }, (_, i) => ({
    sku: `SKU-${i}-`.padEnd(skuChars, 'x'),
    quantity: 1,
    unitPriceMinor: 1,
  }));
}

function placeBody(orderId: string, n: number, skuChars: number, customerId = `cust-${orderId}`) {
  return { orderId, customerId, items: items(n, skuChars), totalMinor: n, currency: 'EUR' };
}

/** p50 / p95 of a sample (nearest rank, as the bench reports them). */
const pair = (values: number[]) => {
  if (values.length === 0) return 'none';
  const s = [...values].sort((a, b) => a - b);
  return `${Math.round(percentile(s, 50))} / ${Math.round(percentile(s, 95))}`;
};

export const oversizedDrill: Drill = {
  id: 'oversized',
  title: 'Oversized orders and an oversized outbox row',
  proves:
    'the API refuses oversized bodies, the relay sets an oversized outbox row aside and holds only its order, ordinary orders after it flow as before, and discard lets the held event through to be dead-lettered and parked',
  async run(ctx: DrillContext): Promise<DrillResult> {
    const started = Date.now();
    const size = ctx.quick ? SIZES.quick : SIZES.full;
    const h = await createHarness(ctx.config, 'oversized', ctx.shared, { viaOutbox: true });
    try {
      const tag = h.topics.groupSuffix.slice(-8);
      const api = apiHandler(h.db.pool, h, ctx.config);
      const post = async (path: string, body: string | object) => {
        const res = (await api(
          httpEvent({ method: 'POST', path, body }),
          lambdaContext,
        )) as APIGatewayProxyStructuredResultV2;
        return { status: res.statusCode ?? 0, json: JSON.parse(res.body ?? 'null') as unknown };
      };

      const inputs: DrillInput[] = [];
      const orders: ExpectedOrder[] = [];
      const apiErrors: string[] = [];
      const accepted = (r: { status: number; json: unknown }, label: string, orderId: string) => {
        if (r.status !== 202) {
          apiErrors.push(`${label} ${orderId}: ${r.status} ${JSON.stringify(r.json)}`);
          return false;
        }
        const { eventId } = r.json as { eventId: string };
        inputs.push({ id: eventId, label, expected: 'apply', aggregateId: orderId });
        return true;
      };

      /** One ordinary order's lifecycle through the API: place, capture, ship. */
      const lifecycle = async (orderId: string) => {
        if (!accepted(await post('/orders', placeBody(orderId, 1, 8)), 'OrderPlaced', orderId)) {
          return;
        }
        const steps = [
          {
            eventType: 'PaymentCaptured',
            data: { paymentId: `pay-${orderId}`, amountMinor: 1, currency: 'EUR' },
          },
          {
            eventType: 'OrderShipped',
            data: { carrier: 'drill-post', trackingNumber: `TRK-${orderId}` },
          },
        ];
        for (const step of steps) {
          const r = await post(`/orders/${orderId}/events`, step);
          if (!accepted(r, step.eventType, orderId)) return;
        }
        orders.push({ orderId, finalState: 'SHIPPED', events: 3 });
      };

      // Refused at the door: none of these may reach the outbox or the orders table.
      const refusalIds = {
        tooLarge: `oversized-${tag}-too-large`,
        tooMany: `oversized-${tag}-too-many`,
        nul: `oversized-${tag}-nul`,
      };
      const refusals: Refusal[] = [
        {
          label: 'body over maxBodyBytes (6,000 items)',
          expected: 413,
          orderId: refusalIds.tooLarge,
          body: JSON.stringify(placeBody(refusalIds.tooLarge, 6_000, 200)),
        },
        {
          label: '1,001 items',
          expected: 400,
          orderId: refusalIds.tooMany,
          body: JSON.stringify(placeBody(refusalIds.tooMany, 1_001, 8)),
          path: 'items',
        },
        {
          label: 'NUL in customerId',
          expected: 400,
          orderId: refusalIds.nul,
          body: JSON.stringify(placeBody(refusalIds.nul, 1, 8, 'cust\u0000omer')),
          path: 'customerId',
        },
      ];
      const refusedBy: Record<string, number> = {};
      const refusalIssues: string[] = [];
      const refusalProblems: string[] = [];
      // 1,000 items of 200-character skus, padded with JSON whitespace to just under the limit.
      const largeId = `oversized-${tag}-large`;
      const maxBody = orderApiSettings(ctx.config).maxBodyBytes;
      const largeJson = JSON.stringify(placeBody(largeId, 1_000, 200));
      const largeBody = largeJson.padEnd(maxBody - 16, ' ');
      let largeStatus = 0;
      const sendAtDoor = async () => {
        for (const r of refusals) {
          const res = await post('/orders', r.body);
          refusedBy[res.status] = (refusedBy[res.status] ?? 0) + 1;
          const issues = ((res.json as { issues?: { path: string; message: string }[] })?.issues ??
            []) as { path: string; message: string }[];
          for (const i of issues) refusalIssues.push(`${r.label}: ${i.path} ${i.message}`);
          if (res.status !== r.expected) {
            refusalProblems.push(`${r.label}: ${res.status}, expected ${r.expected}`);
          } else if (r.path !== undefined && !issues.some((i) => i.path === r.path)) {
            refusalProblems.push(`${r.label}: no issue names ${r.path}`);
          }
        }
        const res = await post('/orders', largeBody);
        largeStatus = res.status;
        if (accepted(res, 'large-OrderPlaced', largeId)) {
          orders.push({ orderId: largeId, finalState: 'CREATED', events: 1 });
        }
      };

      // The writer that bypassed the API: no order row (the consumer shares the orders table
      // and would apply the later event to one), a ~1.4 MB OrderPlaced, then its PaymentCaptured.
      const ghostId = `oversized-${tag}-bypass`;
      const t = Date.now();
      const oversized: OrderEvent = createEnvelope({
        eventType: 'OrderPlaced',
        correlationId: `drill-${ghostId}`,
        occurredAt: new Date(t),
        data: {
          orderId: ghostId,
          customerId: `cust-${ghostId}`,
          items: items(6_000, 200),
          totalMinor: 6_000,
          currency: 'EUR',
        },
      });
      const heldEvent = orderEvent(ghostId, 'PaymentCaptured', new Date(t + 1));
      const oversizedBytes = Buffer.byteLength(JSON.stringify(oversized));
      let oversizedSeq = '';
      const bypass = async () => {
        await writeOutbox(h.db.pool, [oversized], { perTransaction: 1 });
        await writeOutbox(h.db.pool, [heldEvent], { perTransaction: 1 });
        const { rows } = await h.db.pool.query<{ seq: string }>(
          'SELECT seq::text AS seq FROM outbox WHERE id = $1',
          [oversized.eventId],
        );
        oversizedSeq = rows[0]?.seq ?? '';
        ctx.progress(
          `bypass: ${oversizedBytes} byte OrderPlaced at seq ${oversizedSeq}, then its PaymentCaptured`,
        );
      };

      const pipeline = await h.startPipeline();
      let allApplied = false;
      let drained = false;
      let drainMs = 0;
      let setAsideReason = '';
      let setAsideCount = 0;
      let heldCount = 0;
      let heldPending = false;
      let heldPublished = false;
      let discardExit: number = EXIT.failure;
      const discardOutput: string[] = [];
      try {
        // Ordinary orders at a steady rate; the door and the bypass happen mid-stream.
        const intervalMs = 1_000 / size.ordersPerSec;
        const flows: Promise<void>[] = [];
        const door: Promise<void>[] = [];
        for (let i = 0; i < size.orders; i++) {
          if (i === Math.floor(size.orders / 3)) door.push(sendAtDoor());
          if (i === Math.floor(size.orders / 2)) await bypass();
          flows.push(lifecycle(`oversized-${tag}-${i}`));
          await sleep(intervalMs);
        }
        await Promise.all([...flows, ...door]);
        ctx.progress(`${orders.length} orders written through the API; waiting for them to apply`);

        const good = () => inputs.map((i) => i.id);
        allApplied = await waitUntil(async () => {
          const { rows } = await h.db.pool.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM processed_events WHERE event_id = ANY($1)',
            [good()],
          );
          return (rows[0]?.n ?? 0) >= inputs.length;
        }, AFTER_BOUND_MS);

        // Before discard: the large row set aside, its order's later row held.
        const listed = await listSetAside(h.db.pool, 50);
        setAsideCount = listed.length;
        const mine = listed.find((r) => r.id === oversized.eventId);
        setAsideReason = mine?.reason ?? '';
        heldCount = listed.reduce((n, r) => n + r.held, 0);
        const detail = await getOutboxRow(h.db.pool, heldEvent.eventId);
        heldPending =
          detail !== undefined &&
          detail.publishedAt === null &&
          detail.setAsideAt === null &&
          detail.discardedAt === null;
        const { rows: applied } = await h.db.pool.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM processed_events WHERE aggregate_id = $1',
          [ghostId],
        );
        heldPublished = (applied[0]?.n ?? 0) > 0 || detail?.publishedAt !== null;
        ctx.progress(`set aside: ${setAsideCount}, held: ${heldCount}; discarding`);

        const discardedAt = Date.now();
        discardExit = await outboxCommand(
          { kind: 'discard', id: oversized.eventId, reason: 'drill: oversized, bypassed the API' },
          {
            pool: h.db.pool,
            output: { out: (l) => discardOutput.push(l), err: (l) => discardOutput.push(l) },
          },
        );
        // The harness counts a discarded row as pending (published_at stays NULL): checked here.
        drained = await h.waitForDrain(size.drainMs, {
          viaOutbox: false,
          until: async () => {
            const { rows } = await h.db.pool.query<{ pending: number; parked: number }>(
              `SELECT (SELECT count(*) FROM outbox
                        WHERE published_at IS NULL AND discarded_at IS NULL)::int AS pending,
                      (SELECT count(*) FROM dead_letters WHERE event_id = $1)::int AS parked`,
              [heldEvent.eventId],
            );
            return rows[0]?.pending === 0 && (rows[0]?.parked ?? 0) > 0;
          },
        });
        drainMs = Date.now() - discardedAt;
      } finally {
        await pipeline.stop();
      }

      // Latency of ordinary events by which side of the oversized row they were committed on.
      const { rows: timing } = await h.db.pool.query<{
        after: boolean;
        publish_ms: number | null;
        applied_ms: number | null;
      }>(
        `SELECT o.seq > $2::bigint AS after,
                (extract(epoch FROM o.published_at - o.created_at) * 1000)::float8 AS publish_ms,
                (extract(epoch FROM p.processed_at - o.created_at) * 1000)::float8 AS applied_ms
           FROM outbox o LEFT JOIN processed_events p ON p.event_id = o.id::text
          WHERE o.id::text = ANY($1)`,
        [inputs.map((i) => i.id), oversizedSeq === '' ? '0' : oversizedSeq],
      );
      const side = (after: boolean) => timing.filter((r) => r.after === after);
      const nums = (rows: typeof timing, k: 'publish_ms' | 'applied_ms') =>
        rows.map((r) => r[k]).filter((v): v is number => v !== null);
      const before = side(false);
      const after = side(true);
      const afterLate = after.filter(
        (r) => r.applied_ms === null || r.applied_ms > AFTER_BOUND_MS,
      ).length;
      const { rows: placedRows } = await h.db.pool.query<{ after: boolean; n: number }>(
        `SELECT seq > $2::bigint AS after, count(*)::int AS n FROM outbox
          WHERE id::text = ANY($1) AND event_type = 'OrderPlaced' GROUP BY 1`,
        [inputs.filter((i) => i.label === 'OrderPlaced').map((i) => i.id), oversizedSeq || '0'],
      );
      const ordersAfter = placedRows.find((r) => r.after)?.n ?? 0;
      const ordersBefore = placedRows.find((r) => !r.after)?.n ?? 0;

      const { rows: leaked } = await h.db.pool.query<{ n: number }>(
        `SELECT ((SELECT count(*) FROM outbox WHERE aggregate_id = ANY($1))
              + (SELECT count(*) FROM orders WHERE id = ANY($1)))::int AS n`,
        [Object.values(refusalIds)],
      );
      const { rows: finalRows } = await h.db.pool.query<{
        discarded: boolean;
        published: boolean;
      }>(
        `SELECT discarded_at IS NOT NULL AS discarded, published_at IS NOT NULL AS published
           FROM outbox WHERE id = $1`,
        [oversized.eventId],
      );

      const { rows: largeRows } = await h.db.pool.query<{ n: number }>(
        'SELECT octet_length(payload::text)::int AS n FROM outbox WHERE aggregate_id = $1',
        [largeId],
      );
      const held: DrillInput = {
        id: heldEvent.eventId,
        label: 'held-PaymentCaptured (order never existed)',
        expected: 'INVALID_TRANSITION',
        aggregateId: ghostId,
      };
      const accounting = await account([...inputs, held], orders, {
        pool: h.db.pool,
        kafkaEnv: h.endpoints.kafkaEnv,
        topics: h.topics.topics,
      });
      const limit = ctx.config.kafka.topics.orderEvents.maxMessageBytes;
      const checks: Check[] = [
        ...baseChecks(accounting),
        h.crashCheck(),
        {
          name: `API refused each oversized or unstorable body with its status${refusalProblems.length > 0 ? ` (${refusalProblems.join('; ')})` : ''}`,
          ok: refusalProblems.length === 0,
        },
        {
          name: 'no refused request reached the outbox or the orders table',
          ok: leaked[0]?.n === 0,
        },
        {
          name: `order of 1,000 items under the body limit accepted (${largeStatus}) and applied`,
          ok: largeStatus === 202,
        },
        {
          name: `every ordinary request accepted${apiErrors.length > 0 ? ` (${apiErrors.length}: ${apiErrors[0]})` : ''}`,
          ok: apiErrors.length === 0,
        },
        {
          name: 'the oversized row set aside with a reason naming its size and the limit',
          ok:
            setAsideCount === 1 &&
            setAsideReason.includes('MESSAGE_TOO_LARGE') &&
            setAsideReason.includes(String(limit)),
        },
        {
          name: "the same order's later row held (pending, not published) until discard",
          ok: heldCount === 1 && heldPending && !heldPublished,
        },
        {
          name: `0 ordinary orders blocked: every event written after the oversized row applied within ${AFTER_BOUND_MS / 1000} s (${afterLate} not)`,
          ok: after.length > 0 && afterLate === 0,
        },
        { name: 'every ordinary event applied before the discard', ok: allApplied },
        {
          name: 'operator discard succeeded; the row stays unpublished, marked discarded',
          ok:
            discardExit === EXIT.ok &&
            finalRows[0]?.discarded === true &&
            finalRows[0]?.published === false,
        },
        { name: 'pipeline drained after the discard', ok: drained },
        {
          name: 'the held event parked by triage with INVALID_TRANSITION',
          ok: accounting.parkedMisfiled.length === 0,
        },
      ];
      const byStatus = Object.entries(refusedBy)
        .map(([s, n]) => `${s}: ${n}`)
        .join(', ');
      return drillResult(
        this,
        { startedAt: started, logPath: h.logPath },
        {
          accounting,
          checks,
          details: {
            [OVERSIZED_FIGURES.refusals]: byStatus,
            [OVERSIZED_FIGURES.largeAccepted]: `${largeStatus}, ${Buffer.byteLength(largeBody)} / ${largeRows[0]?.n ?? '-'}`,
            'oversized outbox event (bytes)': oversizedBytes,
            [OVERSIZED_FIGURES.setAside]: setAsideCount,
            [OVERSIZED_FIGURES.held]: heldCount,
            [OVERSIZED_FIGURES.reason]: setAsideReason,
            [OVERSIZED_FIGURES.before]: `${ordersBefore} / ${ordersAfter}`,
            [OVERSIZED_FIGURES.publishP]: `${pair(nums(before, 'publish_ms'))} → ${pair(nums(after, 'publish_ms'))}`,
            [OVERSIZED_FIGURES.appliedP]: `${pair(nums(before, 'applied_ms'))} → ${pair(nums(after, 'applied_ms'))}`,
            [OVERSIZED_FIGURES.drain]: Math.round(drainMs / 100) / 10,
            [OVERSIZED_FIGURES.heldState]: `${heldPending ? 'pending' : 'not pending'}; ${heldPublished ? 'yes' : 'no'}`,
            [OVERSIZED_FIGURES.discard]: `${discardExit}: ${discardOutput.join(' | ')}`,
            [OVERSIZED_FIGURES.issues]: refusalIssues.join(' | '),
          },
        },
      );
    } finally {
      await h.close();
    }
  },
};
