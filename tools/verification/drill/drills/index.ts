// Every drill, in the order `npm run drill` runs them.
import type { Drill } from '../types';
import { consumerKillDrill } from './consumer-kill';
import { hostileDeadLettersDrill } from './hostile-dead-letters';
import { malformedDrill } from './malformed';
import { brokerOutageDrill, postgresOutageDrill, redisOutageDrill } from './outages';
import { oversizedDrill } from './oversized';
import { poisonDrill } from './poison';
import { relayKillDrill } from './relay-kill';
import { brokerRestartDrill, postgresRestartDrill, redisRestartDrill } from './restarts';

export const DRILLS: readonly Drill[] = [
  relayKillDrill,
  consumerKillDrill,
  brokerRestartDrill,
  redisRestartDrill,
  postgresRestartDrill,
  postgresOutageDrill,
  redisOutageDrill,
  brokerOutageDrill,
  poisonDrill,
  oversizedDrill,
  malformedDrill,
  hostileDeadLettersDrill,
];
