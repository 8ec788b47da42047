// `npm run smoke -- --stage NAME | --local [--url URL]`: a post-deploy smoke test of the order
// pipeline. Exit codes: 0 every check passed, 1 a check failed, 2 usage error or no credentials.
import { main, stdioOutput } from '../cli';
import { parseCommand, USAGE } from './args';
import { runAws, runLocal } from './run';

main({
  name: 'smoke',
  usage: USAGE,
  parse: parseCommand,
  run: (command) =>
    command.kind === 'local' ? runLocal(command, stdioOutput) : runAws(command, stdioOutput),
});
