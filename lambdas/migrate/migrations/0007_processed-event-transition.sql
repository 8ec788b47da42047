-- Up Migration
-- The transition each processed key stands for (its order and event type), so that a repeat of
-- an applied transition under another key (a second PaymentCaptured with another paymentId) is
-- compared with it by payload hash: same business data is a duplicate, other data an
-- IDEMPOTENCY_CONFLICT. The consumer writes them from now on; rows recorded before stay null
-- and cannot be compared.
ALTER TABLE processed_events
  ADD COLUMN aggregate_id text,
  ADD COLUMN event_type   text;

-- The consumer's lookup, one query per batch. Built in the migration transaction: it blocks
-- writes to processed_events for as long as the build takes.
CREATE INDEX processed_events_transition_idx ON processed_events (aggregate_id, event_type);

-- Down Migration
DROP INDEX processed_events_transition_idx;
ALTER TABLE processed_events
  DROP COLUMN event_type,
  DROP COLUMN aggregate_id;
