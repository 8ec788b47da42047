-- Up Migration

-- Current state of each order. The consumer moves `status` only along the state machine
-- (CREATED -> PAYMENT_CAPTURED -> SHIPPED, CANCELLED from CREATED or PAYMENT_CAPTURED);
-- the CHECK keeps any other writer from storing an unknown state.
CREATE TABLE orders (
  id                 text        PRIMARY KEY,
  customer_id        text        NOT NULL,
  status             text        NOT NULL
    CONSTRAINT orders_status_check
    CHECK (status IN ('CREATED', 'PAYMENT_CAPTURED', 'SHIPPED', 'CANCELLED')),
  -- Money in integer minor units (cents) so sums never round.
  total_amount_minor bigint      NOT NULL CONSTRAINT orders_total_check CHECK (total_amount_minor >= 0),
  currency           char(3)     NOT NULL CONSTRAINT orders_currency_check CHECK (currency ~ '^[A-Z]{3}$'),
  -- Bumped on every applied transition; lets writers detect concurrent updates.
  version            integer     NOT NULL DEFAULT 1,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Transactional outbox: written in the same transaction as the business change, published
-- by the relay. id is the envelope's eventId; payload is the envelope published as the value.
CREATE TABLE outbox (
  id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Claim order. Sequence order approximates commit order; the relay must tolerate gaps.
  seq          bigint      GENERATED ALWAYS AS IDENTITY,
  aggregate_id text        NOT NULL,
  event_type   text        NOT NULL,
  payload      jsonb       NOT NULL CONSTRAINT outbox_payload_check CHECK (jsonb_typeof(payload) = 'object'),
  -- Kafka message headers (string values), e.g. correlationId.
  headers      jsonb       NOT NULL DEFAULT '{}'::jsonb
    CONSTRAINT outbox_headers_check CHECK (jsonb_typeof(headers) = 'object'),
  created_at   timestamptz NOT NULL DEFAULT now(),
  published_at timestamptz
);

-- The relay's claim query: unpublished rows in seq order. Partial, so it stays small.
CREATE INDEX outbox_unpublished_seq_idx ON outbox (seq) WHERE published_at IS NULL;
-- Retention deletes published rows by age.
CREATE INDEX outbox_published_at_idx ON outbox (published_at) WHERE published_at IS NOT NULL;

-- Wakes a LISTENing relay. NOTIFY is sent at commit and duplicates in one transaction merge,
-- so one notification per statement is enough; the payload is empty on purpose (the relay
-- re-reads the table, it never trusts the notification).
CREATE FUNCTION outbox_notify() RETURNS trigger
  LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('outbox', '');
  RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify_insert
  AFTER INSERT ON outbox
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Ground truth for idempotency: inserted (ON CONFLICT DO NOTHING) in the same transaction as
-- the state change. The key is the SHA-256 of aggregateId, eventType and timestamp.
CREATE TABLE processed_events (
  idempotency_key text        PRIMARY KEY,
  event_id        text        NOT NULL,
  processed_at    timestamptz NOT NULL DEFAULT now()
);

-- Retention of old keys.
CREATE INDEX processed_events_processed_at_idx ON processed_events (processed_at);

-- Messages the triage parked for a human: the original event plus the failure history.
CREATE TABLE dead_letters (
  id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- Envelope fields; null when the message was not a readable envelope.
  event_id         text,
  event_type       text,
  aggregate_id     text,
  correlation_id   text,
  error_type       text        NOT NULL
    CONSTRAINT dead_letters_error_type_check
    CHECK (error_type IN ('SCHEMA_VIOLATION', 'INVALID_TRANSITION', 'IDEMPOTENCY_CONFLICT',
                          'TRANSIENT', 'PROCESSING_FAILURE')),
  error_message    text        NOT NULL,
  -- The original message; a message that was not JSON is stored as a JSON string.
  payload          jsonb       NOT NULL,
  -- Where the original message was first consumed from.
  source_topic     text        NOT NULL,
  source_partition integer     NOT NULL,
  source_offset    bigint      NOT NULL,
  attempts         integer     NOT NULL CONSTRAINT dead_letters_attempts_check CHECK (attempts >= 1),
  redrive_count    integer     NOT NULL DEFAULT 0,
  first_failed_at  timestamptz NOT NULL,
  last_failed_at   timestamptz NOT NULL,
  parked_at        timestamptz NOT NULL DEFAULT now(),
  status           text        NOT NULL DEFAULT 'PARKED'
    CONSTRAINT dead_letters_status_check CHECK (status IN ('PARKED', 'REPLAYED', 'DISCARDED')),
  resolved_at      timestamptz,
  CONSTRAINT dead_letters_failed_order_check CHECK (last_failed_at >= first_failed_at),
  -- The dead-letter topic is at-least-once: a redelivered message must not park twice.
  CONSTRAINT dead_letters_source_key UNIQUE (source_topic, source_partition, source_offset)
);

CREATE INDEX dead_letters_error_type_parked_at_idx ON dead_letters (error_type, parked_at);
CREATE INDEX dead_letters_aggregate_id_idx ON dead_letters (aggregate_id);

-- Down Migration

DROP TABLE dead_letters;
DROP TABLE processed_events;
DROP TRIGGER outbox_notify_insert ON outbox;
DROP FUNCTION outbox_notify();
DROP TABLE outbox;
DROP TABLE orders;
