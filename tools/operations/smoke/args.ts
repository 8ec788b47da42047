// Pure argument parsing for `npm run smoke`: argv in, a typed command or a UsageError out.
import { isStageName, STAGES, type StageName } from '../../../lib/config/stage-config';
import { parseFlags, positiveInt, UsageError } from '../cli';

export const DEFAULT_TIMEOUT_SECONDS = 120;
const MAX_TIMEOUT_SECONDS = 3_600;
export const DEFAULT_LOCAL_URL = 'http://127.0.0.1:8080';

export const USAGE = `usage: npm run smoke -- --stage NAME [--timeout S]
       npm run smoke -- --local [--url URL] [--timeout S]

Places one order through the order API, records its payment and shipment, follows it with
GET /orders/{id} until it is SHIPPED at version 3, then checks that none of the stage's
CloudWatch alarms is in ALARM and that nothing was dead-lettered for the order.

  --stage NAME   a deployed stage (${STAGES.join(', ')}): the API URL comes from the service
                 stack's ApiUrl output; requests are SigV4-signed with the standard
                 credential chain (env, shared config/SSO, IMDS)
  --local        the order API of \`npm start -- --serve\` instead (unsigned); dead letters are
                 read from the local dead_letters table, alarms are not applicable
  --url URL      the local order API (default ${DEFAULT_LOCAL_URL}; npm start prints it)
  --timeout S    seconds to wait for the order to be SHIPPED (default ${DEFAULT_TIMEOUT_SECONDS})

Exit status: 0 every check passed, 1 a check failed (the reason is printed), 2 wrong usage or
no AWS credentials.`;

export type Command =
  | { readonly kind: 'help' }
  | { readonly kind: 'aws'; readonly stage: StageName; readonly timeoutMs: number }
  | { readonly kind: 'local'; readonly url: string; readonly timeoutMs: number };

export function parseCommand(argv: readonly string[]): Command {
  if (argv[0] === 'help') return { kind: 'help' };
  const { values, positionals } = parseFlags(argv, {
    stage: { type: 'string' },
    local: { type: 'boolean' },
    url: { type: 'string' },
    timeout: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) return { kind: 'help' };
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const timeoutMs =
    values.timeout === undefined
      ? DEFAULT_TIMEOUT_SECONDS * 1_000
      : positiveInt('timeout', values.timeout, MAX_TIMEOUT_SECONDS) * 1_000;

  if (values.local === true) {
    if (values.stage !== undefined) throw new UsageError('--stage and --local exclude each other');
    return { kind: 'local', url: parseUrl(values.url ?? DEFAULT_LOCAL_URL), timeoutMs };
  }
  if (values.url !== undefined) {
    throw new UsageError('--url is for --local; a stage’s URL comes from its stack outputs');
  }
  if (values.stage === undefined) {
    throw new UsageError('say what to smoke-test: --stage NAME, or --local');
  }
  if (!isStageName(values.stage)) {
    throw new UsageError(`unknown stage "${values.stage}"; one of ${STAGES.join(', ')}`);
  }
  return { kind: 'aws', stage: values.stage, timeoutMs };
}

/** An http(s) base URL, normalised to end with one slash so paths resolve under it. */
function parseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--url must be an http(s) URL, got "${text}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--url must be an http(s) URL, got "${text}"`);
  }
  if (url.search !== '' || url.hash !== '') {
    throw new UsageError(`--url takes no query or fragment, got "${text}"`);
  }
  return url.href.endsWith('/') ? url.href : `${url.href}/`;
}
