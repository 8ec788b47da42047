// A service restarted mid-stream: the whole local pipeline runs against a private instance of
// the service (never the shared one), a service writes orders to the outbox at a steady rate,
// the instance is stopped and started again while events flow, then the pipeline drains and
// the accounting runs. Broker: crash (SIGKILL) then controlled shutdown. Redis: FLUSHALL then a
// crash, and afterwards already-applied events are published again (a relay duplicate) so only
// processed_events stands between them and a double application. PostgreSQL: immediate (crash)
// then fast shutdown.
import type { Pool } from 'pg';
import { baseChecks } from '../accounting';
import { inputsOf, interleave, planOrders, writeOutbox } from '../inputs';
import { startPrivateKafka } from '../services/kafka';
import { sleep } from '../services/lifecycle';
import { startPrivatePostgres } from '../services/postgres';
import { startPrivateRedis } from '../services/redis';
import {
  type Check,
  type Drill,
  type DrillContext,
  type DrillResult,
  drillResult,
  seededRandom,
} from '../types';
import { expectedOrders, type PrivateService, withPrivateHarness } from './private-harness';

interface Restart {
  readonly label: string;
  /** Stops the service, keeps it down for a moment, starts it; resolves once it answers. */
  run(): Promise<void>;
}

interface RestartPlan extends PrivateService {
  readonly restarts: readonly Restart[];
  /** After each restart (e.g. publish applied events again). Returns a figure to report. */
  readonly after?: (pool: Pool, index: number) => Promise<number>;
  readonly afterLabel?: string;
}

/** How long a stopped service stays down before it is started again. */
const DOWN_MS = 3_000;

async function restartDrill(
  drill: Pick<Drill, 'id' | 'title'>,
  ctx: DrillContext,
  plan: RestartPlan,
): Promise<DrillResult> {
  const started = Date.now();
  const random = seededRandom(ctx.seed ^ drill.id.length);
  return withPrivateHarness(drill.id, ctx, plan, async (h) => {
    const restartTimes: string[] = [];
    let afterTotal = 0;
    let drained = false;
    let drainMs = 0;
    const plans = planOrders(
      ctx.quick ? 150 : 500,
      `${drill.id}-${h.topics.groupSuffix.slice(-10)}`,
      random,
    );
    const pipeline = await h.startPipeline();
    try {
      const events = interleave(plans, random);
      const perTransaction = 5;
      const durationMs = ctx.quick ? 12_000 : 40_000;
      const intervalMs = Math.floor(durationMs / (events.length / perTransaction));
      const writer = writeOutbox(h.db.pool, events, {
        perTransaction,
        pace: () => sleep(intervalMs),
        deadlineMs: 180_000,
      });
      // Awaited below; until then a failure must not surface as an unhandled rejection.
      writer.catch(() => undefined);
      // Restarts spread evenly through the writing.
      const gap = durationMs / (plan.restarts.length + 1);
      for (const [i, restart] of plan.restarts.entries()) {
        await sleep(gap);
        const t = Date.now();
        await restart.run();
        restartTimes.push(`${restart.label} ${((Date.now() - t) / 1000).toFixed(1)} s`);
        ctx.progress(`${restart.label}: back after ${((Date.now() - t) / 1000).toFixed(1)} s`);
        if (plan.after !== undefined) afterTotal += await plan.after(h.db.pool, i);
      }
      await writer;
      const t = Date.now();
      drained = await h.waitForDrain(ctx.quick ? 150_000 : 300_000);
      drainMs = Date.now() - t;
    } finally {
      await pipeline.stop();
    }
    const accounting = await h.account(inputsOf(plans), expectedOrders(plans));
    const checks: Check[] = [
      ...baseChecks(accounting),
      h.crashCheck(),
      {
        name: `${plan.restarts.length} restart(s) while events flowed`,
        ok: restartTimes.length === plan.restarts.length,
      },
      { name: 'pipeline drained after the restarts', ok: drained },
    ];
    const details: Record<string, string | number> = {
      restarts: restartTimes.join('; '),
      'drain after the writer finished': `${(drainMs / 1000).toFixed(1)} s`,
      orders: plans.length,
      'records the broker got twice': accounting.topicCopies - accounting.onTopic,
    };
    if (plan.afterLabel !== undefined) details[plan.afterLabel] = afterTotal;
    return drillResult(
      drill,
      { startedAt: started, logPath: h.logPath },
      {
        accounting,
        checks,
        details,
      },
    );
  });
}

export const brokerRestartDrill: Drill = {
  id: 'broker-restart',
  title: 'Kafka broker restarted mid-stream',
  proves:
    'relay, consumer and triage ride out a broker crash and a controlled restart: events published during the outage wait in the outbox, nothing is lost or applied twice',
  async run(ctx) {
    const kafka = await startPrivateKafka((l) => ctx.progress(l));
    const restart = (mode: 'kill' | 'graceful'): Restart => ({
      label: mode === 'kill' ? 'broker SIGKILL + start' : 'broker SIGTERM + start',
      async run() {
        await kafka.stop(mode);
        await sleep(DOWN_MS);
        await kafka.start();
      },
    });
    return restartDrill(this, ctx, {
      endpoints: { ...ctx.shared, kafkaEnv: kafka.kafkaEnv },
      restarts: ctx.quick ? [restart('kill')] : [restart('kill'), restart('graceful')],
      destroy: () => kafka.destroy(),
    });
  },
};

export const redisRestartDrill: Drill = {
  id: 'redis-restart',
  title: 'Redis flushed and restarted mid-stream',
  proves:
    'with every idempotency record gone (FLUSHALL, then a crash of a Redis without persistence), republished events are still applied once: processed_events is the ground truth',
  async run(ctx) {
    const redis = await startPrivateRedis((l) => ctx.progress(l));
    const random = seededRandom(ctx.seed ^ 0x7ed15);
    const restart: Restart = {
      label: 'redis FLUSHALL + SIGKILL + start',
      async run() {
        await redis.flushAll();
        await redis.stop('kill');
        await sleep(DOWN_MS);
        await redis.start();
      },
    };
    return restartDrill(this, ctx, {
      endpoints: { ...ctx.shared, redis: { host: redis.host, port: redis.port } },
      restarts: ctx.quick ? [restart] : [restart, restart],
      // Applied events published again, as a relay that crashed before its commit would: the
      // Redis records that would have caught them are gone.
      async after(pool) {
        const n = ctx.quick ? 30 : 100;
        const { rows } = await pool.query<{ id: string }>(
          `SELECT o.id::text AS id FROM outbox o
             JOIN processed_events p ON p.event_id = o.id::text
            WHERE o.published_at IS NOT NULL`,
        );
        const pick = rows
          .map((r) => ({ r, k: random() }))
          .sort((a, b) => a.k - b.k)
          .slice(0, n)
          .map((x) => x.r.id);
        await pool.query('UPDATE outbox SET published_at = NULL WHERE id = ANY($1::uuid[])', [
          pick,
        ]);
        return pick.length;
      },
      afterLabel: 'applied events published again after the flush',
      destroy: () => redis.destroy(),
    });
  },
};

export const postgresRestartDrill: Drill = {
  id: 'postgres-restart',
  title: 'PostgreSQL restarted mid-stream',
  proves:
    'relay, consumer, triage and the writing service ride out a database crash (immediate shutdown) and a fast restart: no committed outbox row is lost, nothing applies twice',
  async run(ctx) {
    const postgres = await startPrivatePostgres((l) => ctx.progress(l));
    const restart = (mode: 'immediate' | 'fast'): Restart => ({
      label: `postgres stop -m ${mode} + start`,
      async run() {
        await postgres.stop(mode);
        await sleep(DOWN_MS);
        await postgres.start();
      },
    });
    return restartDrill(this, ctx, {
      endpoints: { ...ctx.shared, pg: postgres.pgEnv },
      restarts: ctx.quick ? [restart('immediate')] : [restart('immediate'), restart('fast')],
      destroy: () => postgres.destroy(),
    });
  },
};
