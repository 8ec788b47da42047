// The relay SIGKILLed at random points while a service keeps writing to the outbox: each trial
// starts a relay process, kills it (at a random time, or the moment a batch was acknowledged by
// the broker), and starts the next. A last, unkilled relay drains the outbox; the consumer
// applies everything. Nothing may be lost; a republished batch must apply once.
import type { ExpectedOrder } from '../../ground-truth';
import { baseChecks } from '../accounting';
import { startChild } from '../child';
import { createHarness } from '../harness';
import { inputsOf, interleave, planOrders, writeOutbox } from '../inputs';
import { sleep, waitUntil } from '../services/lifecycle';
import {
  type Drill,
  type DrillContext,
  type DrillResult,
  drillResult,
  seededRandom,
} from '../types';

/**
 * Where a kill landed, from the database: no batch acknowledged yet in this run; the last
 * acknowledged batch still unmarked (between broker ack and commit); or after a committed batch
 * (claiming, sending, waiting: a send the broker took but the relay never saw acknowledged
 * also leaves unmarked rows, which show as topic duplicates).
 */
type KillPoint = 'before-first-ack' | 'between-ack-and-commit' | 'after-a-commit';

/** Random kills land anywhere in [0, this) ms after the relay is up. */
const MAX_KILL_DELAY_MS = 1_500;
/** Held between broker ack and commit in every relay run (a slow database). */
const ACK_PAUSE_MS = 50;

export const relayKillDrill: Drill = {
  id: 'relay-sigkill',
  title: 'Relay SIGKILLed at random points',
  proves:
    'a relay killed anywhere in its loop, including between the broker ack and the commit, loses nothing, and the batch it republishes applies once',
  async run(ctx: DrillContext): Promise<DrillResult> {
    const started = Date.now();
    const trials = ctx.quick ? 3 : 20;
    const random = seededRandom(ctx.seed ^ 0x5e1a7);
    const h = await createHarness(ctx.config, 'relay-kill', ctx.shared, { viaOutbox: true });
    try {
      const plans = planOrders(
        ctx.quick ? 120 : 600,
        `relaykill-${h.topics.groupSuffix.slice(-10)}`,
        random,
      );
      const events = interleave(plans, random);
      const perTransaction = 5;
      // Each trial's share of the orders is written while that relay runs, so it always has
      // work when it is killed.
      const share = Math.ceil(events.length / trials);
      const intervalMs = Math.max(1, Math.floor(MAX_KILL_DELAY_MS / (share / perTransaction)));
      const consumer = await h.startConsumer();
      const kills: Array<{ point: KillPoint; mode: string; afterMs: number }> = [];
      let drained = false;
      try {
        const childEnv = { ...h.childEnv, DRILL_ACK_PAUSE_MS: String(ACK_PAUSE_MS) };
        for (let trial = 1; trial <= trials; trial++) {
          const child = startChild('relay', childEnv, h.logPath);
          await child.waitForLine(/^READY$/, 60_000);
          const up = Date.now();
          const writer = writeOutbox(h.db.pool, events.slice((trial - 1) * share, trial * share), {
            perTransaction,
            pace: () => sleep(intervalMs),
          });
          // Awaited after the kill; until then a failure must not surface as unhandled.
          writer.catch(() => undefined);
          // Alternate: a kill on the next broker ack aims at the dangerous window every time.
          const mode = trial % 2 === 1 ? 'on-ack' : 'random-time';
          if (mode === 'random-time') {
            await sleep(Math.floor(random() * MAX_KILL_DELAY_MS));
          } else {
            // The next acknowledged batch; if none comes, a random time after all.
            const seen = child.lines.filter((l) => l.startsWith('ACKED')).length;
            await waitUntil(
              () => child.lines.filter((l) => l.startsWith('ACKED')).length > seen,
              MAX_KILL_DELAY_MS,
              2,
            );
          }
          const afterMs = Date.now() - up;
          await child.kill('SIGKILL');
          await writer;
          const acks = child.lines.filter((l) => l.startsWith('ACKED '));
          const last = acks.at(-1)?.slice('ACKED '.length).split(',') ?? [];
          let point: KillPoint = 'before-first-ack';
          if (last.length > 0) {
            // Ground truth: the last acknowledged batch is still pending in the outbox.
            const { rows } = await h.db.pool.query<{ n: number }>(
              'SELECT count(*)::int AS n FROM outbox WHERE id = ANY($1::uuid[]) AND published_at IS NULL',
              [last],
            );
            point = (rows[0]?.n ?? 0) > 0 ? 'between-ack-and-commit' : 'after-a-commit';
          }
          kills.push({ point, mode, afterMs });
          ctx.progress(
            `trial ${trial}/${trials}: killed ${afterMs} ms after start (${mode}): ${point}`,
          );
        }
        // The last relay is not killed: it drains the outbox, then stops on SIGTERM.
        const last = startChild('relay', childEnv, h.logPath);
        await last.waitForLine(/^READY$/, 60_000);
        const emptied = await waitUntil(async () => {
          const { rows } = await h.db.pool.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL',
          );
          return rows[0]?.n === 0;
        }, 60_000);
        await last.kill('SIGTERM');
        drained = emptied && (await h.waitForDrain(60_000, { triage: false }));
      } finally {
        await consumer.stop();
      }
      const inputs = inputsOf(plans);
      const orders: ExpectedOrder[] = plans.map((p) => ({
        orderId: p.orderId,
        finalState: p.finalState,
        events: p.events.length,
      }));
      const accounting = await h.account(inputs, orders);
      const count = (p: KillPoint) => kills.filter((k) => k.point === p).length;
      const checks = [
        ...baseChecks(accounting),
        h.crashCheck(),
        { name: `${trials} SIGKILL trials`, ok: kills.length === trials },
        {
          name: 'at least one kill between broker ack and commit',
          ok: count('between-ack-and-commit') > 0,
        },
        { name: 'outbox drained and consumer caught up', ok: drained },
        { name: 'every event published', ok: accounting.published === accounting.produced },
      ];
      const delays = kills.map((k) => k.afterMs).sort((a, b) => a - b);
      return drillResult(
        this,
        { startedAt: started, logPath: h.logPath },
        {
          accounting,
          checks,
          details: {
            trials,
            'kills before the first ack / between ack and commit / after a commit': `${count('before-first-ack')} / ${count('between-ack-and-commit')} / ${count('after-a-commit')}`,
            'kill times after start (min / median / max)': `${delays[0] ?? 0} / ${delays[Math.floor(delays.length / 2)] ?? 0} / ${delays.at(-1) ?? 0} ms`,
            'records the broker got twice (republished after a kill)':
              accounting.topicCopies - accounting.onTopic,
            orders: plans.length,
          },
        },
      );
    } finally {
      await h.close();
    }
  },
};
