// The local dashboard's probes against the real broker, PostgreSQL and Redis: each puts a value
// under the exact metric identity it was built for, and failures are logged once and skipped.
import { randomUUID } from 'node:crypto';
import type { Admin } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgClientConfig } from '../../../../lambdas/shared/db/pool';
import { parseKafkaEnv, parsePgEnv, parseRedisEnv } from '../../../../lambdas/shared/env';
import type { LogSink } from '../../../../lambdas/shared/log-sink';
import { filesystemUsage } from '../../../../tools/local-runtime/dashboard/probes/fs';
import { ProbeRunner } from '../../../../tools/local-runtime/dashboard/probes/index';
import { kafkaGauges } from '../../../../tools/local-runtime/dashboard/probes/kafka';
import { postgresGauges } from '../../../../tools/local-runtime/dashboard/probes/postgres';
import { redisGauges } from '../../../../tools/local-runtime/dashboard/probes/redis';
import type { GaugeGroup } from '../../../../tools/local-runtime/dashboard/probes/types';
import { type MetricIdentity, MetricStore } from '../../../../tools/local-runtime/dashboard/store';
import { kafkaPaths, localBrokerVersion } from '../../../../tools/local-runtime/services';
import { createTopic, quietLogger, testKafka } from '../../../integration/support';

const CLUSTER = 'it-dashboard-msk';

function recordingLogger(): LogSink & { warnings: string[]; infos: string[] } {
  const warnings: string[] = [];
  const infos: string[] = [];
  return {
    warnings,
    infos,
    error: (m) => warnings.push(m),
    warn: (m) => warnings.push(m),
    info: (m) => infos.push(m),
    debug: () => undefined,
  };
}

async function sampleInto(group: GaugeGroup, logger: LogSink = quietLogger) {
  const store = new MetricStore({ periodMs: 1_000 });
  const runner = new ProbeRunner({ groups: [group], sink: store, periodMs: 1_000, logger });
  await runner.sampleOnce();
  return { store, runner };
}

describe('local dashboard probes on the real services', () => {
  let admin: Admin;
  const groups: GaugeGroup[] = [];
  const track = (g: GaugeGroup): GaugeGroup => {
    groups.push(g);
    return g;
  };

  beforeAll(async () => {
    admin = testKafka().admin();
    await admin.connect();
  });

  afterAll(async () => {
    for (const g of groups) await g.close();
    await admin.disconnect();
  });

  it('measures SumOffsetLag of a group on a topic: produced minus committed', async () => {
    const topic = await createTopic(admin, 'it-dash-lag', 3);
    const groupId = `it-dash-${randomUUID()}`;
    const producer = testKafka().producer();
    await producer.connect();
    try {
      for (const partition of [0, 1, 2]) {
        await producer.send({
          topic,
          messages: Array.from({ length: 10 }, (_, i) => ({ partition, value: `m${i}` })),
        });
      }
    } finally {
      await producer.disconnect();
    }
    const lag: MetricIdentity = {
      namespace: 'AWS/Kafka',
      metricName: 'SumOffsetLag',
      dimensions: { 'Cluster Name': CLUSTER, 'Consumer Group': groupId, Topic: topic },
    };
    const group = track(
      kafkaGauges({
        kafkaEnv: parseKafkaEnv(process.env),
        logger: quietLogger,
        lag: [lag],
        disk: [],
      }),
    );

    // Nothing committed yet: the whole topic (30) is lag.
    let { store } = await sampleInto(group);
    expect(store.series(lag, 'Maximum').map((p) => p.v)).toEqual([30]);

    // Commit 4 + 10 of the 30; partition 2 stays uncommitted.
    await admin.setOffsets({
      groupId,
      topic,
      partitions: [
        { partition: 0, offset: '4' },
        { partition: 1, offset: '10' },
      ],
    });
    ({ store } = await sampleInto(group));
    expect(store.series(lag, 'Maximum').map((p) => p.v)).toEqual([30 - 14]);

    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 2, offset: '3' }] });
    ({ store } = await sampleInto(group));
    expect(store.series(lag, 'Maximum').map((p) => p.v)).toEqual([30 - 17]);
  });

  it('measures the broker data disk per broker id and has no analogue for a missing broker', async () => {
    const disk = (id: string): MetricIdentity => ({
      namespace: 'AWS/Kafka',
      metricName: 'KafkaDataLogsDiskUsed',
      dimensions: { 'Cluster Name': CLUSTER, 'Broker ID': id },
    });
    const { brokers } = await admin.describeCluster();
    const present = String(brokers[0]?.nodeId);
    const absent = String(Math.max(...brokers.map((b) => b.nodeId)) + 1);
    const logger = recordingLogger();
    const group = track(
      kafkaGauges({
        kafkaEnv: parseKafkaEnv(process.env),
        logger: quietLogger,
        lag: [],
        disk: [disk(present), disk(absent)],
      }),
    );
    const { store, runner } = await sampleInto(group, logger);

    const [used] = store.series(disk(present), 'Maximum');
    const expected = (await filesystemUsage(kafkaPaths(localBrokerVersion()).dataDir)).usedPercent;
    expect(used?.v).toBeGreaterThan(0);
    expect(used?.v).toBeLessThanOrEqual(100);
    // Other tests write to the same disk meanwhile; a tenth of a percent is far above that.
    expect(Math.abs((used?.v ?? -1) - expected)).toBeLessThan(0.1);

    expect(store.series(disk(absent), 'Maximum')).toEqual([]);
    expect(runner.state(disk(absent))).toMatchObject({
      noLocalAnalogue: true,
      problem: expect.stringContaining(`no broker ${absent}`),
    });
    expect(logger.infos).toHaveLength(1);
    expect(logger.warnings).toEqual([]);
  });

  it('measures the local Redis memory use for the first cache node only', async () => {
    const node = (id: string): MetricIdentity => ({
      namespace: 'AWS/ElastiCache',
      metricName: 'DatabaseMemoryUsagePercentage',
      dimensions: { CacheClusterId: id },
    });
    const group = track(
      redisGauges({
        redisEnv: parseRedisEnv(process.env),
        logger: quietLogger,
        memory: [node('it-cache-002'), node('it-cache-001')],
      }),
    );
    const { store, runner } = await sampleInto(group);
    const [memory] = store.series(node('it-cache-001'), 'Maximum');
    expect(memory?.v).toBeGreaterThan(0);
    expect(memory?.v).toBeLessThan(100);
    expect(store.series(node('it-cache-002'), 'Maximum')).toEqual([]);
    expect(runner.state(node('it-cache-002'))?.noLocalAnalogue).toBe(true);
  });

  it('measures PostgreSQL connections, free storage and the CPU its processes use', async () => {
    const rds = (metricName: string): MetricIdentity => ({
      namespace: 'AWS/RDS',
      metricName,
      dimensions: { DBInstanceIdentifier: 'it-dashboard-postgres' },
    });
    const pgEnv = parsePgEnv(process.env);
    const group = track(
      postgresGauges({
        pgEnv,
        logger: quietLogger,
        cpu: [rds('CPUUtilization')],
        connections: [rds('DatabaseConnections')],
        freeStorage: [rds('FreeStorageSpace')],
      }),
    );
    const store = new MetricStore({ periodMs: 1_000 });
    const runner = new ProbeRunner({
      groups: [group],
      sink: store,
      periodMs: 1_000,
      logger: quietLogger,
    });

    const extra = Array.from({ length: 3 }, () => new pg.Client(pgClientConfig(pgEnv)));
    await Promise.all(extra.map((c) => c.connect()));
    try {
      await runner.sampleOnce();
      // A rate needs two samples: the first CPU sample only sets the baseline.
      expect(store.series(rds('CPUUtilization'), 'Average')).toEqual([]);
      expect(runner.state(rds('CPUUtilization'))?.problem).toMatch(/second sample/);
      // Our 3 clients plus the probe's own connection are client backends at least.
      const [connections] = store.series(rds('DatabaseConnections'), 'Maximum');
      expect(connections?.v).toBeGreaterThanOrEqual(4);

      // Work inside a PostgreSQL backend between two samples.
      await extra[0]?.query('SELECT count(*) FROM generate_series(1, 3000000)');
      await runner.sampleOnce();
    } finally {
      await Promise.all(extra.map((c) => c.end()));
    }
    const [cpu] = store.series(rds('CPUUtilization'), 'Average');
    expect(cpu?.v).toBeGreaterThan(0);
    expect(cpu?.v).toBeLessThanOrEqual(100);

    const admin = new pg.Client(pgClientConfig(pgEnv));
    await admin.connect();
    const dir = (await admin.query<{ d: string }>(`SELECT current_setting('data_directory') AS d`))
      .rows[0]?.d;
    await admin.end();
    const expected = (await filesystemUsage(dir ?? '/')).availableBytes;
    const free = store.series(rds('FreeStorageSpace'), 'Minimum')[0]?.v ?? 0;
    // Other tests write to the same disk between the two reads; 1 % of it is plenty.
    expect(Math.abs(free - expected) / expected).toBeLessThan(0.01);
  });

  it('logs each failing probe once, skips it, and keeps sampling', async () => {
    const logger = recordingLogger();
    const metric: MetricIdentity = {
      namespace: 'AWS/RDS',
      metricName: 'DatabaseConnections',
      dimensions: { DBInstanceIdentifier: 'nowhere' },
    };
    const memory: MetricIdentity = {
      namespace: 'AWS/ElastiCache',
      metricName: 'DatabaseMemoryUsagePercentage',
      dimensions: { CacheClusterId: 'nowhere-001' },
    };
    // Port 1 on loopback: nothing listens there, connections are refused at once.
    const pgDown = track(
      postgresGauges({
        pgEnv: { ...parsePgEnv(process.env), port: 1 },
        logger,
        cpu: [],
        connections: [metric],
        freeStorage: [],
      }),
    );
    const redisDown = track(
      redisGauges({
        redisEnv: { ...parseRedisEnv(process.env), port: 1 },
        logger,
        memory: [memory],
      }),
    );
    const store = new MetricStore({ periodMs: 1_000 });
    const runner = new ProbeRunner({
      groups: [pgDown, redisDown],
      sink: store,
      periodMs: 1_000,
      logger,
    });
    await runner.sampleOnce();
    await runner.sampleOnce();
    await runner.sampleOnce();
    expect(logger.warnings).toHaveLength(2);
    expect(runner.state(metric)?.problem).toMatch(/ECONNREFUSED|connect/);
    expect(runner.state(memory)?.problem).toMatch(/ECONNREFUSED|connect/);
    expect(store.series(metric, 'Maximum')).toEqual([]);
  });
});
