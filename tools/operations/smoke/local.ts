// The local side of the smoke test: dead letters from the local PostgreSQL that `npm start`
// writes to (the same PG* endpoint variables and defaults), and no alarms.
import pg from 'pg';
import { pgClientConfig } from '../../../lambdas/shared/db/pool';
import type { PgEndpointEnv } from '../../../lambdas/shared/env';
import { judgeParkedDeadLetters, type ParkedDeadLetter, type SmokeOrder } from './checks';
import type { SmokeChecks } from './steps';

/**
 * The local dashboard draws each alarm's threshold beside the signal but evaluates no alarm
 * state; emulating CloudWatch's evaluation (periods, datapoints to alarm, missing data) here
 * would be a second, untested implementation of it.
 */
export const LOCAL_ALARMS_REASON =
  'the local dashboard draws alarm thresholds but evaluates no alarm state';

export interface Queryable {
  query<R extends pg.QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<R>>;
}

/** Rows the triage parked for the order, by its id or one of its events' ids. */
export async function parkedDeadLetters(
  db: Queryable,
  order: SmokeOrder,
): Promise<ParkedDeadLetter[]> {
  const { rows } = await db.query<{
    id: string;
    event_id: string | null;
    event_type: string | null;
    error_type: string;
    status: string;
    parked_at: Date;
  }>(
    `SELECT id::text AS id, event_id, event_type, error_type, status, parked_at
       FROM dead_letters
      WHERE aggregate_id = $1 OR event_id = ANY($2::text[])
      ORDER BY id`,
    [order.orderId, [...order.eventIds]],
  );
  return rows.map((r) => ({
    id: r.id,
    eventId: r.event_id,
    eventType: r.event_type,
    errorType: r.error_type,
    status: r.status,
    parkedAt: r.parked_at,
  }));
}

export function localChecks(pgEnv: PgEndpointEnv): SmokeChecks {
  return {
    alarms: async () => ({ kind: 'not-applicable', reason: LOCAL_ALARMS_REASON }),
    deadLetters: async (order) => {
      // One short-lived client: the check runs once, at the end.
      const client = new pg.Client(pgClientConfig(pgEnv, { applicationName: 'smoke' }));
      await client.connect();
      try {
        return judgeParkedDeadLetters(await parkedDeadLetters(client, order), order);
      } finally {
        await client.end();
      }
    },
  };
}
