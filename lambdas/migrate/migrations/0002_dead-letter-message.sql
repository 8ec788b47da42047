-- Up Migration
-- The whole dead-letter message as triage received it (original value bytes as base64, key,
-- headers, failure history; see lambdas/shared/dead-letter/message.ts), so that a parked
-- message can be redriven exactly as it was first consumed. The row's other columns stay the
-- query surface (type, age, aggregate). Null only for rows parked before this migration.
ALTER TABLE dead_letters ADD COLUMN message jsonb
  CONSTRAINT dead_letters_message_check CHECK (message IS NULL OR jsonb_typeof(message) = 'object');

-- Down Migration
ALTER TABLE dead_letters DROP COLUMN message;
