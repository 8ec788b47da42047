// Pure argument parsing for `npm run outbox`: argv in, a typed command or a UsageError out.
import { isHelp, noArguments, oneId, parseFlags, positiveInt, UsageError } from '../cli';

export const DEFAULT_LIST_LIMIT = 50;
const MAX_LIMIT = 10_000;

export const USAGE = `usage: npm run outbox -- <command> [options]

  list [--limit N] [--json]
      outbox rows set aside (the broker refuses them for good), oldest first, with their
      reason, aggregate, seq, estimated record size and the rows held behind each
      (default limit ${DEFAULT_LIST_LIMIT})
  show ID [--json]
      one outbox row: its state, reason, headers and the rows held behind it
  release ID
      clear the set-aside mark: the relay tries the row again (e.g. after the topic's
      max.message.bytes was raised), and the rows held behind it follow in order
  discard ID --reason TEXT
      never publish the row (it is kept for audit until retention); the rows held behind it
      are published

ID is the row's id (the event's eventId, a UUID).
Endpoints: PGHOST PGPORT PGDATABASE PGUSER (PGPASSWORD), PG_IAM_AUTH, AWS_REGION.`;

export type Command =
  | { readonly kind: 'help' }
  | { readonly kind: 'list'; readonly limit: number; readonly json: boolean }
  | { readonly kind: 'show'; readonly id: string; readonly json: boolean }
  | { readonly kind: 'release'; readonly id: string }
  | { readonly kind: 'discard'; readonly id: string; readonly reason: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function parseId(text: string): string {
  if (!UUID.test(text)) throw new UsageError(`"${text}" is not an outbox row id (a UUID)`);
  return text.toLowerCase();
}

export function parseCommand(argv: readonly string[]): Command {
  const [command, ...rest] = argv;
  if (isHelp(command)) return { kind: 'help' };
  switch (command) {
    case 'list': {
      const { values, positionals } = parseFlags(rest, {
        limit: { type: 'string' },
        json: { type: 'boolean' },
      });
      noArguments('list', positionals);
      const limit =
        values.limit === undefined
          ? DEFAULT_LIST_LIMIT
          : positiveInt('limit', values.limit, MAX_LIMIT);
      return { kind: 'list', limit, json: values.json === true };
    }
    case 'show': {
      const { values, positionals } = parseFlags(rest, { json: { type: 'boolean' } });
      return { kind: 'show', id: parseId(oneId('show', positionals)), json: values.json === true };
    }
    case 'release': {
      const { positionals } = parseFlags(rest, {});
      return { kind: 'release', id: parseId(oneId('release', positionals)) };
    }
    case 'discard': {
      const { values, positionals } = parseFlags(rest, { reason: { type: 'string' } });
      const id = parseId(oneId('discard', positionals));
      const reason = values.reason?.trim();
      // The row stays for audit: why it was never published must be on it.
      if (reason === undefined || reason === '') {
        throw new UsageError('discard needs --reason "why this event is never published"');
      }
      return { kind: 'discard', id, reason };
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}
