-- Up Migration
-- A row the broker refuses for good (larger than the topic's max.message.bytes, an invalid
-- record) used to fail every relay iteration, stopping every order behind it. The relay now
-- sets such a row aside with its reason; later rows of the same aggregate are held (the claim
-- skips them, so they cannot overtake it) until an operator releases or discards it
-- (`npm run outbox`). A discarded row is never published and stays for audit until retention.
ALTER TABLE outbox
  ADD COLUMN set_aside_at     timestamptz,
  ADD COLUMN set_aside_reason text,
  ADD COLUMN discarded_at     timestamptz,
  ADD COLUMN discard_reason   text,
  ADD CONSTRAINT outbox_set_aside_check CHECK (
    set_aside_at IS NULL
    OR (published_at IS NULL AND discarded_at IS NULL AND set_aside_reason IS NOT NULL)),
  ADD CONSTRAINT outbox_discarded_check CHECK (
    discarded_at IS NULL OR (published_at IS NULL AND discard_reason IS NOT NULL));

-- The claim's NOT EXISTS probe. Partial: it holds only rows set aside now (usually none), so
-- the probe costs next to nothing on the relay's hot path.
CREATE INDEX outbox_set_aside_aggregate_idx ON outbox (aggregate_id)
  WHERE set_aside_at IS NOT NULL;
-- Retention deletes discarded rows by age, as it does published ones.
CREATE INDEX outbox_discarded_at_idx ON outbox (discarded_at) WHERE discarded_at IS NOT NULL;

-- Down Migration
-- Discarded rows would look pending again and be published: delete them first.
DELETE FROM outbox WHERE discarded_at IS NOT NULL;
DROP INDEX outbox_discarded_at_idx;
DROP INDEX outbox_set_aside_aggregate_idx;
ALTER TABLE outbox
  DROP CONSTRAINT outbox_discarded_check,
  DROP CONSTRAINT outbox_set_aside_check,
  DROP COLUMN discard_reason,
  DROP COLUMN discarded_at,
  DROP COLUMN set_aside_reason,
  DROP COLUMN set_aside_at;
