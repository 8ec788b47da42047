// Pure argument parsing for `npm run dlq`: argv in, a typed command or a UsageError out.
import { ERROR_TYPES, type ErrorType, isErrorType } from '../../../lambdas/shared/errors/taxonomy';
import { isHelp, noArguments, oneId, parseFlags, positiveInt, UsageError } from '../cli';

export const STATUSES = ['PARKED', 'REPLAYED', 'DISCARDED'] as const;
export type Status = (typeof STATUSES)[number];

export const DEFAULT_LIST_LIMIT = 50;
export const DEFAULT_RATE_PER_SECOND = 10;
const MAX_LIMIT = 100_000;
const MAX_RATE = 1_000;

export const USAGE = `usage: npm run dlq -- <command> [options]

  list [filters] [--status PARKED|REPLAYED|DISCARDED] [--limit N] [--json]
      parked messages (default: status PARKED, limit ${DEFAULT_LIST_LIMIT}), oldest first
  show ID [--json]
      one row with its decoded original value and headers
  redrive (ID... | filters) [--limit N] [--dry-run] [--rate N] [--yes]
      produce each PARKED message's original record back to its source topic (default rate
      ${DEFAULT_RATE_PER_SECOND}/s), then mark it REPLAYED
  discard (ID... | filters) [--limit N] [--dry-run] [--yes]
      mark PARKED messages DISCARDED (rows are kept)
  recover (--dir PATH | --s3 s3://BUCKET[/PREFIX] [--region REGION]) [--dry-run]
      park every dead-letter record of the triage mapping's on-failure documents (batches
      Lambda discarded) as triage would; re-running parks nothing twice

filters:
  --type ${ERROR_TYPES.join('|')}
  --older-than DURATION   parked at least this long ago (e.g. 30m, 2h, 7d)
  --newer-than DURATION   parked at most this long ago
  --aggregate ID          the order id

A bulk redrive or discard (filters, or more than one id) asks for confirmation on a
terminal; without a terminal it needs --yes.
Endpoints: PGHOST PGPORT PGDATABASE PGUSER (PGPASSWORD), KAFKA_BROKERS; recover --s3: the
standard AWS credential chain (AWS_PROFILE, ...) and --region or AWS_REGION.`;

export interface Filters {
  readonly type?: ErrorType;
  /** parked_at at least this many ms ago. */
  readonly olderThanMs?: number;
  /** parked_at at most this many ms ago. */
  readonly newerThanMs?: number;
  readonly aggregate?: string;
  readonly status: Status;
  /** undefined: no cap (actions select everything that matches, then confirm the count). */
  readonly limit?: number;
}

export type Selection =
  | { readonly kind: 'ids'; readonly ids: readonly string[] }
  | { readonly kind: 'filters'; readonly filters: Filters };

/** Where `recover` reads on-failure documents from. */
export type RecoverSource =
  | { readonly kind: 'dir'; readonly path: string }
  | {
      readonly kind: 's3';
      readonly bucket: string;
      /** Keys starting with this ('' = the whole bucket). */
      readonly prefix: string;
      /** undefined: AWS_REGION or the profile's region (the SDK's chain). */
      readonly region?: string;
    };

export type Command =
  | { readonly kind: 'help' }
  | { readonly kind: 'list'; readonly filters: Filters; readonly json: boolean }
  | { readonly kind: 'show'; readonly id: string; readonly json: boolean }
  | {
      readonly kind: 'redrive';
      readonly selection: Selection;
      readonly dryRun: boolean;
      readonly ratePerSecond: number;
      readonly yes: boolean;
    }
  | {
      readonly kind: 'discard';
      readonly selection: Selection;
      readonly dryRun: boolean;
      readonly yes: boolean;
    }
  | { readonly kind: 'recover'; readonly source: RecoverSource; readonly dryRun: boolean };

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** "30m", "2h", "7d" (also s and w) → milliseconds. */
export function parseDuration(text: string): number {
  const match = /^(\d+)([smhdw])$/.exec(text.trim());
  const unit = match?.[2] === undefined ? undefined : DURATION_UNITS_MS[match[2]];
  if (match?.[1] === undefined || unit === undefined) {
    throw new UsageError(`"${text}" is not a duration (use e.g. 30m, 2h, 7d)`);
  }
  const ms = Number(match[1]) * unit;
  if (ms <= 0 || !Number.isSafeInteger(ms)) {
    throw new UsageError(`duration "${text}" must be positive`);
  }
  return ms;
}

function parseRate(text: string): number {
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text) || !(n > 0) || n > MAX_RATE) {
    throw new UsageError(`--rate must be a number of messages per second in (0, ${MAX_RATE}]`);
  }
  return n;
}

/** Row ids are bigint identities: kept as decimal strings, never as lossy numbers. */
function parseId(text: string): string {
  if (!/^[1-9]\d{0,18}$/.test(text)) throw new UsageError(`"${text}" is not a row id`);
  return text;
}

const FILTER_OPTIONS = {
  type: { type: 'string' },
  'older-than': { type: 'string' },
  'newer-than': { type: 'string' },
  aggregate: { type: 'string' },
  limit: { type: 'string' },
} as const;

type FilterValues = {
  type?: string;
  'older-than'?: string;
  'newer-than'?: string;
  aggregate?: string;
  limit?: string;
};

function hasFilter(values: FilterValues): boolean {
  return (
    values.type !== undefined ||
    values['older-than'] !== undefined ||
    values['newer-than'] !== undefined ||
    values.aggregate !== undefined
  );
}

function parseFilters(values: FilterValues, status: Status, limit: number | undefined): Filters {
  const type = values.type?.toUpperCase();
  if (type !== undefined && !isErrorType(type)) {
    throw new UsageError(`--type must be one of ${ERROR_TYPES.join('|')}, got "${values.type}"`);
  }
  const olderThanMs =
    values['older-than'] === undefined ? undefined : parseDuration(values['older-than']);
  const newerThanMs =
    values['newer-than'] === undefined ? undefined : parseDuration(values['newer-than']);
  if (olderThanMs !== undefined && newerThanMs !== undefined && olderThanMs >= newerThanMs) {
    throw new UsageError('--older-than must be shorter than --newer-than (the window is empty)');
  }
  const aggregate = values.aggregate;
  if (aggregate !== undefined && aggregate.trim() === '') {
    throw new UsageError('--aggregate must not be empty');
  }
  return {
    status,
    ...(type === undefined ? {} : { type }),
    ...(olderThanMs === undefined ? {} : { olderThanMs }),
    ...(newerThanMs === undefined ? {} : { newerThanMs }),
    ...(aggregate === undefined ? {} : { aggregate }),
    ...(limit === undefined ? {} : { limit }),
  };
}

function parseSelection(positionals: readonly string[], values: FilterValues): Selection {
  const filtered = hasFilter(values);
  if (positionals.length > 0 && (filtered || values.limit !== undefined)) {
    throw new UsageError('give either ids or filters, not both');
  }
  if (positionals.length > 0) return { kind: 'ids', ids: [...new Set(positionals.map(parseId))] };
  // Refusing an unfiltered selection keeps a typo from acting on every parked message.
  if (!filtered) throw new UsageError('give ids or at least one filter (--type, --older-than, …)');
  const limit =
    values.limit === undefined ? undefined : positiveInt('limit', values.limit, MAX_LIMIT);
  return { kind: 'filters', filters: parseFilters(values, 'PARKED', limit) };
}

export function parseCommand(argv: readonly string[]): Command {
  const [command, ...rest] = argv;
  if (isHelp(command)) return { kind: 'help' };
  switch (command) {
    case 'list': {
      const { values, positionals } = parseFlags(rest, {
        ...FILTER_OPTIONS,
        status: { type: 'string' },
        json: { type: 'boolean' },
      });
      noArguments('list', positionals);
      const status = (values.status ?? 'PARKED').toUpperCase();
      if (!(STATUSES as readonly string[]).includes(status)) {
        throw new UsageError(
          `--status must be one of ${STATUSES.join('|')}, got "${values.status}"`,
        );
      }
      const limit =
        values.limit === undefined
          ? DEFAULT_LIST_LIMIT
          : positiveInt('limit', values.limit, MAX_LIMIT);
      return {
        kind: 'list',
        filters: parseFilters(values, status as Status, limit),
        json: values.json === true,
      };
    }
    case 'show': {
      const { values, positionals } = parseFlags(rest, { json: { type: 'boolean' } });
      return { kind: 'show', id: parseId(oneId('show', positionals)), json: values.json === true };
    }
    case 'redrive': {
      const { values, positionals } = parseFlags(rest, {
        ...FILTER_OPTIONS,
        'dry-run': { type: 'boolean' },
        rate: { type: 'string' },
        yes: { type: 'boolean', short: 'y' },
      });
      return {
        kind: 'redrive',
        selection: parseSelection(positionals, values),
        dryRun: values['dry-run'] === true,
        ratePerSecond: values.rate === undefined ? DEFAULT_RATE_PER_SECOND : parseRate(values.rate),
        yes: values.yes === true,
      };
    }
    case 'discard': {
      const { values, positionals } = parseFlags(rest, {
        ...FILTER_OPTIONS,
        'dry-run': { type: 'boolean' },
        yes: { type: 'boolean', short: 'y' },
      });
      return {
        kind: 'discard',
        selection: parseSelection(positionals, values),
        dryRun: values['dry-run'] === true,
        yes: values.yes === true,
      };
    }
    case 'recover':
      return parseRecover(rest);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

// General purpose bucket names (S3 User Guide, "Bucket naming rules"): 3-63 characters of
// lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit.
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** `s3://bucket` or `s3://bucket/prefix` → bucket and key prefix (kept as written). */
export function parseS3Url(text: string): { readonly bucket: string; readonly prefix: string } {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(text);
  const bucket = match?.[1];
  if (bucket === undefined) {
    throw new UsageError(`--s3 must be s3://BUCKET or s3://BUCKET/PREFIX, got "${text}"`);
  }
  if (!BUCKET_NAME.test(bucket)) throw new UsageError(`"${bucket}" is not an S3 bucket name`);
  return { bucket, prefix: match?.[2] ?? '' };
}

function parseRecover(args: readonly string[]): Command {
  const { values, positionals } = parseFlags(args, {
    dir: { type: 'string' },
    s3: { type: 'string' },
    region: { type: 'string' },
    'dry-run': { type: 'boolean' },
  });
  noArguments('recover', positionals);
  const dryRun = values['dry-run'] === true;
  if ((values.dir === undefined) === (values.s3 === undefined)) {
    throw new UsageError('recover needs exactly one of --dir PATH and --s3 s3://BUCKET[/PREFIX]');
  }
  if (values.dir !== undefined) {
    if (values.region !== undefined) throw new UsageError('--region goes with --s3 only');
    if (values.dir.trim() === '') throw new UsageError('--dir must not be empty');
    return { kind: 'recover', source: { kind: 'dir', path: values.dir }, dryRun };
  }
  const { bucket, prefix } = parseS3Url(values.s3 ?? '');
  const region = values.region;
  if (region !== undefined && !/^[a-z]{2}(-[a-z0-9]+)+-\d+$/.test(region)) {
    throw new UsageError(`--region must be an AWS Region such as eu-west-1, got "${region}"`);
  }
  return {
    kind: 'recover',
    source: { kind: 's3', bucket, prefix, ...(region === undefined ? {} : { region }) },
    dryRun,
  };
}

/** Filters or several ids: a typo could touch many rows, so it needs a confirmation. */
export function isBulk(selection: Selection): boolean {
  return selection.kind === 'filters' || selection.ids.length > 1;
}
