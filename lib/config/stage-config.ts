// The single source of every size, name, threshold and tag value. Pure data: no CDK imports,
// so local tooling (dashboard page, cost estimator, services script) can read it too.

export const STAGES = ['dev', 'prod', 'localstack'] as const;

/**
 * The longest outage of one dependency the pipeline must ride out without dead-lettering a
 * good event: an RDS Multi-AZ failover takes 60-120 s; ElastiCache failovers and MSK's
 * rolling broker restarts are shorter.
 */
export const LONGEST_DEPENDENCY_OUTAGE_SECONDS = 120;
export type StageName = (typeof STAGES)[number];

export type EgressMode = 'endpoints' | 'nat';
export type InterfaceEndpointName =
  | 'sts'
  | 'secretsmanager'
  | 'kafka'
  | 'lambda'
  | 'logs'
  | 'monitoring'
  | 'sqs';

export interface TopicConfig {
  readonly name: string;
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly minInsyncReplicas: number;
  readonly retentionHours: number;
  /**
   * The topic's `max.message.bytes`: the largest record batch the broker accepts. The relay
   * splits its sends so that no request carries more, and sets aside a row whose message alone
   * is larger.
   */
  readonly maxMessageBytes: number;
}

/**
 * The database role of each function that uses PostgreSQL, with the least its statements need.
 * Migration 0010 creates them and holds their grants, so the names are fixed across stages.
 */
export const DATABASE_ROLES = {
  orderApi: 'order_api',
  outboxRelay: 'outbox_relay',
  orderConsumer: 'order_consumer',
  dlqTriage: 'dlq_triage',
} as const;
export type DatabaseRoleOf = keyof typeof DATABASE_ROLES;
/** The role of the operator commands (npm run dlq, npm run outbox), also from migration 0010. */
export const DATABASE_OPERATOR_ROLE = 'pipeline_operator';

export interface FunctionConfig {
  /** Physical function name; alarms and the dashboard refer to it. */
  readonly name: string;
  readonly memoryMiB: number;
  readonly timeoutSeconds: number;
  /** Omit for unreserved. */
  readonly reservedConcurrency?: number;
}

export interface MappingConfig {
  readonly consumerGroupId: string;
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  /** Provisioned mode is required for retries, bisect and the Kafka on-failure destination. */
  readonly minimumPollers: number;
  readonly maximumPollers: number;
  /** Capped at 10 by Lambda when an on-failure destination is set. */
  readonly retryAttempts: number;
  readonly bisectBatchOnError: boolean;
  readonly reportBatchItemFailures: boolean;
}

/**
 * A kafkajs producer's own retries of a failed send: `retries` more attempts, waiting about
 * `initialMs` before the first and doubling up to `maxMs` (kafkajs jitters each wait by ±20 %).
 */
export interface ProducerRetryConfig {
  readonly retries: number;
  readonly initialMs: number;
  readonly maxMs: number;
}

/**
 * The longest a kafkajs retry schedule can wait in all: each wait at its largest (+20 %), doubled
 * from the previous one's largest, capped at `maxMs`. The attempts themselves come on top.
 */
export function longestProducerRetryWaitMs(r: ProducerRetryConfig): number {
  let total = 0;
  let wait = Math.ceil(r.initialMs * 1.2);
  for (let n = 0; n < r.retries; n++) {
    total += wait;
    wait = Math.min(Math.ceil(wait * 1.2) * 2, r.maxMs);
  }
  return total;
}

export interface ThresholdConfig {
  readonly value: number;
  /** Consecutive one-minute datapoints that must breach. */
  readonly evaluationMinutes: number;
}

export interface AlarmConfig {
  readonly consumerLagWarning: ThresholdConfig;
  readonly consumerLagCritical: ThresholdConfig;
  /** Any dead-lettered message alarms: the threshold is "greater than" this. */
  readonly deadLettered: ThresholdConfig;
  readonly circuitBreakerOpened: ThresholdConfig;
  readonly errorRatePercent: ThresholdConfig;
  /** The latency bound (ms); the outbox age alarm uses the same bound. */
  readonly endToEndLatencyMs: ThresholdConfig;
  readonly endToEndLatencyStatistic: 'p95' | 'p99';
  readonly outboxOldestPendingMs: ThresholdConfig;
  /** Outbox rows set aside (refused by the broker for good): any alarms. */
  readonly outboxSetAsideRows: ThresholdConfig;
  readonly cacheMemoryPercent: ThresholdConfig;
  readonly databaseCpuPercent: ThresholdConfig;
  readonly databaseConnections: ThresholdConfig;
  readonly databaseFreeStorageGiB: ThresholdConfig;
  readonly kafkaDiskUsedPercent: ThresholdConfig;
  readonly lambdaErrors: ThresholdConfig;
  readonly lambdaThrottles: ThresholdConfig;
  /** Records the triage mapping delivered to its S3 backstop. */
  readonly triageFailures: ThresholdConfig;
}

export interface StageConfig {
  readonly stage: StageName;
  readonly project: string;
  /** Prefix of every physical name: `${project}-${stage}`. */
  readonly prefix: string;
  readonly region: string;
  /** Explicit AZs keep synth offline (no availability-zone lookup). */
  readonly availabilityZones: readonly string[];
  readonly tags: {
    readonly project: string;
    readonly environment: string;
    readonly costCenter: string;
    readonly owner: string;
    readonly managedBy: string;
  };
  readonly budget: {
    readonly monthlyLimitUsd: number;
    readonly notifyAtPercent: readonly number[];
  };
  readonly network: {
    readonly cidr: string;
    readonly egress: EgressMode;
    readonly natGateways: number;
    readonly interfaceEndpoints: readonly InterfaceEndpointName[];
    readonly flowLogRetentionDays: number;
  };
  readonly database: {
    readonly instanceIdentifier: string;
    readonly engineVersion: string;
    readonly engineMajorVersion: string;
    readonly instanceType: string;
    readonly allocatedStorageGiB: number;
    readonly maxAllocatedStorageGiB: number;
    readonly multiAz: boolean;
    readonly readReplicas: number;
    readonly backupRetentionDays: number;
    readonly deletionProtection: boolean;
    readonly removal: 'destroy' | 'snapshot' | 'retain';
    readonly databaseName: string;
    /** Only the migration function logs in as this user (directly, with the rotated secret). */
    readonly adminUser: string;
    /** The login role of each function that uses PostgreSQL (created by migration 0010). */
    readonly roles: typeof DATABASE_ROLES;
    /** Operators log in as this role through RDS Proxy (the stack's operator policy). */
    readonly operatorRole: typeof DATABASE_OPERATOR_ROLE;
    readonly rotationDays: number;
    readonly proxyName: string;
    /** Connections Lambda may hold per execution environment (docs/ARCHITECTURE.md §3: small pool). */
    readonly poolMaxPerEnvironment: number;
    /**
     * The functions' PostgreSQL clients: a new connection (TCP, TLS, login) gives up after this
     * long, so a cold start fails quickly instead of hanging until the Lambda timeout.
     */
    readonly connectTimeoutMs: number;
    /** A pooled connection idle this long is closed (RDS Proxy closes idle ones itself too). */
    readonly idleTimeoutMs: number;
  };
  readonly cache: {
    readonly replicationGroupId: string;
    readonly engine: 'valkey' | 'redis';
    readonly engineVersion: string;
    readonly nodeType: string;
    readonly nodes: number;
    readonly multiAz: boolean;
    readonly snapshotRetentionDays: number;
    /** The consumer's Redis client: one connection attempt gives up after this long. */
    readonly connectTimeoutMs: number;
    /**
     * Reconnect delays of that client: base doubling per failed attempt up to cap, jittered
     * over the upper half so that execution environments do not retry in lockstep.
     */
    readonly reconnect: { readonly baseMs: number; readonly capMs: number };
    /**
     * The consumer's set-up waits for the first connection attempt this long beyond the connect
     * timeout (AUTH and HELLO after the socket), then goes on without Redis.
     */
    readonly handshakeMarginMs: number;
    /** A persisting connection failure is logged again at most this often (with a count). */
    readonly errorLogIntervalMs: number;
    /** When the consumer's runtime closes, commands in flight get this long to finish. */
    readonly closeGraceMs: number;
    /** How long the AUTH token read from Secrets Manager is cached for another set-up. */
    readonly authSecretMaxAgeSeconds: number;
  };
  readonly kafka: {
    readonly clusterName: string;
    /** MSK version string; the local broker is pinned to the same major.minor. */
    readonly mskVersion: string;
    /** Apache Kafka release the local broker runs (Maven Central jars). */
    readonly localBrokerVersion: string;
    readonly brokerInstanceType: string;
    readonly brokers: number;
    readonly ebsVolumeGiB: number;
    readonly enhancedMonitoring:
      | 'DEFAULT'
      | 'PER_BROKER'
      | 'PER_TOPIC_PER_BROKER'
      | 'PER_TOPIC_PER_PARTITION';
    readonly defaultReplicationFactor: number;
    readonly minInsyncReplicas: number;
    readonly topics: { readonly orderEvents: TopicConfig; readonly deadLetter: TopicConfig };
    /** The functions' kafkajs clients. */
    readonly client: {
      /**
       * A broker connection gives up after this long; TLS and SASL to MSK take longer than
       * kafkajs's own 1 s.
       */
      readonly connectTimeoutMs: number;
    };
  };
  readonly functions: {
    readonly orderApi: FunctionConfig;
    readonly outboxRelay: FunctionConfig & { readonly scheduleMinutes: number };
    readonly orderConsumer: FunctionConfig;
    readonly dlqTriage: FunctionConfig;
    readonly migrate: FunctionConfig;
    readonly kafkaTopics: FunctionConfig;
  };
  readonly mappings: {
    readonly orderConsumer: MappingConfig;
    readonly dlqTriage: MappingConfig;
    /**
     * The provisioned poller group both MSK mappings share (one VPC): they draw on one pool of
     * event poller units instead of each holding its own.
     */
    readonly pollerGroupName: string;
  };
  /**
   * The circuit breaker around each dependency of the consumer and triage: this many counted
   * failures within the window open it; open, it fails fast; after openMs one trial call.
   */
  readonly breaker: {
    readonly failureThreshold: number;
    readonly windowMs: number;
    readonly openMs: number;
  };
  /** The consumer's own retry and batching settings (its function environment). */
  readonly consumer: {
    /** Records per PostgreSQL group commit. */
    readonly chunkSize: number;
    /** In-invocation retries of a TRANSIENT failure before the record is handed back. */
    readonly retryAttempts: number;
    /** Deliveries of one record (across invocations) before it is dead-lettered as TRANSIENT. */
    readonly maxDeliveryAttempts: number;
    /** How long the Redis fast path remembers an applied event. */
    readonly idempotencyTtlSeconds: number;
    /** Backoff between in-invocation retries of a TRANSIENT failure (contention, one-offs). */
    readonly retryBackoff: { readonly baseMs: number; readonly capMs: number };
    /**
     * While a dependency is down (connection refused, breaker open) a batch waits inside its
     * invocation, checking again with this backoff, instead of going back to the mapping at
     * once: each hand-back spends one of the mapping's few retries, and after the last one the
     * batch goes to the on-failure destination.
     */
    readonly outageWait: { readonly baseMs: number; readonly capMs: number };
    /** The waiting batch is handed back to the mapping this long before the timeout. */
    readonly stopBeforeTimeoutMs: number;
    /**
     * The dead-letter producer's retries of a send: bounded, since a send must end within the
     * invocation (its longest waits must fit the function timeout, checked).
     */
    readonly producerRetry: ProducerRetryConfig;
    /**
     * Runs of a batch's transaction when a concurrent batch created one of its new orders first;
     * after the last one the batch fails TRANSIENT and is retried later.
     */
    readonly applyAttempts: number;
    /** How long Redis keeps a record's delivery count (must outlast all deliveries, checked). */
    readonly attemptCountTtlSeconds: number;
  };
  readonly triage: {
    /**
     * Where the triage mapping sends a batch it gave up on (it cannot use its own topic): an S3
     * bucket, which keeps the whole invocation record; objects expire after this many days.
     */
    readonly backstopRetentionDays: number;
    /** Redrives of a TRANSIENT message before it is parked. */
    readonly maxRedrives: number;
    /** Redrives of a PROCESSING_FAILURE message (usually a bug: fewer). */
    readonly maxProcessingFailureRedrives: number;
    /** Delay before redrive n (0-based): min(max, base · 2^n). */
    readonly redriveBaseDelayMs: number;
    readonly redriveMaxDelayMs: number;
    /**
     * Up to this share (%) of each redrive delay is removed at random: spreads redrives of
     * messages that failed together. At most 50, so a later redrive never comes sooner.
     */
    readonly redriveJitterPercent: number;
    /** Kept free at the end of an invocation for the last produce or insert. */
    readonly stopBeforeTimeoutMs: number;
    /** Backoff while PostgreSQL or the broker cannot be reached (see consumer.outageWait). */
    readonly outageWait: { readonly baseMs: number; readonly capMs: number };
    /** While waiting out an outage, the first check and every this-many-th one are logged. */
    readonly outageLogEvery: number;
    /** The redrive producer's retries of a send: bounded, like the consumer's. */
    readonly producerRetry: ProducerRetryConfig;
  };
  readonly api: {
    readonly name: string;
    readonly throttleRatePerSecond: number;
    readonly throttleBurst: number;
    /**
     * Largest request body the order API takes (413 above). API Gateway takes 10 MB and Lambda
     * 6 MB, but the body becomes a Kafka message and MSK's default limit is 1 MiB.
     */
    readonly maxBodyBytes: number;
    /** Most elements any one array of a body may hold (an order's items). */
    readonly maxArrayItems: number;
  };
  readonly observability: {
    readonly metricsNamespace: string;
    readonly dashboardName: string;
    readonly alarmTopicName: string;
    readonly logRetentionDays: number;
    /** Keep log groups when a stack is deleted (audit trail in prod). */
    readonly retainLogs: boolean;
    readonly logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  };
  readonly outbox: {
    readonly publishedRetentionHours: number;
    /**
     * How long the consumer's processed_events keys are kept (the relay purges older ones). A
     * purged key no longer stops a redelivered event, so this must outlast every way an event
     * can come back: the topics' retention plus triage's redrive delays.
     */
    readonly processedEventsRetentionHours: number;
    /** Rows claimed, published and marked per transaction (docs/ARCHITECTURE.md §4: batches of ~1,000). */
    readonly relayBatchSize: number;
    /** Polling fallback behind LISTEN/NOTIFY. */
    readonly relayPollIntervalMs: number;
    /**
     * The relay stops looping this long before its Lambda timeout. Timeout = schedule period,
     * so the next tick starts about this long after the loop ends: keep it well under the
     * outbox latency bound.
     */
    readonly relayStopBeforeTimeoutMs: number;
    /** Between relay iterations after a failed one (broker or database unavailable). */
    readonly relayFailureBackoff: { readonly baseMs: number; readonly capMs: number };
    /** kafkajs's own retries of an idempotent send (unbounded), backing off within these. */
    readonly relaySendRetry: { readonly baseMs: number; readonly capMs: number };
    /** The relay deletes old outbox and processed_events rows at most this often... */
    readonly retentionEveryMs: number;
    /** ...this many rows per statement... */
    readonly retentionBatchSize: number;
    /**
     * ...for at most this long per table and pass: a backlog is worked off over the following
     * passes instead of stalling publishing.
     */
    readonly retentionBudgetMs: number;
  };
  /** The schema migration function (and `npm run migrate`). */
  readonly migrate: {
    /**
     * Bounds the wait for the migration lock and for table locks taken by DDL (PostgreSQL's
     * lock_timeout): a busy table fails the deploy with a clear error instead of queueing
     * every query behind it. Must fit the migrate function's timeout (checked).
     */
    readonly lockTimeoutMs: number;
  };
  readonly alarms: AlarmConfig;
  /**
   * Parts a deploy target may not support. Everything is on for AWS; the `localstack` stage
   * turns off what LocalStack cannot take (sources in tools/operations/localstack/coverage.ts).
   */
  readonly features: StageFeatures;
}

export interface StageFeatures {
  /** VPC flow logs (AWS::EC2::FlowLog). */
  readonly vpcFlowLogs: boolean;
  /** The MSK configuration (AWS::MSK::Configuration); off, the brokers run with their defaults. */
  readonly mskConfiguration: boolean;
  /** Hosted rotation of the database secret (the AWS::SecretsManager-2024-09-16 transform). */
  readonly databaseSecretRotation: boolean;
  /**
   * Provisioned pollers, retries, bisect, partial batch responses and on-failure destinations
   * on the MSK event source mappings; off, the mappings only name function, topic and group.
   */
  readonly kafkaMappingErrorHandling: boolean;
  /** The Custom::KafkaTopics resource (creates the topics over MSK IAM auth at deploy time). */
  readonly kafkaTopicsResource: boolean;
  /** The CDK trigger that runs the schema migrations through RDS Proxy on every deploy. */
  readonly migrateOnDeploy: boolean;
  /** The CloudWatch dashboard (AWS::CloudWatch::Dashboard). */
  readonly dashboard: boolean;
  /** The monthly budget (AWS::Budgets::Budget). */
  readonly budget: boolean;
}

const ALL_FEATURES: StageFeatures = {
  vpcFlowLogs: true,
  mskConfiguration: true,
  databaseSecretRotation: true,
  kafkaMappingErrorHandling: true,
  kafkaTopicsResource: true,
  migrateOnDeploy: true,
  dashboard: true,
  budget: true,
};

const PROJECT = 'order-pipeline';

/** The documented alarm thresholds (docs/ARCHITECTURE.md §4), the same in every stage unless a stage overrides one. */
const DOCUMENTED_ALARMS: AlarmConfig = {
  consumerLagWarning: { value: 1_000, evaluationMinutes: 5 },
  consumerLagCritical: { value: 5_000, evaluationMinutes: 1 },
  deadLettered: { value: 0, evaluationMinutes: 1 },
  circuitBreakerOpened: { value: 0, evaluationMinutes: 1 },
  errorRatePercent: { value: 5, evaluationMinutes: 3 },
  endToEndLatencyMs: { value: 5_000, evaluationMinutes: 3 },
  endToEndLatencyStatistic: 'p99',
  outboxOldestPendingMs: { value: 5_000, evaluationMinutes: 3 },
  outboxSetAsideRows: { value: 0, evaluationMinutes: 1 },
  cacheMemoryPercent: { value: 80, evaluationMinutes: 5 },
  databaseCpuPercent: { value: 80, evaluationMinutes: 5 },
  databaseConnections: { value: 80, evaluationMinutes: 5 },
  databaseFreeStorageGiB: { value: 2, evaluationMinutes: 5 },
  kafkaDiskUsedPercent: { value: 80, evaluationMinutes: 5 },
  lambdaErrors: { value: 0, evaluationMinutes: 1 },
  lambdaThrottles: { value: 0, evaluationMinutes: 1 },
  triageFailures: { value: 0, evaluationMinutes: 1 },
};

function baseConfig(stage: StageName, region: string, azs: readonly string[]): StageConfig {
  const prefix = `${PROJECT}-${stage}`;
  const fn = (name: string, memoryMiB: number, timeoutSeconds: number): FunctionConfig => ({
    name: `${prefix}-${name}`,
    memoryMiB,
    timeoutSeconds,
  });
  return {
    stage,
    project: PROJECT,
    prefix,
    region,
    availabilityZones: azs,
    tags: {
      project: PROJECT,
      environment: stage,
      costCenter: 'orders-platform',
      owner: 'orders-platform-team',
      managedBy: 'aws-cdk',
    },
    // Fixed cost at idle ~$312 (npm run cost, pollers included); prod overrides it.
    budget: { monthlyLimitUsd: 400, notifyAtPercent: [80, 100] },
    network: {
      cidr: '10.40.0.0/16',
      egress: 'nat',
      natGateways: 1,
      // S3 (the triage mapping's backstop) is reached through a gateway endpoint in every stage.
      interfaceEndpoints: ['sts', 'secretsmanager', 'kafka', 'lambda', 'logs', 'monitoring'],
      flowLogRetentionDays: 30,
    },
    database: {
      instanceIdentifier: `${prefix}-postgres`,
      engineVersion: '17.9',
      engineMajorVersion: '17',
      instanceType: 't4g.micro',
      allocatedStorageGiB: 20,
      maxAllocatedStorageGiB: 100,
      multiAz: false,
      readReplicas: 0,
      backupRetentionDays: 1,
      deletionProtection: false,
      removal: 'destroy',
      databaseName: 'orders',
      adminUser: 'pipeline_admin',
      roles: DATABASE_ROLES,
      operatorRole: DATABASE_OPERATOR_ROLE,
      rotationDays: 30,
      proxyName: `${prefix}-proxy`,
      poolMaxPerEnvironment: 2,
      connectTimeoutMs: 5_000,
      idleTimeoutMs: 60_000,
    },
    cache: {
      replicationGroupId: `${prefix}-cache`,
      engine: 'valkey',
      engineVersion: '7.2',
      nodeType: 'cache.t4g.micro',
      nodes: 1,
      multiAz: false,
      snapshotRetentionDays: 1,
      connectTimeoutMs: 2_000,
      reconnect: { baseMs: 100, capMs: 5_000 },
      handshakeMarginMs: 1_000,
      errorLogIntervalMs: 30_000,
      closeGraceMs: 2_000,
      authSecretMaxAgeSeconds: 300,
    },
    kafka: {
      clusterName: `${prefix}-msk`,
      mskVersion: '4.0.x.kraft',
      localBrokerVersion: '4.0.2',
      brokerInstanceType: 'kafka.t3.small',
      brokers: 2,
      ebsVolumeGiB: 20,
      enhancedMonitoring: 'DEFAULT',
      defaultReplicationFactor: 2,
      minInsyncReplicas: 1,
      topics: {
        orderEvents: {
          name: 'order-events',
          partitions: 6,
          replicationFactor: 2,
          minInsyncReplicas: 1,
          retentionHours: 168,
          // MSK's default message.max.bytes, stated so the relay and the API can rely on it.
          maxMessageBytes: 1_048_576,
        },
        deadLetter: {
          name: 'order-events-dlq',
          partitions: 3,
          replicationFactor: 2,
          minInsyncReplicas: 1,
          retentionHours: 336,
          // A dead letter carries its event (base64 key, JSON value) plus the failure history.
          maxMessageBytes: 2_097_152,
        },
      },
      client: { connectTimeoutMs: 5_000 },
    },
    functions: {
      orderApi: fn('order-api', 512, 10),
      outboxRelay: { ...fn('outbox-relay', 512, 60), reservedConcurrency: 1, scheduleMinutes: 1 },
      orderConsumer: fn('order-consumer', 1024, 120),
      // Long enough to wait out the longest redrive delay inside one invocation.
      dlqTriage: fn('dlq-triage', 512, 300),
      migrate: fn('migrate', 512, 300),
      kafkaTopics: fn('kafka-topics', 256, 120),
    },
    mappings: {
      orderConsumer: {
        consumerGroupId: `${prefix}-order-consumer`,
        batchSize: 500,
        maxBatchingWindowSeconds: 1,
        minimumPollers: 1,
        maximumPollers: 2,
        retryAttempts: 3,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
      },
      dlqTriage: {
        consumerGroupId: `${prefix}-dlq-triage`,
        batchSize: 100,
        maxBatchingWindowSeconds: 5,
        minimumPollers: 1,
        maximumPollers: 1,
        retryAttempts: 3,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
      },
      pollerGroupName: `${prefix}-pollers`,
    },
    breaker: { failureThreshold: 5, windowMs: 60_000, openMs: 30_000 },
    consumer: {
      chunkSize: 100,
      retryAttempts: 2,
      maxDeliveryAttempts: 3,
      idempotencyTtlSeconds: 86_400,
      retryBackoff: { baseMs: 50, capMs: 1_000 },
      // The breaker lets a trial call through 30 s after opening; checks in between fail fast.
      outageWait: { baseMs: 500, capMs: 5_000 },
      stopBeforeTimeoutMs: 15_000,
      // kafkajs's own initial and longest waits (300 ms, 30 s), stated.
      producerRetry: { retries: 5, initialMs: 300, maxMs: 30_000 },
      applyAttempts: 3,
      attemptCountTtlSeconds: 86_400,
    },
    triage: {
      backstopRetentionDays: 30,
      maxRedrives: 5,
      maxProcessingFailureRedrives: 2,
      redriveBaseDelayMs: 2_000,
      redriveMaxDelayMs: 60_000,
      redriveJitterPercent: 20,
      stopBeforeTimeoutMs: 10_000,
      outageWait: { baseMs: 500, capMs: 5_000 },
      outageLogEvery: 10,
      producerRetry: { retries: 5, initialMs: 200, maxMs: 5_000 },
    },
    api: {
      name: `${prefix}-order-api`,
      throttleRatePerSecond: 100,
      throttleBurst: 200,
      maxBodyBytes: 262_144,
      maxArrayItems: 1_000,
    },
    observability: {
      metricsNamespace: `OrderPipeline/${stage}`,
      dashboardName: `${prefix}-pipeline`,
      alarmTopicName: `${prefix}-alarms`,
      logRetentionDays: 30,
      retainLogs: false,
      logLevel: 'INFO',
    },
    outbox: {
      publishedRetentionHours: 72,
      // 30 days: well past the dead-letter topic's 14 days plus triage's redrive delays.
      processedEventsRetentionHours: 720,
      relayBatchSize: 1_000,
      relayPollIntervalMs: 1_000,
      relayStopBeforeTimeoutMs: 2_000,
      relayFailureBackoff: { baseMs: 200, capMs: 5_000 },
      relaySendRetry: { baseMs: 100, capMs: 5_000 },
      retentionEveryMs: 60_000,
      retentionBatchSize: 1_000,
      retentionBudgetMs: 500,
    },
    migrate: { lockTimeoutMs: 15_000 },
    alarms: DOCUMENTED_ALARMS,
    features: ALL_FEATURES,
  };
}

function devConfig(): StageConfig {
  return baseConfig('dev', 'eu-west-1', ['eu-west-1a', 'eu-west-1b']);
}

function prodConfig(): StageConfig {
  const base = baseConfig('prod', 'eu-west-1', ['eu-west-1a', 'eu-west-1b', 'eu-west-1c']);
  const topic = (t: TopicConfig): TopicConfig => ({
    ...t,
    replicationFactor: 3,
    minInsyncReplicas: 2,
  });
  return {
    ...base,
    // Fixed cost at idle ~$1,470 (npm run cost, Multi-AZ database included); the 80 % notice
    // ($1,600) then means real usage.
    budget: { ...base.budget, monthlyLimitUsd: 2_000 },
    network: {
      ...base.network,
      cidr: '10.42.0.0/16',
      egress: 'endpoints',
      natGateways: 0,
      flowLogRetentionDays: 90,
    },
    database: {
      ...base.database,
      instanceType: 'r6g.large',
      allocatedStorageGiB: 100,
      maxAllocatedStorageGiB: 500,
      // A standby in another AZ: failover (60-120 s) instead of a restore from backup.
      multiAz: true,
      readReplicas: 1,
      backupRetentionDays: 14,
      deletionProtection: true,
      removal: 'retain',
    },
    cache: { ...base.cache, nodes: 2, multiAz: true, snapshotRetentionDays: 7 },
    kafka: {
      ...base.kafka,
      brokerInstanceType: 'kafka.m5.large',
      brokers: 3,
      ebsVolumeGiB: 100,
      defaultReplicationFactor: 3,
      minInsyncReplicas: 2,
      topics: {
        orderEvents: topic(base.kafka.topics.orderEvents),
        deadLetter: topic(base.kafka.topics.deadLetter),
      },
    },
    mappings: {
      orderConsumer: { ...base.mappings.orderConsumer, minimumPollers: 1, maximumPollers: 6 },
      dlqTriage: base.mappings.dlqTriage,
      pollerGroupName: base.mappings.pollerGroupName,
    },
    api: { ...base.api, throttleRatePerSecond: 500, throttleBurst: 1_000 },
    observability: { ...base.observability, logRetentionDays: 90, retainLogs: true },
    alarms: {
      ...base.alarms,
      // db.r6g.large allows ~1,600 connections; RDS Proxy multiplexes far below that.
      databaseConnections: { value: 500, evaluationMinutes: 5 },
      databaseFreeStorageGiB: { value: 10, evaluationMinutes: 5 },
    },
  };
}

/** The stage deployed to LocalStack: dev-shaped, the smallest sizes, LocalStack's default region. */
function localstackConfig(): StageConfig {
  const base = baseConfig('localstack', 'us-east-1', ['us-east-1a', 'us-east-1b']);
  return {
    ...base,
    budget: { ...base.budget, monthlyLimitUsd: 50 },
    network: { ...base.network, cidr: '10.44.0.0/16', egress: 'endpoints', natGateways: 0 },
    observability: { ...base.observability, logRetentionDays: 7, logLevel: 'DEBUG' },
    // What LocalStack cannot take (each with its source in tools/operations/localstack/coverage.ts):
    // resource types missing from its CloudFormation coverage, a transform its engine does not
    // know, Kafka mapping settings it does not implement, and deploy-time custom resources that
    // need MSK IAM auth or a working RDS Proxy, neither of which it emulates.
    features: {
      vpcFlowLogs: false,
      mskConfiguration: false,
      databaseSecretRotation: false,
      kafkaMappingErrorHandling: false,
      kafkaTopicsResource: false,
      migrateOnDeploy: false,
      dashboard: false,
      budget: false,
    },
  };
}

const BUILDERS: Record<StageName, () => StageConfig> = {
  dev: devConfig,
  prod: prodConfig,
  localstack: localstackConfig,
};

export function isStageName(value: string): value is StageName {
  return (STAGES as readonly string[]).includes(value);
}

/** Resolves a stage by name; unknown names fail loudly rather than deploying defaults. */
export function loadStageConfig(stage: string | undefined): StageConfig {
  const name = stage ?? 'dev';
  if (!isStageName(name)) {
    throw new Error(
      `Unknown stage "${name}". Use one of: ${STAGES.join(', ')} (cdk -c stage=NAME).`,
    );
  }
  const config = BUILDERS[name]();
  validateStageConfig(config);
  return config;
}

/** Invariants that would otherwise surface only at deploy time. */
export function validateStageConfig(c: StageConfig): void {
  const problems: string[] = [];
  const azs = c.availabilityZones.length;
  if (c.kafka.brokers % azs !== 0) {
    problems.push(`kafka.brokers (${c.kafka.brokers}) must be a multiple of the AZ count (${azs})`);
  }
  for (const t of Object.values(c.kafka.topics)) {
    if (t.replicationFactor > c.kafka.brokers) {
      problems.push(
        `topic ${t.name}: replication factor ${t.replicationFactor} > brokers ${c.kafka.brokers}`,
      );
    }
    if (t.minInsyncReplicas >= t.replicationFactor && t.replicationFactor > 1) {
      problems.push(`topic ${t.name}: min.insync.replicas must be below the replication factor`);
    }
  }
  const mskMajorMinor = c.kafka.mskVersion.split('.').slice(0, 2).join('.');
  if (!c.kafka.localBrokerVersion.startsWith(`${mskMajorMinor}.`)) {
    problems.push(`local broker ${c.kafka.localBrokerVersion} is not on MSK's ${mskMajorMinor}`);
  }
  for (const [name, m] of [
    ['orderConsumer', c.mappings.orderConsumer],
    ['dlqTriage', c.mappings.dlqTriage],
  ] as const) {
    if (m.retryAttempts < 0 || m.retryAttempts > 10) {
      problems.push(`mappings.${name}.retryAttempts must be 0..10 with an on-failure destination`);
    }
    if (m.minimumPollers < 1 || m.maximumPollers < m.minimumPollers) {
      problems.push(`mappings.${name}: pollers must satisfy 1 <= minimum <= maximum`);
    }
  }
  const longestRedelivery =
    Math.max(...Object.values(c.kafka.topics).map((t) => t.retentionHours)) +
    Math.ceil((c.triage.maxRedrives * c.triage.redriveMaxDelayMs) / 3_600_000);
  if (c.outbox.processedEventsRetentionHours < longestRedelivery) {
    problems.push(
      `outbox.processedEventsRetentionHours must be at least ${longestRedelivery} (the longest topic retention plus triage's redrive delays)`,
    );
  }
  if (c.outbox.relayStopBeforeTimeoutMs >= c.alarms.outboxOldestPendingMs.value) {
    problems.push('outbox.relayStopBeforeTimeoutMs must stay below the outbox latency bound');
  }
  if (c.functions.outboxRelay.timeoutSeconds > c.functions.outboxRelay.scheduleMinutes * 60) {
    problems.push('the relay timeout must not exceed its schedule period (one instance at a time)');
  }
  if (c.triage.maxProcessingFailureRedrives > c.triage.maxRedrives) {
    problems.push('triage.maxProcessingFailureRedrives must not exceed triage.maxRedrives');
  }
  if (c.triage.stopBeforeTimeoutMs >= c.functions.dlqTriage.timeoutSeconds * 1_000) {
    problems.push('triage.stopBeforeTimeoutMs must fit inside the triage function timeout');
  }
  if (c.triage.redriveMaxDelayMs >= c.functions.dlqTriage.timeoutSeconds * 1_000) {
    problems.push('triage.redriveMaxDelayMs must fit inside the triage function timeout');
  }
  if (c.triage.redriveJitterPercent < 0 || c.triage.redriveJitterPercent > 50) {
    problems.push('triage.redriveJitterPercent must be 0..50 (a later redrive never sooner)');
  }
  for (const [path, b] of [
    ['cache.reconnect', c.cache.reconnect],
    ['consumer.retryBackoff', c.consumer.retryBackoff],
    ['consumer.outageWait', c.consumer.outageWait],
    ['triage.outageWait', c.triage.outageWait],
    ['outbox.relayFailureBackoff', c.outbox.relayFailureBackoff],
    ['outbox.relaySendRetry', c.outbox.relaySendRetry],
  ] as const) {
    if (b.baseMs < 1 || b.capMs < b.baseMs) problems.push(`${path}: need 1 <= baseMs <= capMs`);
  }
  // The consumer's set-up waits for the first Redis attempt: it must leave time for a batch.
  const consumerWorkMs =
    c.functions.orderConsumer.timeoutSeconds * 1_000 - c.consumer.stopBeforeTimeoutMs;
  if (c.cache.connectTimeoutMs + c.cache.handshakeMarginMs >= consumerWorkMs) {
    problems.push(
      'cache.connectTimeoutMs plus cache.handshakeMarginMs must fit inside the consumer timeout, less its stop margin',
    );
  }
  // A cold start that cannot reach PostgreSQL or a broker fails with the client's error, not
  // with the Lambda timeout.
  const timeoutMs = (f: FunctionConfig) => f.timeoutSeconds * 1_000;
  const { orderApi, outboxRelay, orderConsumer, dlqTriage, migrate, kafkaTopics } = c.functions;
  const pgFunctions = [orderApi, outboxRelay, orderConsumer, dlqTriage, migrate];
  if (c.database.connectTimeoutMs >= Math.min(...pgFunctions.map(timeoutMs))) {
    problems.push('database.connectTimeoutMs must fit inside every PostgreSQL function timeout');
  }
  const kafkaFunctions = [outboxRelay, orderConsumer, dlqTriage, kafkaTopics];
  if (c.kafka.client.connectTimeoutMs >= Math.min(...kafkaFunctions.map(timeoutMs))) {
    problems.push('kafka.client.connectTimeoutMs must fit inside every Kafka function timeout');
  }
  // Bounded producer retries: a send must end within the invocation.
  for (const [path, r, fn] of [
    ['consumer.producerRetry', c.consumer.producerRetry, orderConsumer],
    ['triage.producerRetry', c.triage.producerRetry, dlqTriage],
  ] as const) {
    if (r.retries < 0 || r.initialMs < 1 || r.maxMs < r.initialMs) {
      problems.push(`${path}: need retries >= 0 and 1 <= initialMs <= maxMs`);
    } else if (longestProducerRetryWaitMs(r) >= timeoutMs(fn)) {
      problems.push(`${path}: its longest waits must fit inside the function timeout`);
    }
  }
  if (c.consumer.applyAttempts < 1) problems.push('consumer.applyAttempts must be at least 1');
  // The count must outlive every delivery of a record: the first try and the mapping's retries.
  const deliveriesMs = (c.mappings.orderConsumer.retryAttempts + 1) * timeoutMs(orderConsumer);
  if (c.consumer.attemptCountTtlSeconds * 1_000 < deliveriesMs) {
    problems.push(
      "consumer.attemptCountTtlSeconds must outlast a record's deliveries (mapping retries and timeout)",
    );
  }
  if (c.triage.outageLogEvery < 1) problems.push('triage.outageLogEvery must be at least 1');
  if (c.migrate.lockTimeoutMs < 1 || c.migrate.lockTimeoutMs >= timeoutMs(migrate)) {
    problems.push(
      'migrate.lockTimeoutMs must be positive and fit inside the migrate function timeout',
    );
  }
  if (c.outbox.retentionBudgetMs >= timeoutMs(outboxRelay) - c.outbox.relayStopBeforeTimeoutMs) {
    problems.push(
      'outbox.retentionBudgetMs must fit inside the relay timeout, less its stop margin',
    );
  }
  // Each hand-back of a waiting batch spends a mapping retry; together the invocations must
  // outlast the longest failover twice over before the batch could reach the backstop.
  const consumerWaitMs =
    (c.mappings.orderConsumer.retryAttempts + 1) *
    (c.functions.orderConsumer.timeoutSeconds * 1_000 - c.consumer.stopBeforeTimeoutMs);
  if (consumerWaitMs < 2 * LONGEST_DEPENDENCY_OUTAGE_SECONDS * 1_000) {
    problems.push(
      `the consumer's invocations (timeout, stop margin, mapping retries) must outlast a ` +
        `${LONGEST_DEPENDENCY_OUTAGE_SECONDS} s dependency outage twice over`,
    );
  }
  if (c.consumer.stopBeforeTimeoutMs >= c.functions.orderConsumer.timeoutSeconds * 1_000) {
    problems.push('consumer.stopBeforeTimeoutMs must fit inside the consumer function timeout');
  }
  const events = c.kafka.topics.orderEvents.maxMessageBytes;
  if (c.kafka.topics.deadLetter.maxMessageBytes < Math.ceil((events * 4) / 3) + 65_536) {
    problems.push('the dead-letter topic must hold a dead letter of the largest order event');
  }
  // The event is the body plus an envelope of well under 64 KiB.
  if (c.api.maxBodyBytes + 65_536 > events) {
    problems.push("api.maxBodyBytes must leave room for the envelope under order-events' limit");
  }
  if (c.cache.multiAz && c.cache.nodes < 2) problems.push('cache.multiAz needs at least 2 nodes');
  if (c.network.egress === 'nat' && c.network.natGateways < 1)
    problems.push('egress nat needs natGateways >= 1');
  if (problems.length > 0) {
    throw new Error(`Invalid stage config "${c.stage}":\n- ${problems.join('\n- ')}`);
  }
}
