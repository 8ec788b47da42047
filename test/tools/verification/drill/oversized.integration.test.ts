// CI version of `npm run drill` oversized: refusals at the order API, a ~1.4 MB outbox row set
// aside while ordinary orders keep flowing, its order's later row held until the operator's
// discard, then dead-lettered and parked with INVALID_TRANSITION.
import { describe, expect, it } from 'vitest';
import {
  OVERSIZED_FIGURES as F,
  oversizedDrill,
} from '../../../../tools/verification/drill/drills/oversized';
import { runQuick } from './quick';

describe('drill: oversized (quick)', () => {
  it('sets the oversized row aside, holds only its order, and discard releases the held row', async () => {
    const result = await runQuick(oversizedDrill);
    const d = result.details;
    expect(d[F.refusals]).toBe('400: 2, 413: 1');
    expect(String(d[F.issues])).toMatch(/1,001 items: items has 1001 items; at most 1000/);
    expect(String(d[F.issues])).toMatch(/NUL in customerId: customerId contains a NUL/);
    expect(String(d[F.largeAccepted])).toMatch(/^202, 26\d{4} \/ \d+$/);
    expect(d[F.setAside]).toBe(1);
    expect(d[F.held]).toBe(1);
    expect(String(d[F.reason])).toMatch(
      /^MESSAGE_TOO_LARGE: about \d+ bytes, over the topic's max\.message\.bytes 1048576; not sent$/,
    );
    // Pending (not set aside, not discarded, not published, not applied) until the discard.
    expect(d[F.heldState]).toBe('pending; no');
    expect(String(d[F.discard])).toMatch(
      /^0: outbox: discard\w* .*; 1 held row\(s\) of the aggregate flow again/,
    );
    const [before, after] = String(d[F.before]).split(' / ').map(Number);
    expect(before).toBeGreaterThan(0);
    expect(after).toBeGreaterThan(0);
    const a = result.accounting;
    expect(a.deadLetteredByType).toEqual({ INVALID_TRANSITION: 1 });
    expect(a.parkedByType).toEqual({ INVALID_TRANSITION: 1 });
    expect(a.goodDeadLetteredByType).toEqual({});
    expect(a.appliedOnce).toBe(a.produced - 1);
  }, 300_000);
});
