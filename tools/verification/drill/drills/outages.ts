// A dependency down as long as it is on AWS while a backlog waits: an RDS Multi-AZ failover
// takes 60–120 s, an ElastiCache failover tens of seconds, MSK patching takes brokers down
// one at a time. With the consumer mapping stopped, thousands of events are written and the
// relay publishes them all; then a private instance of the service goes down and the mapping
// meets the backlog during the outage (for the broker: the mapping starts first and the broker
// dies mid-backlog). After the outage the service comes back and the pipeline drains. A pass
// means the consumer waited the outage out: nothing lost, applied twice, dead-lettered, parked
// or sent to an on-failure destination.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { RunningConsumer } from '../../../local-runtime/pipeline';
import { readDeadLetterRecord, UNTYPED } from '../../ground-truth';
import { baseChecks } from '../accounting';
import type { Harness } from '../harness';
import { inputsOf, interleave, type OrderPlan, planOrders, writeOutbox } from '../inputs';
import { startPrivateKafka } from '../services/kafka';
import { sleep, waitUntil } from '../services/lifecycle';
import { startPrivatePostgres } from '../services/postgres';
import { startPrivateRedis } from '../services/redis';
import { readTopic } from '../topic-reader';
import {
  type Check,
  type Drill,
  type DrillContext,
  type DrillResult,
  drillResult,
  seededRandom,
} from '../types';
import { expectedOrders, type PrivateService, withPrivateHarness } from './private-harness';

/**
 * Full: AWS-sized, with the stage's breaker. Quick (CI): 12 s is far beyond the consumer's own
 * in-invocation retries (2, backing off from 50 ms), and a 10 s breaker open period (dev: 30 s)
 * lets the drain start soon after the service returns, keeping each drill short.
 */
const SIZES = {
  full: { backlog: 5_000, outageMs: 60_000, drainMs: 300_000, breakerOpenMs: undefined },
  quick: { backlog: 1_000, outageMs: 12_000, drainMs: 120_000, breakerOpenMs: 10_000 },
} as const;

/** Keys of the figures in DrillResult.details that the CI tests read. */
export const OUTAGE_FIGURES = {
  backlog: 'backlog on the topic (events)',
  lagAtStart: 'consumer lag when the mapping started',
  downS: 'service down, stop done to start issued (s)',
  unavailableS: 'service unavailable, stop issued to answering (s)',
  probes: 'probes of the service during the outage',
  probesAnswered: 'probes it answered',
  appliedAtDown: 'events applied when the service went down',
  appliedAtUp: 'events applied when the service answered again',
  // Includes the 2 s of quiet polls that confirm the drain.
  drainS: 'drain after recovery (s)',
  allAppliedS: 'every event applied after recovery (s)',
  invocations: 'mapping invocations',
  retries: 'mapping retries used',
  bisects: 'mapping bisects',
  timedOut: 'invocations that timed out',
  duplicates: 'deliveries skipped as duplicates',
  onFailureRecords: "records sent to the consumer mapping's on-failure destination",
  backstopDocuments: "documents in triage's on-failure backstop",
} as const;

interface OutagePlan extends PrivateService {
  /** Where the service listens: probed during the outage, nothing may answer. */
  readonly address: { readonly host: string; readonly port: number };
  readonly downLabel: string;
  down(): Promise<void>;
  /** Starts the service again; resolves once it answers. */
  up(): Promise<void>;
  /** The broker: the mapping is already consuming the backlog when the service dies. */
  readonly consumerFirst?: boolean;
  /** At least this many events in the backlog (default: the size's backlog). */
  readonly backlog?: number;
}

/** Whole orders, in plan order, until they carry at least `events` events. */
function planBacklog(events: number, prefix: string, random: () => number): OrderPlan[] {
  // Lifecycles average 2.25 events: 1 order per 1.5 events leaves a wide margin.
  const plans = planOrders(Math.ceil(events / 1.5), prefix, random);
  let total = 0;
  const count = plans.findIndex((p) => {
    total += p.events.length;
    return total >= events;
  });
  if (count === -1) throw new Error(`planned orders carry fewer than ${events} events`);
  return plans.slice(0, count + 1);
}

/** True when something accepts a TCP connection at the address within `timeoutMs`. */
function answers(address: { host: string; port: number }, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: address.host, port: address.port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    // Not the service: a connect to a closed ephemeral port can land on itself (self-connect).
    socket.once('connect', () => done(socket.localPort !== socket.remotePort));
    socket.once('error', () => done(false));
  });
}

function countFiles(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir, { recursive: true })
    .map((name) => join(dir, String(name)))
    .filter((path) => statSync(path).isFile()).length;
}

const seconds = (ms: number) => Math.round(ms / 100) / 10;

async function outageDrill(
  drill: Pick<Drill, 'id' | 'title'>,
  ctx: DrillContext,
  plan: OutagePlan,
): Promise<DrillResult> {
  const started = Date.now();
  const size = ctx.quick ? SIZES.quick : SIZES.full;
  const random = seededRandom(ctx.seed ^ 0x0a7a6e ^ drill.id.length);
  const openMs = (ctx.quick ? SIZES.quick : SIZES.full).breakerOpenMs;
  const sized: DrillContext =
    openMs === undefined
      ? ctx
      : { ...ctx, config: { ...ctx.config, breaker: { ...ctx.config.breaker, openMs } } };
  return withPrivateHarness(drill.id, sized, plan, async (h: Harness) => {
    const plans = planBacklog(
      plan.backlog ?? size.backlog,
      `${drill.id}-${h.topics.groupSuffix.slice(-10)}`,
      random,
    );
    const events = interleave(plans, random);
    const f: Record<string, string | number> = {
      [OUTAGE_FIGURES.backlog]: events.length,
      orders: plans.length,
    };
    let consumer: RunningConsumer | undefined;
    const down = { issued: 0, done: 0, startIssued: 0, answering: 0 };
    let probes = 0;
    const answered: number[] = [];
    let drained = false;
    const triage = await h.startTriage();
    const relay = await h.startRelay().catch(async (error: unknown) => {
      await triage.stop();
      throw error;
    });
    try {
      // The backlog: every event on the topic before the mapping reads any.
      await writeOutbox(h.db.pool, events, { perTransaction: 50 });
      if (!(await waitUntil(async () => (await h.pendingOutbox()) === 0, 120_000, 250))) {
        throw new Error('the relay did not publish the backlog within 120 s');
      }
      f[OUTAGE_FIGURES.lagAtStart] = await h.consumerLag();
      ctx.progress(`backlog of ${events.length} events on the topic`);

      const takeDown = async () => {
        // Counted before: with PostgreSQL down it cannot be counted.
        f[OUTAGE_FIGURES.appliedAtDown] = await h.appliedCount();
        down.issued = Date.now();
        await plan.down();
        // A killed JVM's main thread exits before its sockets close: down once nothing answers.
        if (!(await waitUntil(async () => !(await answers(plan.address)), 10_000, 20))) {
          throw new Error(`${plan.downLabel}: still answering 10 s later`);
        }
        down.done = Date.now();
        ctx.progress(`${plan.downLabel}: down`);
      };
      if (plan.consumerFirst === true) {
        consumer = await h.startConsumer();
        // Into the backlog: the first events are applied, most still wait.
        if (!(await waitUntil(async () => (await h.appliedCount()) > 0, 60_000, 10))) {
          throw new Error('the consumer applied nothing within 60 s');
        }
        await takeDown();
      } else {
        await takeDown();
        consumer = await h.startConsumer();
      }
      // Probed once a second: proof the service was really unreachable all along.
      while (Date.now() < down.done + size.outageMs) {
        probes++;
        if (await answers(plan.address)) answered.push(Date.now() - down.done);
        await sleep(Math.min(1_000, Math.max(0, down.done + size.outageMs - Date.now())));
      }
      down.startIssued = Date.now();
      await plan.up();
      down.answering = Date.now();
      f[OUTAGE_FIGURES.appliedAtUp] = await h.appliedCount();
      ctx.progress(`back after ${seconds(down.answering - down.issued)} s; draining`);

      let allAppliedAt: number | undefined;
      drained = await h.waitForDrain(size.drainMs, {
        until: async () => {
          if (allAppliedAt === undefined && (await h.appliedCount()) >= events.length) {
            allAppliedAt = Date.now();
          }
          return true;
        },
      });
      f[OUTAGE_FIGURES.drainS] = drained ? seconds(Date.now() - down.answering) : 'not drained';
      f[OUTAGE_FIGURES.allAppliedS] =
        Number(f[OUTAGE_FIGURES.appliedAtUp]) >= events.length
          ? 'during the outage'
          : allAppliedAt === undefined
            ? 'not all applied'
            : seconds(allAppliedAt - down.answering);
    } finally {
      await relay.stop().catch(() => undefined);
      await consumer?.stop().catch(() => undefined);
      await triage.stop().catch(() => undefined);
    }

    const stats = consumer.mapping.stats();
    const backstopDocuments = countFiles(h.topics.backstopDirectory);
    // Ground truth: the mapping's on-failure destination is the dead-letter topic, where it
    // writes the records raw (no consumer classification).
    const onFailureRecords = (
      await readTopic(h.endpoints.kafkaEnv, h.topics.topics.deadLetter)
    ).filter((r) => readDeadLetterRecord(r).type === UNTYPED).length;
    const accounting = await h.account(inputsOf(plans), expectedOrders(plans));
    const goodDeadLettered = Object.values(accounting.goodDeadLetteredByType).reduce(
      (n, v) => n + v,
      0,
    );
    const parked = Object.values(accounting.parkedByType).reduce((n, v) => n + v, 0);
    const downMs = down.startIssued - down.done;
    Object.assign(f, {
      [OUTAGE_FIGURES.downS]: seconds(downMs),
      [OUTAGE_FIGURES.unavailableS]: seconds(down.answering - down.issued),
      [OUTAGE_FIGURES.probes]: probes,
      [OUTAGE_FIGURES.probesAnswered]: answered.length,
      [OUTAGE_FIGURES.invocations]: stats.invocations,
      [OUTAGE_FIGURES.retries]: stats.retries,
      [OUTAGE_FIGURES.bisects]: stats.bisects,
      [OUTAGE_FIGURES.timedOut]: stats.timeouts,
      [OUTAGE_FIGURES.duplicates]: consumer.counters.duplicates,
      [OUTAGE_FIGURES.onFailureRecords]: onFailureRecords,
      [OUTAGE_FIGURES.backstopDocuments]: backstopDocuments,
      'records the broker got twice': accounting.topicCopies - accounting.onTopic,
    });
    const lagAtStart = Number(f[OUTAGE_FIGURES.lagAtStart]);
    // The broker: what the invocations in flight at the kill did not take waited on the topic.
    const waiting =
      events.length -
      Number(
        f[plan.consumerFirst === true ? OUTAGE_FIGURES.appliedAtUp : OUTAGE_FIGURES.appliedAtDown],
      );
    const checks: Check[] = [
      ...baseChecks(accounting),
      h.crashCheck(),
      {
        name: `backlog of ${events.length} events on the topic when the mapping started (lag ${lagAtStart})`,
        ok: lagAtStart >= events.length,
      },
      {
        name: `${plan.downLabel}: down ${seconds(downMs)} s (≥ ${size.outageMs / 1000} s), answering ${answered.length} of ${probes} probes${answered.length > 0 ? ` (at ${answered.map((ms) => `${seconds(ms)} s`).join(', ')})` : ''}`,
        ok: downMs >= size.outageMs && probes > 0 && answered.length === 0,
      },
      {
        name:
          plan.consumerFirst === true
            ? `${waiting} events waited on the topic through the outage`
            : `the mapping met ${waiting} unapplied events with the service down`,
        ok: waiting > 0,
      },
      { name: 'pipeline drained after recovery', ok: drained },
      {
        // The consumer hands a batch back before its timeout; an overrun spends a retry.
        name: `no invocation ran past the function timeout (${stats.timeouts})`,
        ok: stats.timeouts === 0,
        advisory: true,
      },
      // With the broker up, waiting inside an invocation should not cost a redelivery (a dead
      // broker takes the mapping's commits with it: redeliveries are expected there).
      ...(plan.consumerFirst === true
        ? []
        : [
            {
              name: `backlog delivered once (${consumer.counters.duplicates} deliveries were duplicates)`,
              ok: consumer.counters.duplicates === 0,
              advisory: true,
            },
          ]),
      { name: `0 good events dead-lettered (${goodDeadLettered})`, ok: goodDeadLettered === 0 },
      { name: `0 events parked by triage (${parked})`, ok: parked === 0 },
      {
        name: `0 records sent to the consumer mapping's on-failure destination (${onFailureRecords})`,
        ok: onFailureRecords === 0,
      },
      {
        name: `0 documents in triage's on-failure backstop (${backstopDocuments})`,
        ok: backstopDocuments === 0,
      },
    ];
    return drillResult(
      drill,
      { startedAt: started, logPath: h.logPath },
      {
        accounting,
        checks,
        details: f,
      },
    );
  });
}

export const postgresOutageDrill: Drill = {
  id: 'postgres-outage',
  title: 'PostgreSQL down for a failover while a backlog waits',
  proves:
    'a database outage as long as an RDS Multi-AZ failover, met by the consumer with thousands of events waiting, ends with every event applied once: none dead-lettered, parked or sent to an on-failure destination',
  async run(ctx) {
    const postgres = await startPrivatePostgres((l) => ctx.progress(l));
    return outageDrill(this, ctx, {
      endpoints: { ...ctx.shared, pg: postgres.pgEnv },
      address: { host: postgres.pgEnv.host, port: postgres.pgEnv.port },
      downLabel: 'postgres stop -m immediate',
      down: () => postgres.stop('immediate'),
      up: () => postgres.start(),
      destroy: () => postgres.destroy(),
    });
  },
};

export const redisOutageDrill: Drill = {
  id: 'redis-outage',
  title: 'Redis down for a failover while a backlog waits',
  proves:
    'with the idempotency cache crashed (every key lost) for as long as an ElastiCache failover, the backlog is applied once from PostgreSQL alone: nothing dead-lettered, parked or sent to an on-failure destination',
  async run(ctx) {
    const redis = await startPrivateRedis((l) => ctx.progress(l));
    return outageDrill(this, ctx, {
      endpoints: { ...ctx.shared, redis: { host: redis.host, port: redis.port } },
      address: { host: redis.host, port: redis.port },
      downLabel: 'redis SIGKILL',
      down: () => redis.stop('kill'),
      up: () => redis.start(),
      destroy: () => redis.destroy(),
    });
  },
};

export const brokerOutageDrill: Drill = {
  id: 'broker-outage',
  title: 'Kafka broker down mid-backlog',
  proves:
    'a broker killed while the consumer works through a backlog and kept down for a minute: the rest of the backlog waits on the topic and is applied once after the restart, nothing dead-lettered or sent to an on-failure destination',
  async run(ctx) {
    const kafka = await startPrivateKafka((l) => ctx.progress(l));
    const [host, port] = (kafka.brokers[0] ?? '').split(':');
    return outageDrill(this, ctx, {
      endpoints: { ...ctx.shared, kafkaEnv: kafka.kafkaEnv },
      address: { host: host ?? '127.0.0.1', port: Number(port) },
      downLabel: 'broker SIGKILL',
      down: () => kafka.stop('kill'),
      up: () => kafka.start(),
      consumerFirst: true,
      // The first invocation of each of the 6 partitions takes up to 500 records and finishes
      // during the outage: more than 3,000 leaves a part of the backlog waiting on the broker.
      ...(ctx.quick ? { backlog: 3_000 } : {}),
      destroy: () => kafka.destroy(),
    });
  },
};
