// Pure configuration of the Debezium peer: the Kafka Connect standalone worker, the PostgreSQL
// connector with the outbox event router, and log4j2. No I/O: unit-tested
// (test/tools/verification/bench/peers-config.test.ts).
//
// How Debezium is configured, and why (sources: the Debezium 3.6.1.Final reference,
// documentation/modules/ROOT/pages/connectors/postgresql.adoc "[PG]" and
// transformations/outbox-event-router.adoc "[OUTBOX]" at tag v3.6.1.Final; the Kafka 4.3
// Connect worker source, Worker.baseProducerConfigs "[CONNECT]"; the Kafka producer docs and
// Confluent's "optimize producer for throughput" guide "[PRODUCER]"):
// - pgoutput, the logical decoding plug-in built into PostgreSQL 10+ [PG plugin.name: the
//   default is decoderbufs, which needs a server extension].
// - A filtered publication on the outbox table only [PG publication.autocreate.mode: `filtered`
//   is recommended with pgoutput], publishing inserts only: skipped.operations=u,d,t, which the
//   connector propagates into the publication's `publish` option "so that PostgreSQL omits the
//   skipped operations from the replication stream entirely" [PG skipped.operations]. An
//   outbox only ever receives inserts the router forwards; it ignores deletes and warns on
//   updates [OUTBOX table.op.invalid.behavior].
// - snapshot.mode=no_data [PG: "never performs snapshots"; streams from the slot's creation
//   when no offset is stored]: the outbox is a queue, past rows are not events to re-send.
// - The outbox event router [OUTBOX]: event id from `id` (also copied to an `eventId` header,
//   the relay's header name), key from `aggregate_id`, value from `payload`, `event_type` as
//   an `eventType` header; route.by.field must name an existing column (the default
//   `aggregatetype` does not exist here) and route.topic.replacement has no placeholder, so
//   every event goes to the one topic. `event_type` keeps the router's per-route schema cache
//   at three entries (aggregate_id would grow it per order).
// - StringConverter for key and value: a jsonb column reaches the router as a string holding
//   the JSON text (io.debezium.data.Json), which StringConverter writes as is, so the value is
//   the payload JSON as the relay publishes it (table.expand.json.payload would turn it into a
//   Connect struct that needs JsonConverter; not needed) [OUTBOX "Expanding escaped JSON"].
// - No tombstones: tombstones.on.delete=false and route.tombstone.on.empty.payload=false.
// - max.batch.size / max.queue.size: the documented defaults (2,048 / 8,192) keep the queue
//   4× a batch, as [PG max.queue.size] requires ("always set max.queue.size larger than
//   max.batch.size"); a backlog fills every batch at once, so throughput does not wait on them.
// - poll.interval.ms: how long the connector "should wait for new change events to appear
//   before it starts processing a batch" [PG], i.e. up to 500 ms (the default) of added
//   latency whenever fewer than max.batch.size events are queued, which is always the case at
//   a fixed offered rate (ChangeEventQueue.poll waits for a full batch or the interval).
//   10 ms: the relay is woken by NOTIFY and waits for nothing, and a backlog fills batches
//   anyway, so a short interval costs only idle wake-ups.
// - Producer, through the worker's `producer.` prefix [CONNECT: Connect turns idempotence off
//   and allows one request in flight by default]: acks=all, enable.idempotence=true and 5
//   requests in flight, as the relay's idempotent producer (acks -1, ≤ 5 in flight);
//   linger.ms=5 (the Kafka 4 client default, KIP-1030; stated because older guides assume 0)
//   and batch.size=131072 [PRODUCER: 100,000–200,000 bytes for throughput, default 16,384];
//   no compression, as the relay sends none.
// - offset.flush.interval.ms=10000 (default 60,000): the connector confirms the flushed LSN to
//   the replication slot when offsets are committed, so the slot lets WAL go sooner; a
//   graceful stop commits offsets anyway.
// - plugin.path with plugin.discovery=service_load: the plugin is isolated as deployed (MSK
//   Connect custom plugin) and found through its ServiceLoader manifests without scanning.

export interface WorkerPropsInput {
  readonly bootstrapServers: string;
  readonly restPort: number;
  readonly offsetsFile: string;
  readonly pluginPath: string;
}

export interface ConnectorPropsInput {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  /** Unique per run (PostgreSQL identifier: lower case, digits, underscores). */
  readonly slotName: string;
  readonly publicationName: string;
  /** Debezium's topic.prefix (names of topics other than the routed one; none are written). */
  readonly topicPrefix: string;
  readonly topic: string;
}

export type Properties = Readonly<Record<string, string>>;

/** Debezium settings that differ from a stock connector, with the reason, for the report. */
export const DEBEZIUM_TUNING = {
  'plugin.name': 'pgoutput',
  'publication.autocreate.mode': 'filtered',
  'skipped.operations': 'u,d,t',
  'snapshot.mode': 'no_data',
  'tombstones.on.delete': 'false',
  'max.batch.size': '2048',
  'max.queue.size': '8192',
  'poll.interval.ms': '10',
} as const satisfies Properties;

export const PRODUCER_TUNING = {
  'producer.acks': 'all',
  'producer.enable.idempotence': 'true',
  'producer.max.in.flight.requests.per.connection': '5',
  'producer.linger.ms': '5',
  'producer.batch.size': '131072',
  'producer.compression.type': 'none',
} as const satisfies Properties;

export const OFFSET_FLUSH_INTERVAL_MS = 10_000;

/**
 * Server settings of the private cluster: logical decoding needs wal_level=logical (a restart
 * setting); one slot and one WAL sender per connector, with room for a leftover.
 */
export const LOGICAL_SETTINGS = {
  wal_level: 'logical',
  max_replication_slots: '4',
  max_wal_senders: '4',
} as const satisfies Properties;

export function workerProperties(input: WorkerPropsInput): Properties {
  return {
    'bootstrap.servers': input.bootstrapServers,
    'key.converter': 'org.apache.kafka.connect.storage.StringConverter',
    'value.converter': 'org.apache.kafka.connect.storage.StringConverter',
    'offset.storage.file.filename': input.offsetsFile,
    'offset.flush.interval.ms': String(OFFSET_FLUSH_INTERVAL_MS),
    listeners: `http://127.0.0.1:${input.restPort}`,
    'plugin.path': input.pluginPath,
    'plugin.discovery': 'service_load',
    ...PRODUCER_TUNING,
  };
}

export function connectorProperties(input: ConnectorPropsInput): Properties {
  for (const [what, value] of [
    ['slot name', input.slotName],
    ['publication name', input.publicationName],
  ] as const) {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(value)) throw new Error(`bad ${what} "${value}"`);
  }
  return {
    name: input.name,
    'connector.class': 'io.debezium.connector.postgresql.PostgresConnector',
    'tasks.max': '1',
    'database.hostname': input.host,
    'database.port': String(input.port),
    'database.user': input.user,
    'database.dbname': input.database,
    'topic.prefix': input.topicPrefix,
    'slot.name': input.slotName,
    'publication.name': input.publicationName,
    'table.include.list': 'public.outbox',
    ...DEBEZIUM_TUNING,
    transforms: 'outbox',
    'transforms.outbox.type': 'io.debezium.transforms.outbox.EventRouter',
    'transforms.outbox.table.field.event.id': 'id',
    'transforms.outbox.table.field.event.key': 'aggregate_id',
    'transforms.outbox.table.field.event.payload': 'payload',
    'transforms.outbox.table.fields.additional.placement':
      'id:header:eventId,event_type:header:eventType',
    'transforms.outbox.route.by.field': 'event_type',
    'transforms.outbox.route.topic.replacement': input.topic,
    'transforms.outbox.route.tombstone.on.empty.payload': 'false',
  };
}

/** The settings the report prints: connector tuning, router and worker/producer choices. */
export function debeziumSettings(
  connector: Properties,
  worker: Properties,
): Record<string, string> {
  const keep = (k: string) =>
    k in DEBEZIUM_TUNING ||
    k.startsWith('transforms.outbox.') ||
    k === 'table.include.list' ||
    k.endsWith('.converter');
  return {
    ...Object.fromEntries(Object.entries(connector).filter(([k]) => keep(k))),
    ...Object.fromEntries(
      Object.entries(worker).filter(
        ([k]) => keep(k) || k.startsWith('producer.') || k === 'offset.flush.interval.ms',
      ),
    ),
  };
}

/** log4j2 (properties syntax): WARN and above to one file, nothing on the console. */
export function log4j2Properties(logFile: string): Properties {
  return {
    status: 'warn',
    'appender.file.type': 'File',
    'appender.file.name': 'file',
    'appender.file.fileName': logFile,
    'appender.file.layout.type': 'PatternLayout',
    'appender.file.layout.pattern': '[%d] %p %m (%c)%n',
    'rootLogger.level': 'warn',
    'rootLogger.appenderRef.file.ref': 'file',
  };
}

/** A .properties file; values with a backslash, newline or leading space are rejected. */
export function renderProperties(props: Properties, header: string): string {
  const lines = [`# ${header}`];
  for (const [key, value] of Object.entries(props)) {
    if (/[\\\n\r]/.test(value) || /^\s/.test(value) || /[\s=:#!\\]/.test(key)) {
      throw new Error(`property ${key} cannot be written as is: ${JSON.stringify(value)}`);
    }
    lines.push(`${key}=${value}`);
  }
  return `${lines.join('\n')}\n`;
}
