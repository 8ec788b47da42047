// CI version of `npm run drill` hostile-dead-letters: 150 broken, forged and good dead letters
// of every kind injected onto the dead-letter topic while the real triage handler runs behind
// the mapping emulator; every one parked with its type and reason, none skipped or backstopped.
import { describe, expect, it } from 'vitest';
import {
  HOSTILE_KINDS,
  hostileDeadLettersDrill,
} from '../../../../tools/verification/drill/drills/hostile-dead-letters';
import { runQuick } from './quick';

describe('drill: hostile dead letters (quick)', () => {
  it('parks every record with its type and a reason; none skipped, none sent to the backstop', async () => {
    const result = await runQuick(hostileDeadLettersDrill);
    const a = result.accounting;
    expect(a.produced).toBe(150);
    expect(a.lost).toBe(0);
    expect(a.parkedMisfiled).toEqual([]);
    expect(result.details.skipped).toBe(0);
    expect(result.details['sent to the backstop']).toBe(0);
    expect(result.details.parked).toBe(150);
    // Every kind was in the run, each parked under its own reason.
    expect(a.byLabel.map((r) => r.label).sort()).toEqual(Object.keys(HOSTILE_KINDS).sort());
    for (const reason of [
      'policy',
      'out of range',
      'salvaged',
      'unreadable',
      'backstop record',
      'too large to redrive',
    ]) {
      expect(String(result.details['parked by type/reason'])).toContain(`/${reason} `);
    }
  }, 300_000);
});
