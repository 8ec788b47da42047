import { describe, expect, it } from 'vitest';
import {
  connectorProperties,
  debeziumSettings,
  LOGICAL_SETTINGS,
  log4j2Properties,
  renderProperties,
  workerProperties,
} from '../../../../tools/verification/bench/peers/debezium-config';
import { settingOptions } from '../../../../tools/verification/drill/services/postgres';

const connector = connectorProperties({
  name: 'outbox-r1',
  host: '127.0.0.1',
  port: 40001,
  user: 'postgres',
  database: 'peers_debezium_r1',
  slotName: 'dbz_r1',
  publicationName: 'dbz_r1',
  topicPrefix: 'peers_r1',
  topic: 'peers-r1-debezium',
});

const worker = workerProperties({
  bootstrapServers: '127.0.0.1:9092',
  restPort: 38083,
  offsetsFile: '/tmp/run/offsets.dat',
  pluginPath: '/cache/debezium/3.6.1.Final/plugins',
});

describe('Debezium connector properties', () => {
  it('streams the outbox table only, through pgoutput and a filtered, insert-only publication', () => {
    expect(connector['connector.class']).toBe('io.debezium.connector.postgresql.PostgresConnector');
    expect(connector['plugin.name']).toBe('pgoutput');
    expect(connector['publication.autocreate.mode']).toBe('filtered');
    expect(connector['table.include.list']).toBe('public.outbox');
    expect(connector['skipped.operations']).toBe('u,d,t');
    expect(connector['slot.name']).toBe('dbz_r1');
    expect(connector['database.dbname']).toBe('peers_debezium_r1');
    expect(connector['database.port']).toBe('40001');
  });

  it('takes no snapshot and emits no tombstones', () => {
    expect(connector['snapshot.mode']).toBe('no_data');
    expect(connector['tombstones.on.delete']).toBe('false');
    expect(connector['transforms.outbox.route.tombstone.on.empty.payload']).toBe('false');
  });

  it('keeps the queue larger than a batch and polls at a short interval', () => {
    expect(Number(connector['max.queue.size'])).toBeGreaterThan(
      Number(connector['max.batch.size']),
    );
    expect(Number(connector['poll.interval.ms'])).toBeLessThanOrEqual(10);
  });

  it('routes every outbox row to the one topic with the outbox columns as id, key and value', () => {
    expect(connector.transforms).toBe('outbox');
    expect(connector['transforms.outbox.type']).toBe('io.debezium.transforms.outbox.EventRouter');
    expect(connector['transforms.outbox.table.field.event.id']).toBe('id');
    expect(connector['transforms.outbox.table.field.event.key']).toBe('aggregate_id');
    expect(connector['transforms.outbox.table.field.event.payload']).toBe('payload');
    // A fixed name: no ${routedByValue} placeholder, so all events share the topic.
    expect(connector['transforms.outbox.route.topic.replacement']).toBe('peers-r1-debezium');
    // The router reads this column on every record: it must exist in the outbox table.
    expect(connector['transforms.outbox.route.by.field']).toBe('event_type');
  });

  it('puts the event id and type in headers under the relay header names', () => {
    const placement = (connector['transforms.outbox.table.fields.additional.placement'] ?? '')
      .split(',')
      .sort();
    expect(placement).toEqual(['event_type:header:eventType', 'id:header:eventId']);
  });

  it('rejects slot and publication names PostgreSQL would not take unquoted', () => {
    const base = {
      name: 'n',
      host: 'h',
      port: 1,
      user: 'u',
      database: 'd',
      publicationName: 'ok',
      topicPrefix: 'p',
      topic: 't',
    };
    expect(() => connectorProperties({ ...base, slotName: 'Bad-Slot' })).toThrow(/slot name/);
    expect(() =>
      connectorProperties({ ...base, slotName: 'ok', publicationName: 'x;drop' }),
    ).toThrow(/publication name/);
  });
});

describe('Connect worker properties', () => {
  it('writes key and value as strings (the payload JSON text as is)', () => {
    expect(worker['key.converter']).toBe('org.apache.kafka.connect.storage.StringConverter');
    expect(worker['value.converter']).toBe('org.apache.kafka.connect.storage.StringConverter');
  });

  it('produces like the relay: acks=all, idempotent, at most 5 in flight', () => {
    expect(worker['producer.acks']).toBe('all');
    expect(worker['producer.enable.idempotence']).toBe('true');
    expect(worker['producer.max.in.flight.requests.per.connection']).toBe('5');
    expect(Number(worker['producer.batch.size'])).toBeGreaterThan(16_384);
  });

  it('listens on the given port, keeps offsets in the run file and loads the plugin path', () => {
    expect(worker.listeners).toBe('http://127.0.0.1:38083');
    expect(worker['offset.storage.file.filename']).toBe('/tmp/run/offsets.dat');
    expect(worker['plugin.path']).toBe('/cache/debezium/3.6.1.Final/plugins');
    expect(worker['bootstrap.servers']).toBe('127.0.0.1:9092');
    expect(Number(worker['offset.flush.interval.ms'])).toBeLessThan(60_000);
  });
});

describe('debeziumSettings (for the report)', () => {
  it('keeps the tuning, router, converter and producer settings, not the endpoints', () => {
    const settings = debeziumSettings(connector, worker);
    expect(settings['poll.interval.ms']).toBe(connector['poll.interval.ms']);
    expect(settings['transforms.outbox.table.field.event.key']).toBe('aggregate_id');
    expect(settings['producer.acks']).toBe('all');
    expect(settings['value.converter']).toBe('org.apache.kafka.connect.storage.StringConverter');
    expect(settings).not.toHaveProperty('database.hostname');
    expect(settings).not.toHaveProperty('listeners');
  });
});

describe('renderProperties and log4j2', () => {
  it('writes one key=value line per property after a comment', () => {
    expect(renderProperties({ a: '1', 'b.c': 'x y' }, 'header')).toBe('# header\na=1\nb.c=x y\n');
  });

  it('refuses values a .properties reader would change', () => {
    expect(() => renderProperties({ a: 'line\nbreak' }, 'h')).toThrow(/cannot be written/);
    expect(() => renderProperties({ a: 'C:\\dir' }, 'h')).toThrow(/cannot be written/);
    expect(() => renderProperties({ 'a b': 'v' }, 'h')).toThrow(/cannot be written/);
  });

  it('logs WARN and above to the given file only', () => {
    const log = log4j2Properties('/tmp/run/connect.log');
    expect(log['rootLogger.level']).toBe('warn');
    expect(log['appender.file.fileName']).toBe('/tmp/run/connect.log');
    expect(log['rootLogger.appenderRef.file.ref']).toBe(log['appender.file.name']);
    expect(Object.values(log)).not.toContain('Console');
  });
});

describe('private PostgreSQL server settings', () => {
  it('passes logical decoding settings as -c options', () => {
    const options = settingOptions(LOGICAL_SETTINGS);
    expect(options).toContain(' -c wal_level=logical');
    expect(options).toContain(' -c max_replication_slots=');
    expect(options).toContain(' -c max_wal_senders=');
  });

  it('adds nothing without settings and rejects what pg_ctl -o cannot carry', () => {
    expect(settingOptions()).toBe('');
    expect(() => settingOptions({ wal_level: 'logical -c fsync=off' })).toThrow(/one word/);
    expect(() => settingOptions({ "x'": 'on' })).toThrow(/bad server setting name/);
  });
});
