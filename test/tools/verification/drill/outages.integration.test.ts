// CI versions of `npm run drill` postgres-outage, redis-outage and broker-outage: each service
// down for 12 s (60 s in the full drill) while a backlog waits. Each drill starts and stops its
// own private instance of the service; the shared services are never stopped.
import { describe, expect, it } from 'vitest';
import {
  brokerOutageDrill,
  OUTAGE_FIGURES,
  postgresOutageDrill,
  redisOutageDrill,
} from '../../../../tools/verification/drill/drills/outages';
import type { DrillResult } from '../../../../tools/verification/drill/types';
import { runQuick } from './quick';

const figure = (r: DrillResult, key: keyof typeof OUTAGE_FIGURES) => r.details[OUTAGE_FIGURES[key]];

/** What every outage drill must show beyond the verdict. */
function expectRealOutage(r: DrillResult): void {
  const backlog = Number(figure(r, 'backlog'));
  // The backlog really was on the topic, unread, when the mapping started.
  expect(backlog).toBeGreaterThanOrEqual(1_000);
  expect(Number(figure(r, 'lagAtStart'))).toBeGreaterThanOrEqual(backlog);
  // The service really was down the stated time, and unreachable throughout.
  expect(Number(figure(r, 'downS'))).toBeGreaterThanOrEqual(12);
  expect(Number(figure(r, 'probes'))).toBeGreaterThanOrEqual(9);
  expect(figure(r, 'probesAnswered')).toBe(0);
  // Waited out, not handed on: no good event on any failure path.
  expect(r.accounting.appliedOnce).toBe(r.accounting.produced);
  expect(r.accounting.deadLetterCopies).toBe(0);
  expect(r.accounting.parkedByType).toEqual({});
  expect(figure(r, 'onFailureRecords')).toBe(0);
  expect(figure(r, 'backstopDocuments')).toBe(0);
}

describe('drill: a service down for a failover while a backlog waits (quick)', () => {
  it('PostgreSQL down 12 s under a backlog: every event applied once, none dead-lettered', async () => {
    const result = await runQuick(postgresOutageDrill);
    expectRealOutage(result);
    // The database was gone before the consumer saw its first record.
    expect(figure(result, 'appliedAtDown')).toBe(0);
  }, 420_000);

  it('Redis crashed for 12 s under a backlog: applied once from PostgreSQL alone', async () => {
    const result = await runQuick(redisOutageDrill);
    expectRealOutage(result);
    expect(figure(result, 'appliedAtDown')).toBe(0);
  }, 420_000);

  it('Kafka broker killed mid-backlog, down 12 s: the rest waits on the topic, applied once', async () => {
    const result = await runQuick(brokerOutageDrill);
    expectRealOutage(result);
    const backlog = Number(figure(result, 'backlog'));
    // Killed mid-backlog: some events applied before, some left on the topic through it.
    expect(Number(figure(result, 'appliedAtDown'))).toBeGreaterThan(0);
    expect(Number(figure(result, 'appliedAtUp'))).toBeLessThan(backlog);
  }, 420_000);
});
