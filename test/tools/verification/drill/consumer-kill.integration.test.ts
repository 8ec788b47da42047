// CI version of `npm run drill` consumer-kill: a consumer process SIGKILLed after it applied part
// of a batch whose offsets were not committed; the records come back and must not apply twice.
import { describe, expect, it } from 'vitest';
import { consumerKillDrill } from '../../../../tools/verification/drill/drills/consumer-kill';
import { runQuick } from './quick';

describe('drill: consumer SIGKILLed mid-batch (quick)', () => {
  it('redelivers the applied-but-uncommitted records without applying any twice or losing one', async () => {
    const result = await runQuick(consumerKillDrill);
    const redelivered = result.checks.find((c) =>
      c.name.startsWith('applied records were redelivered'),
    );
    expect(redelivered?.ok).toBe(true);
  }, 420_000);
});
