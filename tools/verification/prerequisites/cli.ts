// Entry point of the prerequisite check `npm test` runs first (see prerequisites.ts).
import { main } from './prerequisites';

process.exitCode = main();
