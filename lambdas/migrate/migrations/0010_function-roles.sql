-- Up Migration
-- One login role per function with the least its statements need, and one for the operator
-- commands (npm run dlq, npm run outbox); only the migration function connects as the admin. Roles belong to the server and grants to this database, so each
-- role is created once and granted here. On RDS, `rds_iam` makes a role log in with IAM tokens
-- only: the functions reach PostgreSQL through RDS Proxy with end-to-end IAM authentication.
-- A migration that adds a table or a statement grants what the owning function needs
-- (docs/ARCHITECTURE.md, "Database roles").
DO $$
DECLARE
  fn text;
BEGIN
  FOREACH fn IN ARRAY ARRAY['order_api', 'outbox_relay', 'order_consumer', 'dlq_triage',
                            'pipeline_operator'] LOOP
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = fn) THEN
      BEGIN
        EXECUTE format('CREATE ROLE %I LOGIN', fn);
      EXCEPTION WHEN duplicate_object OR unique_violation THEN
        NULL; -- another database on this server created it at the same moment
      END;
    END IF;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN
      EXECUTE format('GRANT rds_iam TO %I', fn);
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), fn);
  END LOOP;
END $$;

GRANT USAGE ON SCHEMA public
  TO order_api, outbox_relay, order_consumer, dlq_triage, pipeline_operator;

-- Order API: places orders and appends their events; reads an order back. It never changes an
-- order row (the consumer does), so it serializes writers of one order with an advisory lock.
GRANT SELECT, INSERT ON orders TO order_api;
GRANT INSERT ON outbox TO order_api;

-- Relay: claims (FOR UPDATE needs an UPDATE grant), marks published or set aside, purges
-- published rows, and purges processed_events past their retention.
GRANT SELECT, DELETE ON outbox TO outbox_relay;
GRANT UPDATE (published_at, set_aside_at, set_aside_reason) ON outbox TO outbox_relay;
GRANT SELECT, DELETE ON processed_events TO outbox_relay;

-- Consumer: applies transitions (locks and updates the state columns; inserts an order whose
-- OrderPlaced it applies first) and records what it processed.
GRANT SELECT, INSERT ON orders TO order_consumer;
GRANT UPDATE (status, version, updated_at) ON orders TO order_consumer;
GRANT SELECT, INSERT ON processed_events TO order_consumer;

-- Triage: parks dead letters. ON CONFLICT reads the record key's columns, and only those.
GRANT INSERT ON dead_letters TO dlq_triage;
GRANT SELECT (source_topic, source_partition, source_offset, record_digest) ON dead_letters
  TO dlq_triage;

-- Operator: reads, redrives, discards and recovers dead letters; releases or discards outbox
-- rows the relay set aside. It never touches orders or processed_events, nor deletes rows.
GRANT SELECT, INSERT ON dead_letters TO pipeline_operator;
GRANT UPDATE (status, resolved_at) ON dead_letters TO pipeline_operator;
GRANT SELECT ON outbox TO pipeline_operator;
GRANT UPDATE (set_aside_at, set_aside_reason, discarded_at, discard_reason) ON outbox
  TO pipeline_operator;

-- Down Migration
-- The roles stay: other databases on the same server may still grant to them.
REVOKE ALL ON orders, outbox, processed_events, dead_letters
  FROM order_api, outbox_relay, order_consumer, dlq_triage, pipeline_operator;
REVOKE USAGE ON SCHEMA public
  FROM order_api, outbox_relay, order_consumer, dlq_triage, pipeline_operator;
DO $$
BEGIN
  EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM order_api, outbox_relay, order_consumer, '
    'dlq_triage, pipeline_operator', current_database());
END $$;
