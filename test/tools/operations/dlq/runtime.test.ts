import { describe, expect, it } from 'vitest';
import { loadStageConfig } from '../../../../lib/config/stage-config';
import { stageRedriveTopics } from '../../../../tools/operations/dlq/runtime';

describe('stageRedriveTopics', () => {
  it("is the stage's order-events topic; unset or local STAGE is the local (dev) pipeline", () => {
    const dev = loadStageConfig('dev').kafka.topics.orderEvents.name;
    expect([...stageRedriveTopics({})]).toEqual([dev]);
    expect([...stageRedriveTopics({ STAGE: 'local' })]).toEqual([dev]);
    expect([...stageRedriveTopics({ STAGE: 'prod' })]).toEqual([
      loadStageConfig('prod').kafka.topics.orderEvents.name,
    ]);
  });

  it('never includes the dead-letter topic', () => {
    for (const stage of ['dev', 'prod', 'localstack']) {
      const topics = stageRedriveTopics({ STAGE: stage });
      expect(topics.has(loadStageConfig(stage).kafka.topics.deadLetter.name)).toBe(false);
    }
  });

  it('an unknown stage is an error, not an empty set', () => {
    expect(() => stageRedriveTopics({ STAGE: 'staging' })).toThrow(/Unknown stage "staging"/);
  });
});
