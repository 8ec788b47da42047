// `npm run outbox -- list|show|release|discard`: the outbox rows the relay set aside.
// Exit codes: 0 done, 1 failure (no such row, not set aside), 2 usage error.
import { cliPool, main, stdioOutput } from '../cli';
import { run } from './actions';
import { parseCommand, USAGE } from './args';

main({
  name: 'outbox',
  usage: USAGE,
  parse: parseCommand,
  async run(command) {
    const pool = cliPool('outbox');
    try {
      return await run(command, { pool, output: stdioOutput });
    } finally {
      await pool.end();
    }
  },
});
