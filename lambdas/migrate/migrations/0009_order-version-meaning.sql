-- Up Migration
-- orders.version had two meanings: the order API bumped it for every fact it recorded and the
-- consumer for every transition it applied. From now on only the consumer changes the row, and
-- the version counts applied transitions, the creation included (1 = CREATED).
COMMENT ON COLUMN orders.version IS
  'Applied state transitions, creation included (1 = CREATED); only the consumer changes it.';
COMMENT ON COLUMN orders.updated_at IS 'When the consumer last applied a transition.';

-- Down Migration
COMMENT ON COLUMN orders.version IS NULL;
COMMENT ON COLUMN orders.updated_at IS NULL;
