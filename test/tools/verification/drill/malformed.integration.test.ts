// CI version of `npm run drill` malformed: 500 fast-check-generated malformed records through the
// consumer behind the mapping emulator; all dead-lettered with their type, no batch crashes.
import { describe, expect, it } from 'vitest';
import { malformedDrill } from '../../../../tools/verification/drill/drills/malformed';
import { runQuick } from './quick';

describe('drill: generated malformed inputs (quick)', () => {
  it('dead-letters every generated malformed record with its type and applies none', async () => {
    const result = await runQuick(malformedDrill);
    expect(result.accounting.produced).toBe(500);
    expect(result.accounting.deadLettered).toBe(500);
    expect(result.accounting.appliedOnce).toBe(0);
  }, 300_000);
});
