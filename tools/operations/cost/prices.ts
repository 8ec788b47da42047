/**
 * Committed price table for `npm run cost`.
 *
 * These are AWS ON-DEMAND LIST PRICES (USD, no free tier, no Savings Plans or Reserved
 * Instances, no taxes), transcribed by hand from the public pricing pages named in each
 * entry's `source` as of its `asOf` date. They are list prices to VERIFY AGAINST THE AWS PRICE
 * LIST API (`aws pricing get-products`) before relying on them: AWS changes prices, and entries
 * marked `confidence: 'approximate'` were not read off the page for that exact region.
 *
 * A month is 730 hours (the convention of the AWS Pricing Calculator).
 */

export const HOURS_PER_MONTH = 730;

export type PriceUnit =
  | 'hour'
  | 'vCPU-hour'
  | 'EPU-hour'
  | 'GB-month'
  | 'month'
  | 'metric-month'
  | 'day'
  | 'GB-second'
  | 'request';

export interface Price {
  readonly usd: number;
  readonly unit: PriceUnit;
  /** AWS pricing page the figure comes from. */
  readonly source: string;
  /** Date (ISO) the figure was recorded. */
  readonly asOf: string;
  /** `list`: read off the page for this region; `approximate`: derived, verify first. */
  readonly confidence: 'list' | 'approximate';
  readonly note?: string;
}

export interface RegionPrices {
  /** Amazon MSK provisioned, standard brokers, per broker-hour. */
  readonly mskBrokerHour: Readonly<Record<string, Price>>;
  /** Amazon MSK primary (EBS) broker storage, per GB-month. */
  readonly mskStorageGbMonth: Price;
  /** RDS for PostgreSQL, Single-AZ instance-hour (Multi-AZ with one standby = 2×). */
  readonly rdsPostgresInstanceHour: Readonly<Record<string, Price>>;
  /** RDS storage per GB-month, Single-AZ (Multi-AZ = 2×), by StorageType. */
  readonly rdsStorageGbMonth: Readonly<Record<string, Price>>;
  /** RDS Proxy, per vCPU-hour of the target instances (minimum `rdsProxyMinVcpus`). */
  readonly rdsProxyVcpuHour: Price;
  /** ElastiCache node-based, per node-hour, by engine then node type. */
  readonly elastiCacheNodeHour: Readonly<
    Record<'redis' | 'valkey', Readonly<Record<string, Price>>>
  >;
  readonly natGatewayHour: Price;
  /** PrivateLink interface endpoint, per endpoint per AZ (ENI) per hour. */
  readonly interfaceEndpointAzHour: Price;
  /** Public IPv4 address (Elastic IP), per hour, whether attached or not. */
  readonly publicIpv4Hour: Price;
  readonly kmsKeyMonth: Price;
  readonly secretMonth: Price;
  /** CloudWatch standard-resolution alarm, per alarm metric per month. */
  readonly alarmStandardMetricMonth: Price;
  /** CloudWatch high-resolution (period < 60 s) alarm, per alarm metric per month. */
  readonly alarmHighResMetricMonth: Price;
  readonly compositeAlarmMonth: Price;
  /** CloudWatch dashboard per month (the account's first 3 are free; priced as $3 anyway). */
  readonly dashboardMonth: Price;
  /** AWS Budgets: each budget beyond the account's first two, per day. */
  readonly budgetDay: Price;
  /**
   * Lambda event source mapping in provisioned mode (Amazon MSK / self-managed Kafka), per
   * Event Poller Unit-hour. How many EPUs a set of mappings holds: `KAFKA_POLLERS_PER_EPU`.
   */
  readonly esmEventPollerUnitHour: Price;
  /** Lambda duration per GB-second (first pricing tier) by architecture, and per request. */
  readonly lambdaGbSecond: Readonly<Record<'arm64' | 'x86_64', Price>>;
  readonly lambdaRequest: Price;
}

/** vCPUs per RDS instance class (what RDS Proxy bills on). */
export const RDS_VCPUS: Readonly<Record<string, number>> = {
  'db.t4g.micro': 2,
  'db.t4g.small': 2,
  'db.t4g.medium': 2,
  'db.r6g.large': 2,
  'db.r6g.xlarge': 4,
};

/** RDS Proxy bills at least this many vCPUs for a provisioned-instance target. */
export const RDS_PROXY_MIN_VCPUS = 2;

/** Free budgets per account. */
export const FREE_BUDGETS = 2;

/** Alarm metrics an anomaly-detection band counts as (CloudWatch pricing page). */
export const ANOMALY_DETECTION_METRICS = 3;

/**
 * Event pollers one Event Poller Unit (EPU) holds by default, for Amazon MSK and self-managed
 * Kafka mappings in provisioned mode. Lambda developer guide, "Apache Kafka event poller scaling
 * modes in Lambda" → "Enhanced EPU Utilization"
 * (https://docs.aws.amazon.com/lambda/latest/dg/kafka-scaling-modes.html#kafka-enhanced-epu-utilization),
 * read 2026-12-03: "Each EPU supports up to 20 MB/s throughput capacity for event polling and
 * supports a default of 10 event pollers. When you create a Provisioned mode for Kafka ESM by
 * setting minimum and maximum pollers, it uses minimum poller number to provision EPUs based on
 * default of 10 event pollers per EPU." The Lambda pricing page says the same ("Each EPU supports
 * up to 20 MB/s throughput capacity for event polling, with a default of 10 event pollers").
 * (SQS mappings differ: one poller per EPU, another price; this project has none.)
 */
export const KAFKA_POLLERS_PER_EPU = 10;

const AS_OF = '2025-01-15';
/** Date the Lambda duration and request entries were recorded. */
const AS_OF_LAMBDA = '2026-12-04';
/** Date the provisioned-mode event poller entries were recorded. */
const AS_OF_EPU = '2026-12-03';
const P = {
  msk: 'Amazon MSK pricing — https://aws.amazon.com/msk/pricing/',
  rds: 'Amazon RDS for PostgreSQL pricing — https://aws.amazon.com/rds/postgresql/pricing/',
  proxy: 'Amazon RDS Proxy pricing — https://aws.amazon.com/rds/proxy/pricing/',
  cache: 'Amazon ElastiCache pricing — https://aws.amazon.com/elasticache/pricing/',
  vpc: 'Amazon VPC pricing — https://aws.amazon.com/vpc/pricing/',
  privatelink: 'AWS PrivateLink pricing — https://aws.amazon.com/privatelink/pricing/',
  kms: 'AWS KMS pricing — https://aws.amazon.com/kms/pricing/',
  secrets: 'AWS Secrets Manager pricing — https://aws.amazon.com/secrets-manager/pricing/',
  cw: 'Amazon CloudWatch pricing — https://aws.amazon.com/cloudwatch/pricing/',
  budgets: 'AWS Budgets pricing — https://aws.amazon.com/aws-cost-management/aws-budgets/pricing/',
  lambda:
    'AWS Lambda pricing, "Provisioned Mode for Event Source Mapping (ESM) Pricing" — https://aws.amazon.com/lambda/pricing/',
  lambdaDuration:
    'AWS Lambda pricing, duration (first tier: Arm 7.5 billion, x86 6 billion GB-seconds a month) and requests — https://aws.amazon.com/lambda/pricing/',
} as const;

function p(
  usd: number,
  unit: PriceUnit,
  source: string,
  confidence: Price['confidence'] = 'list',
  note?: string,
  asOf: string = AS_OF,
): Price {
  return note === undefined
    ? { usd, unit, source, asOf, confidence }
    : { usd, unit, source, asOf, confidence, note };
}

const EPU_NOTE =
  'MSK/Kafka mapping in provisioned mode; billed per second (1-minute minimum) for the EPUs in use, ' +
  'at least those of the minimum pollers; autoscaling above them is usage';

const VALKEY_NOTE = 'Valkey node-based = Redis OSS price − 20 %';

/** Region-independent prices (the same list price in every commercial region listed). */
function globalPrices(): Pick<
  RegionPrices,
  | 'kmsKeyMonth'
  | 'secretMonth'
  | 'alarmStandardMetricMonth'
  | 'alarmHighResMetricMonth'
  | 'compositeAlarmMonth'
  | 'dashboardMonth'
  | 'budgetDay'
  | 'publicIpv4Hour'
  | 'lambdaGbSecond'
  | 'lambdaRequest'
> {
  return {
    // The same in US East (N. Virginia) and Europe (Ireland).
    lambdaGbSecond: {
      arm64: p(0.0000133334, 'GB-second', P.lambdaDuration, 'list', undefined, AS_OF_LAMBDA),
      x86_64: p(0.0000166667, 'GB-second', P.lambdaDuration, 'list', undefined, AS_OF_LAMBDA),
    },
    lambdaRequest: p(0.0000002, 'request', P.lambdaDuration, 'list', '$0.20 per 1M', AS_OF_LAMBDA),
    kmsKeyMonth: p(1, 'month', P.kms, 'list', 'customer managed key; API requests usage-based'),
    secretMonth: p(0.4, 'month', P.secrets, 'list', 'per secret; API calls $0.05/10k'),
    alarmStandardMetricMonth: p(0.1, 'metric-month', P.cw),
    alarmHighResMetricMonth: p(0.3, 'metric-month', P.cw),
    compositeAlarmMonth: p(0.5, 'month', P.cw),
    dashboardMonth: p(3, 'month', P.cw, 'list', 'first 3 dashboards per account are free'),
    budgetDay: p(
      0.1,
      'day',
      P.budgets,
      'approximate',
      'rate of an action-enabled budget beyond the first two; verify for plain budgets',
    ),
    publicIpv4Hour: p(0.005, 'hour', P.vpc),
  };
}

export const PRICES: Readonly<Record<string, RegionPrices>> = {
  'us-east-1': {
    mskBrokerHour: {
      'kafka.t3.small': p(0.0456, 'hour', P.msk),
      'kafka.m5.large': p(0.21, 'hour', P.msk),
      'kafka.m7g.large': p(0.204, 'hour', P.msk),
    },
    mskStorageGbMonth: p(0.1, 'GB-month', P.msk),
    rdsPostgresInstanceHour: {
      'db.t4g.micro': p(0.016, 'hour', P.rds),
      'db.t4g.small': p(0.032, 'hour', P.rds),
      'db.t4g.medium': p(0.065, 'hour', P.rds),
      'db.r6g.large': p(0.225, 'hour', P.rds),
    },
    rdsStorageGbMonth: {
      gp2: p(0.115, 'GB-month', P.rds),
      gp3: p(0.115, 'GB-month', P.rds, 'list', 'baseline 3,000 IOPS / 125 MiB/s included'),
    },
    rdsProxyVcpuHour: p(0.015, 'vCPU-hour', P.proxy),
    elastiCacheNodeHour: {
      redis: {
        'cache.t4g.micro': p(0.016, 'hour', P.cache),
        'cache.t4g.small': p(0.032, 'hour', P.cache),
      },
      valkey: {
        'cache.t4g.micro': p(0.0128, 'hour', P.cache, 'list', VALKEY_NOTE),
        'cache.t4g.small': p(0.0256, 'hour', P.cache, 'list', VALKEY_NOTE),
      },
    },
    natGatewayHour: p(0.045, 'hour', P.vpc, 'list', 'plus $0.045/GB processed (usage)'),
    interfaceEndpointAzHour: p(0.01, 'hour', P.privatelink, 'list', 'plus $0.01/GB (usage)'),
    // "Cost per EPU: $0.185/hour in US East (N. Virginia)" (Lambda developer guide, Kafka scaling
    // modes, cost optimization example); "EPU charges = 800 EPU-hours * $0.185" (pricing page,
    // pricing example 1, US East (N. Virginia)).
    esmEventPollerUnitHour: p(0.185, 'EPU-hour', P.lambda, 'list', EPU_NOTE, AS_OF_EPU),
    ...globalPrices(),
  },
  'eu-west-1': {
    mskBrokerHour: {
      'kafka.t3.small': p(0.05, 'hour', P.msk, 'approximate'),
      'kafka.m5.large': p(0.236, 'hour', P.msk, 'approximate'),
      'kafka.m7g.large': p(0.23, 'hour', P.msk, 'approximate'),
    },
    mskStorageGbMonth: p(0.11, 'GB-month', P.msk),
    rdsPostgresInstanceHour: {
      'db.t4g.micro': p(0.018, 'hour', P.rds),
      'db.t4g.small': p(0.036, 'hour', P.rds),
      'db.t4g.medium': p(0.072, 'hour', P.rds),
      'db.r6g.large': p(0.25, 'hour', P.rds, 'approximate'),
    },
    rdsStorageGbMonth: {
      gp2: p(0.127, 'GB-month', P.rds),
      gp3: p(0.127, 'GB-month', P.rds, 'list', 'baseline 3,000 IOPS / 125 MiB/s included'),
    },
    rdsProxyVcpuHour: p(0.0165, 'vCPU-hour', P.proxy, 'approximate'),
    elastiCacheNodeHour: {
      redis: {
        'cache.t4g.micro': p(0.0176, 'hour', P.cache),
        'cache.t4g.small': p(0.0352, 'hour', P.cache),
      },
      valkey: {
        'cache.t4g.micro': p(0.01408, 'hour', P.cache, 'list', VALKEY_NOTE),
        'cache.t4g.small': p(0.02816, 'hour', P.cache, 'list', VALKEY_NOTE),
      },
    },
    natGatewayHour: p(0.048, 'hour', P.vpc, 'list', 'plus $0.048/GB processed (usage)'),
    interfaceEndpointAzHour: p(0.011, 'hour', P.privatelink, 'list', 'plus $0.01/GB (usage)'),
    // No AWS-published EU (Ireland) EPU figure was found (the pricing page renders its region
    // table client-side; its worked examples and the developer guide quote US East only): the
    // us-east-1 rate, to verify with the Price List API (AWSLambda, "Event-Poller-Unit-Hours").
    esmEventPollerUnitHour: p(
      0.185,
      'EPU-hour',
      P.lambda,
      'approximate',
      `${EPU_NOTE}; us-east-1 rate, no EU (Ireland) figure found: verify`,
      AS_OF_EPU,
    ),
    ...globalPrices(),
  },
};

/** The distinct `asOf` dates of a region's table, oldest first. */
export function asOfDates(prices: RegionPrices): string[] {
  const dates = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v !== 'object' || v === null) return;
    if ('usd' in v && 'asOf' in v) dates.add(String((v as Price).asOf));
    else for (const x of Object.values(v)) walk(x);
  };
  walk(prices);
  return [...dates].sort();
}

/** Reference monthly cost of the container-based original (docs/ARCHITECTURE.md §4). */
export const REFERENCE_DEPLOYMENT = {
  totalUsd: 1085,
  kubernetesComputeUsd: 340,
  byService: { streaming: 420, data: 280, cache: 45 } as Readonly<Record<string, number>>,
  note: 'container-based original; Lambda replaces the $340 of Kubernetes compute',
} as const;

export function pricesFor(region: string): RegionPrices {
  const prices = PRICES[region];
  if (!prices) {
    throw new Error(
      `no price table for region ${region} (have: ${Object.keys(PRICES).join(', ')})`,
    );
  }
  return prices;
}
