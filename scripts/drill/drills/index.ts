// Every drill, in the order `npm run drill` runs them.
import type { Drill } from '../types';
import { consumerKillDrill } from './consumer-kill';
import { malformedDrill } from './malformed';
import { poisonDrill } from './poison';
import { relayKillDrill } from './relay-kill';
import { brokerRestartDrill, postgresRestartDrill, redisRestartDrill } from './restarts';

export const DRILLS: readonly Drill[] = [
  relayKillDrill,
  consumerKillDrill,
  brokerRestartDrill,
  redisRestartDrill,
  postgresRestartDrill,
  poisonDrill,
  malformedDrill,
];
