// Cold initialisation per function: a fresh `node` process (with the NODE_OPTIONS the
// construct sets) imports the built bundle and invokes its handler once with a representative
// event against the local services. The environment is the local contract of
// lambdas/shared/env.ts, as `npm start` and the tests satisfy it: STAGE=local and no
// AWS_LAMBDA_FUNCTION_NAME (either would make the readers demand the deployed login, an RDS IAM
// token or a Secrets Manager password), the endpoints of the local services and every setting
// through the stage config's writers. Differences from Lambda are the local stand-ins that
// contract selects: no MSK IAM (plain brokers), no RDS IAM token, no Secrets Manager lookup, and
// no Tracer (AWS_EXECUTION_ENV unset: lambdas/shared/powertools.ts loads no X-Ray SDK).
import { randomUUID } from 'node:crypto';
import type { Admin } from 'kafkajs';
import pg from 'pg';
import { pgClientConfig } from '../../../lambdas/shared/db/pool';
import {
  consumerEnvironment,
  FUNCTION_ENV,
  isDeployed,
  kafkaClientEnvironment,
  kafkaEnvironment,
  migrateEnvironment,
  observabilityEnvironment,
  orderApiEnvironment,
  type PgEnv,
  pgEnvironment,
  redisEnvironment,
} from '../../../lambdas/shared/env';
import type { OrderEvent } from '../../../lambdas/shared/events/envelope';
import { SERVICES } from '../../../lambdas/shared/metrics-catalog';
import {
  consumerSettings,
  kafkaClientSettings,
  migrateSettings,
  orderApiSettings,
  pgTimeouts,
} from '../../../lib/config/function-environment';
import type { StageConfig } from '../../../lib/config/stage-config';
import { dataFor } from '../../fixtures/order-events';
import { httpEvent } from '../../local-runtime/http-event';
import { relayEnvironment, triageEnvironment } from '../../local-runtime/pipeline';
import type { BuiltBundle } from './bundles';
import { startChild } from './children';
import type { ColdInitJob, ColdInitResult } from './cold-init-child';
import {
  deadLetterMessages,
  eventMessage,
  fillOutbox,
  insertOrders,
  lifecycleEvents,
} from './fixtures';
import type { FunctionKey } from './report';
import { median } from './stats';

/** lib/constructs/pipeline-function.ts sets NODE_OPTIONS=--enable-source-maps on every function. */
export const FUNCTION_NODE_OPTIONS = ['--enable-source-maps'];

export interface ColdInitContext {
  readonly config: StageConfig;
  readonly runId: string;
  /** Endpoints of the local services (tools/local-runtime/services endpointsEnv). */
  readonly endpoints: Readonly<Record<string, string>>;
  /** A migrated database for the functions that need one. */
  readonly db: { readonly env: PgEnv; readonly pool: pg.Pool };
  readonly admin: Admin;
  readonly topic: string;
  readonly deadLetterTopic: string;
  readonly childFile: string;
}

interface Prepared {
  readonly event: unknown;
  readonly env?: Readonly<Record<string, string>>;
  cleanup?(): Promise<void>;
}

interface ColdInitCase {
  readonly env: Readonly<Record<string, string>>;
  readonly context: ColdInitJob['context'];
  prepare(run: number): Promise<Prepared>;
  /** Why the invocation did not do its work, or undefined when it did. */
  check(response: unknown): string | undefined;
}

export interface ColdInitFigures {
  readonly medianMs: number;
  readonly runsMs: readonly number[];
  readonly loadMs: readonly number[];
  readonly invokeMs: readonly number[];
  readonly peakRssMb: number;
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

const noItemFailures = (response: unknown) => {
  const failures = field(response, 'batchItemFailures');
  return Array.isArray(failures) && failures.length === 0
    ? undefined
    : `batch item failures: ${JSON.stringify(failures)}`;
};

/** PostgreSQL as the data stack writes it, pointed at the local server (no IAM auth here). */
function pgVars(config: StageConfig, env: PgEnv, database = env.database): Record<string, string> {
  return pgEnvironment({
    host: env.host,
    port: env.port,
    database,
    user: env.user,
    iamAuth: false,
    poolMax: config.database.poolMaxPerEnvironment,
    timeouts: pgTimeouts(config),
  });
}

/** The MSK event Lambda delivers for these records (one partition, consecutive offsets). */
function mskEvent(
  topic: string,
  firstOffset: number,
  records: ReadonlyArray<{
    key: string | Buffer | null;
    value: string | Buffer;
    headers?: Record<string, string>;
  }>,
) {
  const b64 = (v: string | Buffer | null) =>
    v === null ? null : Buffer.from(v).toString('base64');
  return {
    eventSource: 'aws:kafka',
    eventSourceArn: 'arn:aws:kafka:local:000000000000:cluster/bench/local',
    bootstrapServers: 'local',
    records: {
      [`${topic}-0`]: records.map((r, i) => ({
        topic,
        partition: 0,
        offset: firstOffset + i,
        timestamp: Date.now(),
        timestampType: 'CREATE_TIME',
        key: b64(r.key),
        value: b64(r.value),
        headers: Object.entries(r.headers ?? {}).map(([k, v]) => ({ [k]: [...Buffer.from(v)] })),
      })),
    },
  };
}

function cases(ctx: ColdInitContext, bundles: ReadonlyMap<FunctionKey, BuiltBundle>) {
  const { config, db, endpoints } = ctx;
  // Each function's whole environment through the writers the stacks use, local endpoints.
  const kafka = kafkaEnvironment({
    auth: 'none',
    brokers: (endpoints.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  });
  const redis = redisEnvironment({
    host: endpoints.REDIS_HOST ?? '127.0.0.1',
    port: Number(endpoints.REDIS_PORT ?? '6379'),
    tls: false,
  });
  const all: Record<FunctionKey, ColdInitCase> = {
    orderApi: {
      env: { ...pgVars(config, db.env), ...orderApiEnvironment(orderApiSettings(config)) },
      context: 'normal',
      prepare: async (run) => ({
        event: httpEvent({
          method: 'POST',
          path: '/orders',
          body: dataFor('OrderPlaced', `${ctx.runId}-cold-api-${run}`),
        }),
      }),
      check: (r) => (field(r, 'statusCode') === 202 ? undefined : `answered ${JSON.stringify(r)}`),
    },
    outboxRelay: {
      env: { ...pgVars(config, db.env), ...kafka, ...relayEnvironment(config, ctx.topic) },
      context: 'single-pass',
      prepare: async (run) => {
        const events = lifecycleEvents([`${ctx.runId}-cold-relay-${run}`]).slice(0, 1);
        await fillOutbox(db.pool, events);
        return { event: { source: 'aws.events', 'detail-type': 'Scheduled Event' } };
      },
      check: (r) => {
        const published = field(r, 'published');
        return typeof published === 'number' && published >= 1
          ? undefined
          : `relay summary ${JSON.stringify(r)}`;
      },
    },
    orderConsumer: {
      env: {
        ...pgVars(config, db.env),
        ...kafka,
        ...redis,
        ...consumerEnvironment({
          ...consumerSettings(config),
          deadLetterTopic: ctx.deadLetterTopic,
        }),
      },
      context: 'normal',
      prepare: async (run) => {
        const id = `${ctx.runId}-cold-consumer-${run}`;
        await insertOrders(db.pool, [id]);
        const events: OrderEvent[] = lifecycleEvents([id]);
        return {
          event: mskEvent(
            ctx.topic,
            run * 3,
            events.map((e) => toRecord(e)),
          ),
        };
      },
      check: noItemFailures,
    },
    dlqTriage: {
      env: { ...pgVars(config, db.env), ...kafka, ...triageEnvironment(config, ctx.topic) },
      context: 'normal',
      prepare: async (run) => {
        const letter = deadLetterMessages(run + 1, `${ctx.topic}-cold`)[run];
        if (letter === undefined) throw new Error('no dead letter built');
        const value = letter.value as Buffer;
        const key = (letter.key ?? null) as Buffer | null;
        const headers = letter.headers as Record<string, string>;
        return { event: mskEvent(ctx.deadLetterTopic, run, [{ key, value, headers }]) };
      },
      check: noItemFailures,
    },
    migrate: {
      env: {},
      context: 'normal',
      prepare: async () => {
        // An empty database: the first deploy's migration (every file runs).
        const name = `bench_migrate_${randomUUID().slice(0, 8)}`;
        await adminQuery(db.env, `CREATE DATABASE ${name}`);
        return {
          event: {},
          env: {
            ...pgVars(config, db.env, name),
            ...migrateEnvironment(migrateSettings(config)),
            LAMBDA_TASK_ROOT: bundles.get('migrate')?.dir ?? '',
          },
          cleanup: () => adminQuery(db.env, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
        };
      },
      check: (r) => {
        const ran = field(r, 'migrations');
        return Array.isArray(ran) && ran.length > 0
          ? undefined
          : `migrate returned ${JSON.stringify(r)}`;
      },
    },
    kafkaTopics: {
      env: { ...kafka, ...kafkaClientEnvironment(kafkaClientSettings(config)) },
      context: 'normal',
      prepare: async (run) => {
        const name = `bench-cold-topics-${ctx.runId}-${run}`;
        return {
          event: {
            RequestType: 'Create',
            ServiceToken: 'local',
            ResponseURL: 'http://localhost/unused',
            StackId: 'bench',
            RequestId: randomUUID(),
            LogicalResourceId: 'Topics',
            ResourceType: 'Custom::KafkaTopics',
            ResourceProperties: {
              ServiceToken: 'local',
              Topics: JSON.stringify([{ name, partitions: 1, replicationFactor: 1, configs: {} }]),
            },
          },
          cleanup: () => ctx.admin.deleteTopics({ topics: [name] }),
        };
      },
      check: (r) =>
        typeof field(r, 'PhysicalResourceId') === 'string'
          ? undefined
          : `returned ${JSON.stringify(r)}`,
    },
  };
  return all;
}

function toRecord(event: OrderEvent) {
  const m = eventMessage(event);
  return {
    key: event.aggregateId,
    value: m.value as string,
    headers: m.headers as Record<string, string>,
  };
}

async function adminQuery(env: PgEnv, sql: string): Promise<void> {
  const client = new pg.Client(pgClientConfig(env, { applicationName: 'bench' }));
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * The variables Lambda itself sets that the local contract keeps (region, memory, task root),
 * and the construct's observability variables with STAGE=local. Not AWS_LAMBDA_FUNCTION_NAME,
 * nor the config's own stage: isDeployed() would then hold and parsePgEndpointEnv demand
 * PG_SECRET_ARN or PG_IAM_AUTH=true, neither of which the local PostgreSQL (trust auth, no TLS)
 * can serve. The function name still reaches the handler through its context.
 */
function localFunctionVars(
  config: StageConfig,
  fn: FunctionKey,
  dir: string,
): Record<string, string> {
  const f = config.functions[fn];
  return {
    AWS_REGION: config.region,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(f.memoryMiB),
    LAMBDA_TASK_ROOT: dir,
    ...observabilityEnvironment({
      stage: 'local',
      serviceName: SERVICES[fn],
      metricsNamespace: config.observability.metricsNamespace,
      logLevel: config.observability.logLevel,
    }),
  };
}

export async function measureColdInit(
  ctx: ColdInitContext,
  bundles: readonly BuiltBundle[],
  runs: number,
): Promise<{ figures: Partial<Record<FunctionKey, ColdInitFigures>>; errors: string[] }> {
  const byFn = new Map(bundles.map((b) => [b.fn, b]));
  const all = cases(ctx, byFn);
  const figures: Partial<Record<FunctionKey, ColdInitFigures>> = {};
  const errors: string[] = [];
  for (const bundle of bundles) {
    const c = all[bundle.fn];
    const results: ColdInitResult[] = [];
    try {
      for (let run = 0; run < runs; run++) {
        const prepared = await c.prepare(run);
        try {
          const job: ColdInitJob = {
            bundle: bundle.file,
            event: prepared.event,
            context: c.context,
            functionName: ctx.config.functions[bundle.fn].name,
            marginMs: ctx.config.outbox.relayStopBeforeTimeoutMs,
          };
          const env = {
            PATH: process.env.PATH ?? '',
            ...localFunctionVars(ctx.config, bundle.fn, bundle.dir),
            ...c.env,
            ...prepared.env,
          };
          // Read it here as the function will: a contract violation names its variable at once.
          if (isDeployed(env)) throw new Error('the child environment reads as deployed');
          FUNCTION_ENV[bundle.fn](env);
          const { messages, done } = startChild(ctx.childFile, job, {
            env,
            execArgv: FUNCTION_NODE_OPTIONS,
            timeoutMs: 60_000,
          });
          let result: ColdInitResult | undefined;
          for await (const m of messages) {
            if (m.type === 'error') throw new Error(m.message);
            if (m.type === 'result') result = m.result as unknown as ColdInitResult;
          }
          await done;
          if (result === undefined) throw new Error('no result');
          const problem = c.check(result.response);
          if (problem !== undefined) throw new Error(`invocation did not do its work: ${problem}`);
          results.push(result);
        } finally {
          await prepared.cleanup?.();
        }
      }
    } catch (error) {
      errors.push(
        `coldInitMs.${bundle.fn}: ${error instanceof Error ? error.message : String(error)}`,
      );
      continue;
    }
    const totals = results.map((r) => r.loadMs + r.invokeMs);
    figures[bundle.fn] = {
      medianMs: median(totals),
      runsMs: totals,
      loadMs: results.map((r) => r.loadMs),
      invokeMs: results.map((r) => r.invokeMs),
      peakRssMb: Math.max(...results.map((r) => r.peakRssMb)),
    };
  }
  return { figures, errors };
}
