// CI version of `npm run drill` relay-sigkill: 3 relay processes SIGKILLed (at least one between
// the broker's ack and the commit) while orders are written; a last relay drains the outbox.
import { describe, expect, it } from 'vitest';
import { relayKillDrill } from '../../../../tools/verification/drill/drills/relay-kill';
import { runQuick } from './quick';

describe('drill: relay SIGKILLed at random points (quick)', () => {
  it('publishes every outbox row and applies each event once', async () => {
    const result = await runQuick(relayKillDrill);
    expect(result.accounting.published).toBe(result.accounting.produced);
    expect(result.accounting.appliedOnce).toBe(result.accounting.produced);
  }, 300_000);
});
