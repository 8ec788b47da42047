// Pure argument parsing for `npm run outbox`: argv in, a typed command or a UsageError out.
import { type ParseArgsConfig, parseArgs } from 'node:util';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

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

/** Wrong invocation: exit code 2, with the usage text. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

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

/** node:util reports unknown flags and missing values as TypeErrors: usage errors here. */
function parse<const O extends ParseArgsOptionsConfig>(args: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...args], strict: true, allowPositionals: true, options });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

function oneId(command: string, positionals: readonly string[]): string {
  const [id, ...extra] = positionals;
  if (id === undefined || extra.length > 0) throw new UsageError(`${command} takes exactly one id`);
  return parseId(id);
}

export function parseCommand(argv: readonly string[]): Command {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return { kind: 'help' };
    case 'list': {
      const { values, positionals } = parse(rest, {
        limit: { type: 'string' },
        json: { type: 'boolean' },
      });
      if (positionals.length > 0) {
        throw new UsageError(`list takes no arguments: ${positionals[0]}`);
      }
      const limit = values.limit ?? String(DEFAULT_LIST_LIMIT);
      if (!/^\d+$/.test(limit) || Number(limit) < 1 || Number(limit) > MAX_LIMIT) {
        throw new UsageError(`--limit must be an integer from 1 to ${MAX_LIMIT}, got "${limit}"`);
      }
      return { kind: 'list', limit: Number(limit), json: values.json === true };
    }
    case 'show': {
      const { values, positionals } = parse(rest, { json: { type: 'boolean' } });
      return { kind: 'show', id: oneId('show', positionals), json: values.json === true };
    }
    case 'release': {
      const { positionals } = parse(rest, {});
      return { kind: 'release', id: oneId('release', positionals) };
    }
    case 'discard': {
      const { values, positionals } = parse(rest, { reason: { type: 'string' } });
      const id = oneId('discard', positionals);
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
