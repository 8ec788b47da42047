/**
 * Pure, table-driven monthly cost estimate of synthesized CloudFormation resources.
 * Every resource ends in exactly one of: a priced line item (hourly/storage/fixed), a
 * usage-based line ($0 at idle), the free list, or the unpriced list — never silently zero.
 */
import {
  ANOMALY_DETECTION_METRICS,
  FREE_BUDGETS,
  HOURS_PER_MONTH,
  KAFKA_POLLERS_PER_EPU,
  type Price,
  pricesFor,
  RDS_PROXY_MIN_VCPUS,
  RDS_VCPUS,
  type RegionPrices,
} from './prices';

export interface ResourceInput {
  readonly stack: string;
  readonly logicalId: string;
  readonly type: string;
  readonly properties: Record<string, unknown>;
}

export type Basis = 'hourly' | 'storage' | 'fixed' | 'usage';

export interface LineItem {
  readonly service: string;
  readonly stack: string;
  readonly logicalId: string;
  readonly type: string;
  readonly monthlyUsd: number;
  readonly basis: Basis;
  readonly detail: string;
  /** True when a price used is marked `approximate` in the table. */
  readonly approximate: boolean;
}

export interface Unpriced {
  readonly service: string;
  readonly stack: string;
  readonly logicalId: string;
  readonly type: string;
  readonly reason: string;
}

export interface FreeResource {
  readonly service: string;
  readonly stack: string;
  readonly logicalId: string;
  readonly type: string;
}

export interface Estimate {
  readonly region: string;
  readonly lineItems: LineItem[];
  readonly unpriced: Unpriced[];
  readonly free: FreeResource[];
  /** Monthly USD per Service tag (priced items only). */
  readonly byService: Record<string, number>;
  readonly totalUsd: number;
}

type Json = Record<string, unknown>;
type Outcome =
  | { kind: 'item'; monthlyUsd: number; basis: Basis; detail: string; prices: Price[] }
  | { kind: 'unpriced'; reason: string }
  | { kind: 'free' };

interface Context {
  readonly prices: RegionPrices;
  /** Resources by `${stack}/${logicalId}`. */
  readonly byId: ReadonlyMap<string, ResourceInput>;
  readonly all: readonly ResourceInput[];
  /** Provisioned-mode Kafka mappings by `${stack}/${logicalId}`: the poller group each is in. */
  readonly pollerGroups: ReadonlyMap<string, PollerGroup>;
}

type Handler = (r: ResourceInput, ctx: Context) => Outcome[];

// ---------- helpers ----------

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A literal number (CloudFormation often renders numbers as strings); undefined for tokens. */
export function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A literal boolean (CloudFormation also takes "true"/"false"); undefined for tokens. */
function literalBool(v: unknown): boolean | undefined {
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  return undefined;
}

/** A CloudFormation intrinsic (`{ Ref }`, `{ 'Fn::If': … }`) in place of a literal object. */
function isIntrinsic(v: Json): boolean {
  const keys = Object.keys(v);
  return keys.length === 1 && (keys[0] === 'Ref' || (keys[0]?.startsWith('Fn::') ?? false));
}

/** Logical ids referenced by `{ Ref: id }` anywhere inside a value. */
function refsIn(v: unknown): string[] {
  if (Array.isArray(v)) return v.flatMap(refsIn);
  if (!isObject(v)) return [];
  if (typeof v.Ref === 'string') return [v.Ref];
  return Object.values(v).flatMap(refsIn);
}

/** The value of the `Service` cost tag, whether tags render as a list or a map. */
export function serviceTag(properties: Json): string | undefined {
  const tags = properties.Tags ?? properties.tags ?? properties.ResourceTags;
  if (Array.isArray(tags)) {
    for (const t of tags) if (isObject(t) && t.Key === 'Service') return str(t.Value);
    return undefined;
  }
  return isObject(tags) ? str(tags.Service) : undefined;
}

/** `$1234.57`: the money format of the cost tables (`npm run cost`, `npm run cost:review`). */
export const money = (n: number): string => `$${n.toFixed(2)}`;
export const pad = (s: string, n: number): string => s.padEnd(n);
export const lpad = (s: string, n: number): string => s.padStart(n);

function usd(n: number): string {
  return `$${n
    .toFixed(n < 1 ? 4 : 3)
    .replace(/0+$/, '')
    .replace(/\.$/, '')}`;
}

function hourly(price: Price, multiplier: number, what: string): Outcome {
  return {
    kind: 'item',
    monthlyUsd: price.usd * HOURS_PER_MONTH * multiplier,
    basis: 'hourly',
    detail: `${what} × ${usd(price.usd)}/${price.unit} × ${HOURS_PER_MONTH} h`,
    prices: [price],
  };
}

function storage(price: Price, gb: number, what: string): Outcome {
  return {
    kind: 'item',
    monthlyUsd: price.usd * gb,
    basis: 'storage',
    detail: `${what} = ${gb} GB-month × ${usd(price.usd)}/GB-month`,
    prices: [price],
  };
}

function fixed(price: Price, count: number, what: string): Outcome {
  return {
    kind: 'item',
    monthlyUsd: price.usd * count,
    basis: 'fixed',
    detail: `${what} × ${usd(price.usd)}/${price.unit}`,
    prices: [price],
  };
}

function usage(detail: string): Outcome {
  return {
    kind: 'item',
    monthlyUsd: 0,
    basis: 'usage',
    detail: `usage-based, $0 at idle: ${detail}`,
    prices: [],
  };
}

function unpriced(reason: string): Outcome {
  return { kind: 'unpriced', reason };
}

const FREE: Handler = () => [{ kind: 'free' }];

// ---------- handlers ----------

const msk: Handler = (r, { prices }) => {
  const info = isObject(r.properties.BrokerNodeGroupInfo) ? r.properties.BrokerNodeGroupInfo : {};
  const instanceType = str(info.InstanceType);
  const brokers = num(r.properties.NumberOfBrokerNodes);
  if (!instanceType || brokers === undefined)
    return [unpriced('broker type or count is not a literal')];
  const out: Outcome[] = [];
  const brokerPrice = prices.mskBrokerHour[instanceType];
  out.push(
    brokerPrice
      ? hourly(brokerPrice, brokers, `${brokers} × ${instanceType}`)
      : unpriced(`no MSK broker price for ${instanceType}`),
  );
  const storageInfo = isObject(info.StorageInfo) ? info.StorageInfo : {};
  const ebs = isObject(storageInfo.EBSStorageInfo) ? storageInfo.EBSStorageInfo : {};
  const volume = num(ebs.VolumeSize);
  out.push(
    volume === undefined
      ? unpriced('broker VolumeSize is not a literal')
      : storage(prices.mskStorageGbMonth, volume * brokers, `${brokers} brokers × ${volume} GB`),
  );
  return out;
};

function rdsSource(r: ResourceInput, ctx: Context): ResourceInput | undefined {
  if (r.properties.SourceDBInstanceIdentifier === undefined) return undefined;
  for (const id of refsIn(r.properties.SourceDBInstanceIdentifier)) {
    const source = ctx.byId.get(`${r.stack}/${id}`);
    if (source?.type === 'AWS::RDS::DBInstance') return source;
  }
  return undefined;
}

const rdsInstance: Handler = (r, ctx) => {
  const isReplica = r.properties.SourceDBInstanceIdentifier !== undefined;
  const source = rdsSource(r, ctx);
  if (isReplica && !source)
    return [unpriced('read replica whose source instance is not in the stack')];
  const engine = str(r.properties.Engine) ?? str(source?.properties.Engine);
  if (engine !== undefined && engine !== 'postgres')
    return [unpriced(`engine ${engine} not in the price table`)];
  const klass = str(r.properties.DBInstanceClass);
  // A Multi-AZ instance bills its standby's instance-hours and storage as well: twice Single-AZ
  // ("On-Demand DB instances for Amazon RDS", Multi-AZ DB instances, Amazon RDS User Guide).
  // Absent means Single-AZ; a token could be either, so it is not guessed.
  const multiAz = r.properties.MultiAZ === undefined ? false : literalBool(r.properties.MultiAZ);
  if (multiAz === undefined) return [unpriced('MultiAZ is not a literal')];
  const factor = multiAz ? 2 : 1;
  const az = multiAz ? ' × 2 (Multi-AZ)' : '';
  const role = isReplica ? `read replica of ${source?.logicalId}, ` : '';
  const out: Outcome[] = [];
  const instancePrice = klass ? ctx.prices.rdsPostgresInstanceHour[klass] : undefined;
  out.push(
    instancePrice && klass
      ? hourly(instancePrice, factor, `${role}${klass}${az}`)
      : unpriced(`no RDS PostgreSQL price for ${klass ?? 'a non-literal class'}`),
  );
  const size = num(r.properties.AllocatedStorage) ?? num(source?.properties.AllocatedStorage);
  const storageType = str(r.properties.StorageType) ?? str(source?.properties.StorageType) ?? 'gp2';
  const storagePrice = ctx.prices.rdsStorageGbMonth[storageType];
  if (size === undefined) out.push(unpriced('allocated storage is not a literal'));
  else if (!storagePrice) out.push(unpriced(`no RDS storage price for ${storageType}`));
  else out.push(storage(storagePrice, size * factor, `${storageType} ${size} GB${az}`));
  return out;
};

const rdsProxy: Handler = (r, ctx) => {
  const groups = ctx.all.filter(
    (g) =>
      g.stack === r.stack &&
      g.type === 'AWS::RDS::DBProxyTargetGroup' &&
      refsIn(g.properties.DBProxyName).includes(r.logicalId),
  );
  const targets = groups.flatMap((g) => refsIn(g.properties.DBInstanceIdentifiers));
  if (targets.length === 0) return [unpriced('no target instance found for the proxy')];
  let vcpus = 0;
  for (const id of targets) {
    const klass = str(ctx.byId.get(`${r.stack}/${id}`)?.properties.DBInstanceClass);
    const n = klass ? RDS_VCPUS[klass] : undefined;
    if (n === undefined) return [unpriced(`vCPU count of target ${id} (${klass}) unknown`)];
    vcpus += n;
  }
  const billed = Math.max(vcpus, RDS_PROXY_MIN_VCPUS);
  return [
    hourly(
      ctx.prices.rdsProxyVcpuHour,
      billed,
      `${billed} vCPU (targets: ${vcpus}, minimum ${RDS_PROXY_MIN_VCPUS})`,
    ),
  ];
};

function cacheNodes(
  engineRaw: unknown,
  nodeType: unknown,
  nodes: number | undefined,
  ctx: Context,
): Outcome[] {
  const engine = (str(engineRaw) ?? 'redis').toLowerCase();
  const type = str(nodeType);
  if (engine !== 'redis' && engine !== 'valkey')
    return [unpriced(`engine ${engine} not in the price table`)];
  if (!type || nodes === undefined) return [unpriced('node type or node count is not a literal')];
  const price = ctx.prices.elastiCacheNodeHour[engine][type];
  if (!price) return [unpriced(`no ElastiCache ${engine} price for ${type}`)];
  return [hourly(price, nodes, `${nodes} × ${type} (${engine})`)];
}

const replicationGroup: Handler = (r, ctx) => {
  const p = r.properties;
  let nodes = num(p.NumCacheClusters);
  if (nodes === undefined && p.NumNodeGroups !== undefined) {
    const groups = num(p.NumNodeGroups);
    const replicas = num(p.ReplicasPerNodeGroup ?? 0);
    nodes = groups !== undefined && replicas !== undefined ? groups * (replicas + 1) : undefined;
  }
  if (nodes === undefined && p.NumCacheClusters === undefined && p.NumNodeGroups === undefined)
    nodes = 1;
  return cacheNodes(p.Engine, p.CacheNodeType, nodes, ctx);
};

const cacheCluster: Handler = (r, ctx) =>
  cacheNodes(
    r.properties.Engine,
    r.properties.CacheNodeType,
    num(r.properties.NumCacheNodes ?? 1),
    ctx,
  );

const vpcEndpoint: Handler = (r, { prices }) => {
  // CloudFormation's default VpcEndpointType is Gateway.
  const type = str(r.properties.VpcEndpointType) ?? 'Gateway';
  // Gateway endpoints (S3, DynamoDB) cost nothing: "There is no additional charge for using
  // gateway endpoints." (Amazon VPC, AWS PrivateLink guide, "Gateway endpoints" → Pricing,
  // https://docs.aws.amazon.com/vpc/latest/privatelink/gateway-endpoints.html, read 2026-12-03).
  // Traffic through them is billed by the target service (S3 requests), not by the endpoint.
  if (type === 'Gateway') return [{ kind: 'free' }];
  if (type !== 'Interface') return [unpriced(`endpoint type ${type} not in the price table`)];
  const subnets = r.properties.SubnetIds;
  if (!Array.isArray(subnets)) return [unpriced('SubnetIds is not a literal list')];
  const service = str(r.properties.ServiceName)?.split('.').pop() ?? 'interface';
  return [
    hourly(prices.interfaceEndpointAzHour, subnets.length, `${service}: ${subnets.length} AZ`),
  ];
};

// ---------- Lambda event source mappings in provisioned mode ----------
//
// Provisioned mode bills Event Poller Units (EPU) per hour (`esmEventPollerUnitHour`), at least
// the EPUs that hold the minimum pollers; autoscaling above them is usage. Per the Lambda
// developer guide (https://docs.aws.amazon.com/lambda/latest/dg/kafka-scaling-modes.html,
// "Cost Optimization for Provisioned mode", read 2026-12-03):
// - a Kafka mapping's EPUs are provisioned from its MinimumPollers at `KAFKA_POLLERS_PER_EPU`
//   (10) pollers per EPU;
// - "When you configure the `PollerGroupName` parameter with the same value for multiple ESMs
//   within the same Amazon VPC, those ESMs share EPU resources instead of each requiring
//   dedicated EPU capacity." Its example: 10 ungrouped mappings of 1 poller need 10 EPUs
//   ("Each ESM requires its own EPU"); grouped, "10 event pollers fit in 1 EPU".
// So the EPUs billed at idle for a group (a mapping without a group name, or with "", which
// removes it from a group, is a group of its own) = max(1, ceil(Σ MinimumPollers / 10)).
// The group's cost is one line item on its first mapping (resource order), under that
// mapping's Service tag; the other members get a $0 line naming it.

export interface PollerGroup {
  /** `PollerGroupName`, or undefined for a mapping with dedicated EPUs. */
  readonly name: string | undefined;
  /** Provisioned-mode Kafka mappings in the group, in resource order (the first carries the cost). */
  readonly members: readonly ResourceInput[];
}

/** Kafka is the only event source priced here: MSK and self-managed Kafka mappings name Topics. */
function isKafkaMapping(p: Json): boolean {
  return p.Topics !== undefined || p.SelfManagedEventSource !== undefined;
}

/** `{}` turns provisioned mode off (back to on-demand), as in the UpdateEventSourceMapping API. */
function provisionedConfig(p: Json): Json | 'none' | 'not-literal' {
  const c = p.ProvisionedPollerConfig;
  if (c === undefined) return 'none';
  if (!isObject(c) || isIntrinsic(c)) return 'not-literal';
  return Object.keys(c).length === 0 ? 'none' : c;
}

/** The poller groups of the provisioned-mode Kafka mappings whose group is a literal. */
export function pollerGroups(resources: readonly ResourceInput[]): Map<string, PollerGroup> {
  const groups = new Map<string, { name: string | undefined; members: ResourceInput[] }>();
  const byMapping = new Map<string, PollerGroup>();
  for (const r of resources) {
    if (r.type !== 'AWS::Lambda::EventSourceMapping' || !isKafkaMapping(r.properties)) continue;
    const config = provisionedConfig(r.properties);
    if (!isObject(config)) continue;
    const raw = config.PollerGroupName;
    if (raw !== undefined && typeof raw !== 'string') continue; // a token: unpriced
    const id = `${r.stack}/${r.logicalId}`;
    const name = raw === undefined || raw === '' ? undefined : raw;
    const key = name === undefined ? `dedicated:${id}` : `group:${name}`;
    let group = groups.get(key);
    if (!group) {
      group = { name, members: [] };
      groups.set(key, group);
    }
    group.members.push(r);
    byMapping.set(id, group);
  }
  return byMapping;
}

const esm: Handler = (r, ctx) => {
  const config = provisionedConfig(r.properties);
  if (config === 'none') return [usage('on-demand mapping: no charge beyond the invocations')];
  if (config === 'not-literal') return [unpriced('ProvisionedPollerConfig is not a literal')];
  if (!isKafkaMapping(r.properties)) {
    return [
      unpriced(
        'provisioned mode of a non-Kafka event source (SQS: one poller per EPU, another price) not in the price table',
      ),
    ];
  }
  const group = ctx.pollerGroups.get(`${r.stack}/${r.logicalId}`);
  if (!group)
    return [unpriced('PollerGroupName is not a literal: cannot tell which mappings share EPUs')];
  const [first] = group.members;
  const label = group.name === undefined ? 'dedicated EPUs' : `poller group "${group.name}"`;
  const mins = group.members.map((m) => {
    const c = provisionedConfig(m.properties);
    // MSK and self-managed Kafka mappings default to 1 minimum poller.
    return { m, min: isObject(c) ? num(c.MinimumPollers ?? 1) : undefined };
  });
  const unknown = mins.filter((x) => x.min === undefined).map((x) => x.m.logicalId);
  if (unknown.length > 0) {
    return [unpriced(`${label}: MinimumPollers of ${unknown.join(', ')} is not a literal`)];
  }
  if (first !== r) {
    return [
      {
        kind: 'item',
        monthlyUsd: 0,
        basis: 'hourly',
        detail: `shares the EPUs of ${label}, priced on ${first?.stack}/${first?.logicalId}`,
        prices: [],
      },
    ];
  }
  const pollers = mins.reduce((s, x) => s + (x.min ?? 0), 0);
  const epus = Math.max(1, Math.ceil(pollers / KAFKA_POLLERS_PER_EPU));
  const n = group.members.length;
  const what =
    group.name === undefined
      ? `${epus} EPU (dedicated: ${pollers} minimum poller${pollers === 1 ? '' : 's'}, ${KAFKA_POLLERS_PER_EPU} per EPU)`
      : `${epus} EPU (${label}: ${n} mapping${n === 1 ? '' : 's'}, ${pollers} minimum poller${pollers === 1 ? '' : 's'}, ${KAFKA_POLLERS_PER_EPU} per EPU)`;
  return [hourly(ctx.prices.esmEventPollerUnitHour, epus, what)];
};

/** Alarm metrics per the CloudWatch pricing page: one per metric an alarm evaluates. */
export function alarmMetrics(p: Json): { count: number; highRes: boolean } {
  const metrics = p.Metrics;
  if (!Array.isArray(metrics)) {
    const period = num(p.Period);
    return { count: 1, highRes: period !== undefined && period < 60 };
  }
  let count = 0;
  let highRes = false;
  for (const m of metrics) {
    if (!isObject(m)) continue;
    if (isObject(m.MetricStat)) {
      count += 1;
      const period = num(m.MetricStat.Period);
      if (period !== undefined && period < 60) highRes = true;
    } else if (typeof m.Expression === 'string' && /ANOMALY_DETECTION_BAND/i.test(m.Expression)) {
      count += ANOMALY_DETECTION_METRICS;
    }
    const period = num(m.Period);
    if (period !== undefined && period < 60) highRes = true;
  }
  return { count: Math.max(count, 1), highRes };
}

const alarm: Handler = (r, { prices }) => {
  const { count, highRes } = alarmMetrics(r.properties);
  const price = highRes ? prices.alarmHighResMetricMonth : prices.alarmStandardMetricMonth;
  const kind = highRes ? 'high-resolution' : 'standard';
  return [fixed(price, count, `${count} ${kind} alarm metric${count === 1 ? '' : 's'}`)];
};

// ---------- Lambda functions a schedule keeps running ----------
//
// A function is usage-based ($0 at idle) unless a schedule keeps it running: the outbox relay
// is invoked every minute by an EventBridge rule and loops until just before its timeout, which
// equals the period, so it runs and bills all month whatever the traffic. Such a function (a
// literal rate() rule targeting it, timeout at least the period) is priced at memory × timeout
// per invocation, an upper bound (it stops its stop margin early), plus its requests.

/** Minutes of a literal `rate(N minute|minutes|hour|hours|day|days)` schedule. */
export function rateMinutes(expression: unknown): number | undefined {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(str(expression) ?? '');
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? '';
  const factor = unit.startsWith('minute') ? 1 : unit.startsWith('hour') ? 60 : 1_440;
  return n > 0 ? n * factor : undefined;
}

/** The periods (minutes) of the literal rate() rules of the function's stack that target it. */
function schedulesOf(fn: ResourceInput, all: readonly ResourceInput[]): number[] {
  const targetsFn = (t: unknown) =>
    isObject(t) &&
    isObject(t.Arn) &&
    Array.isArray(t.Arn['Fn::GetAtt']) &&
    t.Arn['Fn::GetAtt'][0] === fn.logicalId;
  return all.flatMap((r) => {
    if (r.type !== 'AWS::Events::Rule' || r.stack !== fn.stack) return [];
    if (r.properties.State === 'DISABLED') return [];
    const minutes = rateMinutes(r.properties.ScheduleExpression);
    const targets = Array.isArray(r.properties.Targets) ? r.properties.Targets : [];
    return minutes !== undefined && targets.some(targetsFn) ? [minutes] : [];
  });
}

const lambdaFunction: Handler = (r, { prices, all }) => {
  // CloudFormation's defaults: 3 s, 128 MB, x86_64.
  const timeout = num(r.properties.Timeout) ?? 3;
  const memoryMb = num(r.properties.MemorySize) ?? 128;
  const period = schedulesOf(r, all)
    .filter((minutes) => timeout >= minutes * 60)
    .sort((a, b) => a - b)[0];
  if (period === undefined) return [usage('requests + GB-seconds')];
  const arch =
    Array.isArray(r.properties.Architectures) && r.properties.Architectures[0] === 'arm64';
  const duration = prices.lambdaGbSecond[arch ? 'arm64' : 'x86_64'];
  const invocations = (HOURS_PER_MONTH * 60) / period;
  const gbSeconds = (memoryMb / 1024) * timeout * invocations;
  return [
    {
      kind: 'item',
      monthlyUsd: gbSeconds * duration.usd + invocations * prices.lambdaRequest.usd,
      basis: 'hourly',
      detail:
        `runs all the time (every ${period} min, up to its ${timeout} s timeout): ` +
        `${memoryMb} MB × ${timeout} s × ${Math.round(invocations)} invocations = ` +
        `${Math.round(gbSeconds)} GB-s × $${duration.usd}/GB-second ` +
        `+ requests × $${(prices.lambdaRequest.usd * 1e6).toFixed(2)} per million`,
      prices: [duration, prices.lambdaRequest],
    },
  ];
};

const USAGE_NOTES: Readonly<Record<string, string>> = {
  'AWS::Logs::LogGroup': 'ingestion per GB + storage per GB-month',
  'AWS::EC2::FlowLog': 'vended-log ingestion per GB',
  'AWS::SNS::Topic': 'per publish and delivery',
  'AWS::SQS::Queue': 'per request (first 1M/month free)',
  // "Pay only for what you use. There is no minimum charge." (https://aws.amazon.com/s3/pricing/)
  'AWS::S3::Bucket': 'storage per GB-month + requests; no minimum charge',
  'AWS::ApiGatewayV2::Api': 'per request',
  'AWS::ApiGateway::RestApi': 'per request',
  'AWS::Events::Rule': 'scheduled and AWS-service events are free; custom events per event',
  'AWS::Events::EventBus': 'per custom event',
  'AWS::SecretsManager::RotationSchedule': 'rotation Lambda invocations',
  'AWS::CloudFormation::CustomResource': 'provider Lambda invoked at deploy time',
};

const FREE_TYPES = [
  'AWS::CDK::Metadata',
  'AWS::EC2::VPC',
  'AWS::EC2::Subnet',
  'AWS::EC2::RouteTable',
  'AWS::EC2::Route',
  'AWS::EC2::SubnetRouteTableAssociation',
  'AWS::EC2::InternetGateway',
  'AWS::EC2::VPCGatewayAttachment',
  'AWS::EC2::SecurityGroup',
  'AWS::EC2::SecurityGroupIngress',
  'AWS::EC2::SecurityGroupEgress',
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::KMS::Alias',
  'AWS::RDS::DBParameterGroup',
  'AWS::RDS::DBSubnetGroup',
  'AWS::RDS::DBProxyTargetGroup',
  'AWS::ElastiCache::SubnetGroup',
  'AWS::ElastiCache::ParameterGroup',
  'AWS::MSK::Configuration',
  'AWS::SecretsManager::SecretTargetAttachment',
  'AWS::SecretsManager::ResourcePolicy',
  'AWS::Lambda::Version',
  'AWS::Lambda::Alias',
  'AWS::Lambda::Permission',
  'AWS::SQS::QueuePolicy',
  'AWS::S3::BucketPolicy',
  'AWS::SNS::TopicPolicy',
  'AWS::SNS::Subscription',
  'AWS::ApiGatewayV2::Stage',
  'AWS::ApiGatewayV2::Integration',
  'AWS::ApiGatewayV2::Route',
  'AWS::ApiGatewayV2::Authorizer',
];

/** The price rule of every resource type the estimator knows. */
export const HANDLERS: Readonly<Record<string, Handler>> = {
  'AWS::MSK::Cluster': msk,
  'AWS::RDS::DBInstance': rdsInstance,
  'AWS::RDS::DBProxy': rdsProxy,
  'AWS::ElastiCache::ReplicationGroup': replicationGroup,
  'AWS::ElastiCache::CacheCluster': cacheCluster,
  'AWS::EC2::NatGateway': (_r, { prices }) => [hourly(prices.natGatewayHour, 1, '1 NAT gateway')],
  'AWS::EC2::EIP': (_r, { prices }) => [hourly(prices.publicIpv4Hour, 1, '1 public IPv4')],
  'AWS::EC2::VPCEndpoint': vpcEndpoint,
  'AWS::KMS::Key': (_r, { prices }) => [fixed(prices.kmsKeyMonth, 1, '1 key')],
  'AWS::SecretsManager::Secret': (_r, { prices }) => [fixed(prices.secretMonth, 1, '1 secret')],
  'AWS::CloudWatch::Alarm': alarm,
  'AWS::CloudWatch::CompositeAlarm': (_r, { prices }) => [
    fixed(prices.compositeAlarmMonth, 1, '1 composite alarm'),
  ],
  'AWS::CloudWatch::Dashboard': (_r, { prices }) => [
    fixed(prices.dashboardMonth, 1, '1 dashboard (first 3 per account free; priced anyway)'),
  ],
  'AWS::Lambda::EventSourceMapping': esm,
  'AWS::Lambda::Function': lambdaFunction,
  ...Object.fromEntries(Object.entries(USAGE_NOTES).map(([t, note]) => [t, () => [usage(note)]])),
  ...Object.fromEntries(FREE_TYPES.map((t) => [t, FREE])),
};

function handlerFor(type: string): Handler | undefined {
  const h = HANDLERS[type];
  if (h) return h;
  // Every custom resource is a deploy-time invocation of its provider Lambda.
  if (type.startsWith('Custom::')) return () => [usage('provider Lambda invoked at deploy time')];
  return undefined;
}

export function estimate(resources: readonly ResourceInput[], region: string): Estimate {
  const prices = pricesFor(region);
  const ctx: Context = {
    prices,
    all: resources,
    byId: new Map(resources.map((r) => [`${r.stack}/${r.logicalId}`, r])),
    pollerGroups: pollerGroups(resources),
  };
  const lineItems: LineItem[] = [];
  const unpricedList: Unpriced[] = [];
  const free: FreeResource[] = [];
  let budgets = 0;

  for (const r of resources) {
    const service = serviceTag(r.properties) ?? r.stack;
    const base = { service, stack: r.stack, logicalId: r.logicalId, type: r.type };
    let outcomes: Outcome[];
    if (r.type === 'AWS::Budgets::Budget') {
      budgets += 1;
      outcomes =
        budgets <= FREE_BUDGETS
          ? [
              {
                kind: 'item',
                monthlyUsd: 0,
                basis: 'fixed',
                detail: `budget ${budgets} of ${FREE_BUDGETS} free`,
                prices: [],
              },
            ]
          : [
              fixed(
                prices.budgetDay,
                HOURS_PER_MONTH / 24,
                `budget beyond the free ${FREE_BUDGETS}: ${(HOURS_PER_MONTH / 24).toFixed(2)} days`,
              ),
            ];
    } else {
      const handler = handlerFor(r.type);
      outcomes = handler ? handler(r, ctx) : [unpriced('resource type not in the price table')];
    }
    for (const o of outcomes) {
      if (o.kind === 'free') free.push(base);
      else if (o.kind === 'unpriced') unpricedList.push({ ...base, reason: o.reason });
      else
        lineItems.push({
          ...base,
          monthlyUsd: o.monthlyUsd,
          basis: o.basis,
          detail: o.detail,
          approximate: o.prices.some((p) => p.confidence === 'approximate'),
        });
    }
  }

  const byService: Record<string, number> = {};
  for (const i of lineItems) byService[i.service] = (byService[i.service] ?? 0) + i.monthlyUsd;
  for (const u of unpricedList) byService[u.service] ??= 0;
  const totalUsd = lineItems.reduce((s, i) => s + i.monthlyUsd, 0);
  return { region, lineItems, unpriced: unpricedList, free, byService, totalUsd };
}
