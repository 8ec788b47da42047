-- Up Migration
-- Why a row was parked, and the record's exact bytes when the row could not hold it as
-- received: numbers above the integer columns, failure times out of range, text PostgreSQL
-- refuses (NUL, unpaired surrogates), a record that is not a dead letter at all. Triage stores
-- what it can and keeps the original here, so nothing is skipped and nothing is lost. Both are
-- null for rows parked before this migration; raw_record is null when the row holds the
-- record as received.
ALTER TABLE dead_letters
  ADD COLUMN park_reason text,
  ADD COLUMN raw_record bytea;

-- Down Migration
ALTER TABLE dead_letters
  DROP COLUMN raw_record,
  DROP COLUMN park_reason;
