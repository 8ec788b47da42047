-- Up Migration
-- The payload hash beside each processed key (payloadHash() in
-- lambdas/order-consumer/idempotency-key.ts), so that PostgreSQL alone tells a repeat from an
-- IDEMPOTENCY_CONFLICT: when the Redis record has expired, was lost with its node, or the
-- consumer had to go without Redis (breaker open, a record left in progress by a crash).
-- Null for rows recorded before this migration: those repeats cannot be checked.
ALTER TABLE processed_events ADD COLUMN payload_hash text
  CONSTRAINT processed_events_payload_hash_check CHECK (payload_hash ~ '^[0-9a-f]{64}$');

-- Down Migration
ALTER TABLE processed_events DROP COLUMN payload_hash;
