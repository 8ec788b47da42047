// The relay's stage settings: the topic's size limit and the processed_events retention reach
// it unchanged, and a retention shorter than an event's longest way back is refused.
import { describe, expect, it } from 'vitest';
import { relayOptions } from '../../../lambdas/outbox-relay/runtime';
import { parseRelayEnv, relayEnvironment } from '../../../lambdas/shared/env';
import { relaySettings } from '../../../lib/config/function-environment';
import {
  loadStageConfig,
  STAGES,
  type StageConfig,
  validateStageConfig,
} from '../../../lib/config/stage-config';

describe('relay settings from the stage config', () => {
  it.each(STAGES)('%s: carries the topic limit and the retention', (stage) => {
    const c = loadStageConfig(stage);
    expect(relaySettings(c)).toMatchObject({
      maxMessageBytes: c.kafka.topics.orderEvents.maxMessageBytes,
      processedEventsRetentionHours: c.outbox.processedEventsRetentionHours,
    });
    const longestTopic = Math.max(...Object.values(c.kafka.topics).map((t) => t.retentionHours));
    expect(c.outbox.processedEventsRetentionHours).toBeGreaterThan(longestTopic);
  });

  it("passes the config's retention cadence, batch and budget to the loop", () => {
    const dev = loadStageConfig('dev');
    const changed: StageConfig = {
      ...dev,
      outbox: {
        ...dev.outbox,
        retentionEveryMs: 5_000,
        retentionBatchSize: 10,
        retentionBudgetMs: 50,
      },
    };
    for (const c of [dev, changed]) {
      const env = parseRelayEnv(relayEnvironment(relaySettings(c)));
      expect(relayOptions(env, { shouldContinue: () => false })).toMatchObject({
        retentionEveryMs: c.outbox.retentionEveryMs,
        retentionBatch: c.outbox.retentionBatchSize,
        retentionBudgetMs: c.outbox.retentionBudgetMs,
        failureBackoff: c.outbox.relayFailureBackoff,
      });
    }
  });

  it('refuses a processed_events retention below the longest topic retention plus redrives', () => {
    const dev = loadStageConfig('dev');
    const withRetention = (hours: number): StageConfig => ({
      ...dev,
      outbox: { ...dev.outbox, processedEventsRetentionHours: hours },
    });
    // 336 h of dead-letter retention, plus 5 redrive delays of at most 60 s, rounded up to an hour.
    expect(() => validateStageConfig(withRetention(336))).toThrow(
      /processedEventsRetentionHours must be at least 337/,
    );
    expect(() => validateStageConfig(withRetention(168))).toThrow(/processedEventsRetentionHours/);
    expect(() => validateStageConfig(withRetention(337))).not.toThrow();
  });
});
