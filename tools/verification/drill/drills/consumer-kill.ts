// The consumer SIGKILLed while it handles a batch: a consumer process (emulated MSK mapping +
// the real consumeBatch) is killed after a random number of applied events, before the mapping
// committed the batch's offsets, and started again. The records it had applied come back;
// Redis (Powertools idempotency) and processed_events must turn every one into a duplicate.
import type { ExpectedOrder } from '../../ground-truth';
import { baseChecks } from '../accounting';
import { startChild } from '../child';
import { createHarness } from '../harness';
import { inputsOf, interleave, planOrders, writeOutbox } from '../inputs';
import { waitUntil } from '../services/lifecycle';
import {
  type Drill,
  type DrillContext,
  type DrillResult,
  drillResult,
  seededRandom,
} from '../types';

export const consumerKillDrill: Drill = {
  id: 'consumer-kill',
  title: 'Consumer SIGKILLed mid-batch',
  proves:
    'records a killed consumer applied but had not committed are redelivered and skipped as duplicates: nothing applies twice, nothing is lost',
  async run(ctx: DrillContext): Promise<DrillResult> {
    const started = Date.now();
    const kills = ctx.quick ? 1 : 3;
    const random = seededRandom(ctx.seed ^ 0xc0ffee);
    const h = await createHarness(ctx.config, 'consumer-kill', ctx.shared, { viaOutbox: true });
    try {
      const plans = planOrders(
        ctx.quick ? 250 : 700,
        `consumerkill-${h.topics.groupSuffix.slice(-10)}`,
        random,
      );
      const events = interleave(plans, random);
      // Everything on the topic first, so the consumer gets full batches to die in.
      await writeOutbox(h.db.pool, events, { perTransaction: 50 });
      const relay = await h.startRelay();
      const published = await waitUntil(async () => {
        const { rows } = await h.db.pool.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL',
        );
        return rows[0]?.n === 0;
      }, 60_000);
      await relay.stop();
      if (!published) throw new Error('the relay did not publish the workload');

      const triage = await h.startTriage();
      const killLog: Array<{ afterApplied: number; appliedUncommitted: number }> = [];
      let drained = false;
      let resumedMs = 0;
      try {
        for (let kill = 1; kill <= kills; kill++) {
          const remaining = events.length - (await h.appliedCount());
          if (remaining < 20) break;
          const child = startChild('consumer', h.childEnv, h.logPath);
          await child.waitForLine(/^READY$/, 60_000);
          const target = 1 + Math.floor(random() * Math.min(300, remaining - 10));
          const reached = await waitUntil(
            () => child.lines.filter((l) => l.startsWith('APPLIED ')).length >= target,
            120_000,
            5,
          );
          await child.kill('SIGKILL');
          if (!reached)
            throw new Error(`the consumer applied fewer than ${target} events in 120 s`);
          // Ground truth at the kill: records the group will get again although applied.
          const appliedUncommitted = await h.appliedButUncommitted();
          killLog.push({ afterApplied: target, appliedUncommitted });
          ctx.progress(
            `kill ${kill}/${kills}: after ${target} applied events in this run; ${appliedUncommitted} applied but not committed`,
          );
        }
        // The last consumer is not killed: it takes the redeliveries and the rest.
        const last = startChild('consumer', h.childEnv, h.logPath);
        await last.waitForLine(/^READY$/, 60_000);
        const resumed = Date.now();
        drained = await h.waitForDrain(ctx.quick ? 150_000 : 300_000);
        resumedMs = Date.now() - resumed;
        await last.kill('SIGTERM');
      } finally {
        await triage.stop();
      }
      const inputs = inputsOf(plans);
      const orders: ExpectedOrder[] = plans.map((p) => ({
        orderId: p.orderId,
        finalState: p.finalState,
        events: p.events.length,
      }));
      const accounting = await h.account(inputs, orders);
      const checks = [
        ...baseChecks(accounting),
        h.crashCheck(),
        { name: `${kills} kill(s) mid-batch`, ok: killLog.length === kills },
        {
          name: 'applied records were redelivered after a kill (offsets not committed)',
          ok: killLog.some((k) => k.appliedUncommitted > 0),
        },
        { name: 'pipeline drained', ok: drained },
      ];
      return drillResult(
        this,
        { startedAt: started, logPath: h.logPath },
        {
          accounting,
          checks,
          details: {
            kills: killLog.length,
            'killed after (applied events in that run)': killLog
              .map((k) => k.afterApplied)
              .join(', '),
            'applied but uncommitted at each kill (redelivered)': killLog
              .map((k) => k.appliedUncommitted)
              .join(', '),
            'drain after the last restart': `${(resumedMs / 1000).toFixed(1)} s`,
            orders: plans.length,
          },
        },
      );
    } finally {
      await h.close();
    }
  },
};
