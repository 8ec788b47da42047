// CI versions of `npm run drill` broker-restart, redis-restart and postgres-restart. Each drill
// starts and stops its own private instance of the service it restarts (free ports, own data
// directory); the shared services other tests use are never restarted or flushed.
import { describe, expect, it } from 'vitest';
import {
  brokerRestartDrill,
  postgresRestartDrill,
  redisRestartDrill,
} from '../../../../tools/verification/drill/drills/restarts';
import { runQuick } from './quick';

describe('drill: a service restarted mid-stream (quick)', () => {
  it('Kafka broker crash and restart: nothing lost, nothing applied twice', async () => {
    const result = await runQuick(brokerRestartDrill);
    expect(result.accounting.published).toBe(result.accounting.produced);
  }, 420_000);

  it('Redis flushed and crashed, applied events republished: processed_events keeps them single', async () => {
    const result = await runQuick(redisRestartDrill);
    // The republished copies really reached the topic again: duplicates were exercised.
    expect(result.accounting.topicCopies).toBeGreaterThan(result.accounting.onTopic);
  }, 420_000);

  it('PostgreSQL crash (immediate shutdown) and restart: nothing lost, nothing applied twice', async () => {
    const result = await runQuick(postgresRestartDrill);
    expect(result.accounting.published).toBe(result.accounting.produced);
  }, 420_000);
});
