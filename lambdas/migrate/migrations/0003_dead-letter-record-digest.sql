-- Up Migration
-- A source position alone does not identify a record: offsets start again at 0 when a topic
-- is deleted and recreated (or a local broker is wiped), and a new dead letter at a reused
-- position was silently taken for a redelivery and never parked. The key now also holds a
-- digest of the record itself (sha256 of "<key base64>\n<value base64>", the same formula as
-- recordDigest() in lambdas/shared/dead-letter/message.ts), so a redelivered dead letter still
-- parks once and a different record at a reused position parks too.
ALTER TABLE dead_letters ADD COLUMN record_digest text;

UPDATE dead_letters
   SET record_digest = CASE
     WHEN message IS NOT NULL THEN encode(sha256(convert_to(
       coalesce(message->>'key', '') || E'\n' || coalesce(message->'original'->>'value', ''),
       'UTF8')), 'hex')
     -- Rows parked before 0002 have no message: any stable value keeps them distinct.
     ELSE encode(sha256(convert_to(payload::text, 'UTF8')), 'hex')
   END;

ALTER TABLE dead_letters
  ALTER COLUMN record_digest SET NOT NULL,
  ADD CONSTRAINT dead_letters_record_digest_check CHECK (record_digest ~ '^[0-9a-f]{64}$'),
  DROP CONSTRAINT dead_letters_source_key,
  ADD CONSTRAINT dead_letters_record_key
    UNIQUE (source_topic, source_partition, source_offset, record_digest);

-- Down Migration
-- Fails while two rows share a source position (reused offsets): resolve them first.
ALTER TABLE dead_letters
  DROP CONSTRAINT dead_letters_record_key,
  ADD CONSTRAINT dead_letters_source_key UNIQUE (source_topic, source_partition, source_offset),
  DROP COLUMN record_digest;
