// 10,000 generated malformed inputs (500 in the quick version) through the real consumer behind
// the event-source-mapping emulator: each must be dead-lettered with its type, none applied,
// none lost, and no invocation may crash or be retried.
import { baseChecks } from '../accounting';
import { createHarness } from '../harness';
import { type InjectedRecord, injectRecords } from '../inject';
import type { DrillInput } from '../inputs';
import { generateMalformed } from '../malformed';
import { type Drill, type DrillContext, type DrillResult, drillResult } from '../types';

export const malformedDrill: Drill = {
  id: 'malformed',
  title: 'Generated malformed inputs (fast-check)',
  proves:
    'no generated malformed record is applied, lost or crashes a batch: each is dead-lettered with its type',
  async run(ctx: DrillContext): Promise<DrillResult> {
    const started = Date.now();
    const count = ctx.quick ? 500 : 10_000;
    const generated = generateMalformed(count, ctx.seed);
    ctx.progress(`${generated.length} inputs generated (fast-check seed ${ctx.seed})`);
    const h = await createHarness(ctx.config, 'malformed', ctx.shared, { viaOutbox: false });
    try {
      const tag = h.topics.groupSuffix.slice(-10);
      const records: InjectedRecord[] = generated.map((g, i) => ({
        id: `malformed-${tag}-${i}`,
        key: g.aggregateId ?? `malformed-${tag}-${i}`,
        value: g.value,
      }));
      const inputs: DrillInput[] = generated.map((g, i) => ({
        id: (records[i] as InjectedRecord).id,
        label: g.category,
        expected: g.expected,
        ...(g.aggregateId !== undefined ? { aggregateId: g.aggregateId } : {}),
        ...(g.eventId !== undefined ? { eventId: g.eventId } : {}),
      }));
      await injectRecords(h.endpoints.kafkaEnv, h.topics.topics.orderEvents, records);
      const consumer = await h.startConsumer();
      let drained = false;
      const consumedAt = Date.now();
      try {
        drained = await h.waitForDrain(ctx.quick ? 60_000 : 300_000, { triage: false });
      } finally {
        await consumer.stop();
      }
      const consumeMs = Date.now() - consumedAt;
      const stats = consumer.mapping.stats();
      const accounting = await h.account(inputs, []);
      const checks = [
        ...baseChecks(accounting),
        h.crashCheck(),
        { name: 'consumer drained the topic', ok: drained },
        { name: 'no invocation threw', ok: consumer.counters.errors === 0 },
        {
          name: 'no batch retried or sent to the mapping backstop',
          ok: stats.retries === 0 && stats.sentToOnFailure === 0,
        },
      ];
      return drillResult(
        this,
        { startedAt: started, logPath: h.logPath },
        {
          accounting,
          checks,
          details: {
            inputs: count,
            'fast-check seed': ctx.seed,
            invocations: stats.invocations,
            'records delivered': stats.recordsDelivered,
            'retries / bisects / backstop': `${stats.retries} / ${stats.bisects} / ${stats.sentToOnFailure}`,
            'consume time (incl. drain polls)': `${(consumeMs / 1000).toFixed(1)} s`,
          },
        },
      );
    } finally {
      await h.close();
    }
  },
};
