// CI version of `npm run drill` poison: one record of each bad kind injected onto the topic
// while the whole local pipeline runs; each must be dead-lettered and parked with its type.
import { describe, expect, it } from 'vitest';
import { poisonDrill } from '../../../../tools/verification/drill/drills/poison';
import { runQuick } from './quick';

describe('drill: poison messages (quick)', () => {
  it('dead-letters and parks every poison message with its error type; good events apply', async () => {
    const result = await runQuick(poisonDrill);
    const a = result.accounting;
    expect(a.parkedMisfiled).toEqual([]);
    for (const type of [
      'SCHEMA_VIOLATION',
      'INVALID_TRANSITION',
      'IDEMPOTENCY_CONFLICT',
      'PROCESSING_FAILURE',
    ]) {
      expect(a.deadLetteredByType[type], type).toBeGreaterThan(0);
    }
  }, 300_000);
});
