// Every drill, in the order `npm run drill` runs them.
import type { Drill } from '../types';
import { malformedDrill } from './malformed';
import { poisonDrill } from './poison';
import { relayKillDrill } from './relay-kill';

export const DRILLS: readonly Drill[] = [relayKillDrill, malformedDrill, poisonDrill];
