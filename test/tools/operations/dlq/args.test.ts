import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../../tools/operations/cli';
import {
  type Command,
  DEFAULT_LIST_LIMIT,
  DEFAULT_RATE_PER_SECOND,
  isBulk,
  parseCommand,
  parseDuration,
  parseS3Url,
  USAGE,
} from '../../../../tools/operations/dlq/args';

describe('parseDuration', () => {
  it.each([
    ['45s', 45_000],
    ['30m', 1_800_000],
    ['2h', 7_200_000],
    ['7d', 604_800_000],
    ['1w', 604_800_000],
  ])('%s → %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '2', 'h', '2x', '-2h', '1.5h', '2 h x', '0m', '2H'])('rejects "%s"', (text) => {
    expect(() => parseDuration(text)).toThrow(UsageError);
  });
});

describe('parseCommand: valid', () => {
  const cases: Array<[string, string[], Command]> = [
    ['no command is help', [], { kind: 'help' }],
    ['--help', ['--help'], { kind: 'help' }],
    [
      'list defaults',
      ['list'],
      { kind: 'list', filters: { status: 'PARKED', limit: DEFAULT_LIST_LIMIT }, json: false },
    ],
    [
      'list with every filter',
      [
        'list',
        '--type',
        'transient',
        '--older-than',
        '2h',
        '--newer-than',
        '7d',
        '--aggregate',
        'order-1',
        '--status',
        'replayed',
        '--limit',
        '5',
        '--json',
      ],
      {
        kind: 'list',
        filters: {
          status: 'REPLAYED',
          type: 'TRANSIENT',
          olderThanMs: 7_200_000,
          newerThanMs: 604_800_000,
          aggregate: 'order-1',
          limit: 5,
        },
        json: true,
      },
    ],
    [
      'list --option=value form',
      ['list', '--limit=3'],
      {
        kind: 'list',
        filters: { status: 'PARKED', limit: 3 },
        json: false,
      },
    ],
    ['show', ['show', '42'], { kind: 'show', id: '42', json: false }],
    ['show --json', ['show', '42', '--json'], { kind: 'show', id: '42', json: true }],
    [
      'redrive ids (deduplicated), default rate',
      ['redrive', '3', '1', '3'],
      {
        kind: 'redrive',
        selection: { kind: 'ids', ids: ['3', '1'] },
        dryRun: false,
        ratePerSecond: DEFAULT_RATE_PER_SECOND,
        yes: false,
      },
    ],
    [
      'redrive filters, no default cap, status forced to PARKED',
      ['redrive', '--type', 'PROCESSING_FAILURE', '--dry-run', '--rate', '2.5', '-y'],
      {
        kind: 'redrive',
        selection: { kind: 'filters', filters: { status: 'PARKED', type: 'PROCESSING_FAILURE' } },
        dryRun: true,
        ratePerSecond: 2.5,
        yes: true,
      },
    ],
    [
      'discard filters with a cap',
      ['discard', '--aggregate', 'o-9', '--limit', '10', '--yes'],
      {
        kind: 'discard',
        selection: { kind: 'filters', filters: { status: 'PARKED', aggregate: 'o-9', limit: 10 } },
        dryRun: false,
        yes: true,
      },
    ],
    [
      'discard one id',
      ['discard', '7'],
      { kind: 'discard', selection: { kind: 'ids', ids: ['7'] }, dryRun: false, yes: false },
    ],
    [
      'recover from a directory',
      ['recover', '--dir', '.cache/triage-failures'],
      { kind: 'recover', source: { kind: 'dir', path: '.cache/triage-failures' }, dryRun: false },
    ],
    [
      'recover from an S3 prefix with a region, dry run',
      [
        'recover',
        '--s3',
        's3://order-pipeline-prod-triage-failures/aws/lambda/',
        '--region',
        'eu-west-1',
        '--dry-run',
      ],
      {
        kind: 'recover',
        source: {
          kind: 's3',
          bucket: 'order-pipeline-prod-triage-failures',
          prefix: 'aws/lambda/',
          region: 'eu-west-1',
        },
        dryRun: true,
      },
    ],
    [
      'recover a whole bucket (no prefix, no region: the SDK chain decides)',
      ['recover', '--s3', 's3://my.bucket-1'],
      { kind: 'recover', source: { kind: 's3', bucket: 'my.bucket-1', prefix: '' }, dryRun: false },
    ],
    [
      'recover with a trailing slash only',
      ['recover', '--s3=s3://bkt/'],
      { kind: 'recover', source: { kind: 's3', bucket: 'bkt', prefix: '' }, dryRun: false },
    ],
  ];
  it.each(cases)('%s', (_name, argv, expected) => {
    expect(parseCommand(argv)).toEqual(expected);
  });
});

describe('parseCommand: invalid', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['unknown command', ['purge'], /unknown command "purge"/],
    ['unknown flag', ['list', '--colour'], /colour/],
    ['flag of another command', ['discard', '--rate', '5', '1'], /rate/],
    ['missing flag value', ['list', '--type'], /type/],
    ['unknown error type', ['list', '--type', 'OOPS'], /--type must be one of/],
    ['bad status', ['list', '--status', 'GONE'], /--status must be one of/],
    ['list positional', ['list', '5'], /no arguments/],
    ['zero limit', ['list', '--limit', '0'], /--limit/],
    ['non-numeric limit', ['list', '--limit', 'ten'], /--limit/],
    ['bad duration', ['list', '--older-than', '2 hours'], /not a duration/],
    ['empty window', ['list', '--older-than', '7d', '--newer-than', '2h'], /window is empty/],
    ['empty aggregate', ['list', '--aggregate', ' '], /--aggregate/],
    ['show without id', ['show'], /exactly one id/],
    ['show two ids', ['show', '1', '2'], /exactly one id/],
    ['show bad id', ['show', 'abc'], /not a row id/],
    ['zero id', ['discard', '0'], /not a row id/],
    ['redrive with nothing selected', ['redrive', '--yes'], /ids or at least one filter/],
    ['discard with nothing selected', ['discard'], /ids or at least one filter/],
    ['ids and filters together', ['redrive', '1', '--type', 'TRANSIENT'], /not both/],
    ['ids with --limit', ['discard', '1', '--limit', '3'], /not both/],
    ['status on an action', ['redrive', '--status', 'REPLAYED', '--type', 'TRANSIENT'], /status/],
    ['zero rate', ['redrive', '1', '--rate', '0'], /--rate/],
    ['rate not a number', ['redrive', '1', '--rate', 'fast'], /--rate/],
    ['recover without a source', ['recover'], /exactly one of --dir PATH and --s3/],
    ['recover with both sources', ['recover', '--dir', 'd', '--s3', 's3://bkt'], /exactly one of/],
    ['recover positional', ['recover', 'd', '--dir', 'd'], /no arguments/],
    ['recover empty dir', ['recover', '--dir', ' '], /--dir must not be empty/],
    [
      'recover --region with --dir',
      ['recover', '--dir', 'd', '--region', 'eu-west-1'],
      /--s3 only/,
    ],
    [
      'recover not an s3 URL',
      ['recover', '--s3', 'https://bkt.s3.amazonaws.com/x'],
      /s3:\/\/BUCKET/,
    ],
    ['recover no bucket', ['recover', '--s3', 's3:///prefix'], /s3:\/\/BUCKET/],
    ['recover bad bucket name', ['recover', '--s3', 's3://My_Bucket/x'], /not an S3 bucket name/],
    ['recover bad region', ['recover', '--s3', 's3://bkt', '--region', 'Ireland'], /--region/],
    ['recover unknown flag', ['recover', '--dir', 'd', '--yes'], /yes/],
  ];
  it.each(cases)('%s', (_name, argv, message) => {
    let thrown: unknown;
    try {
      parseCommand(argv);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UsageError);
    expect((thrown as Error).message).toMatch(message);
  });
});

describe('isBulk', () => {
  it('filters and several ids are bulk; one id is not', () => {
    expect(isBulk({ kind: 'ids', ids: ['1'] })).toBe(false);
    expect(isBulk({ kind: 'ids', ids: ['1', '2'] })).toBe(true);
    expect(isBulk({ kind: 'filters', filters: { status: 'PARKED', type: 'TRANSIENT' } })).toBe(
      true,
    );
  });
});

describe('parseS3Url', () => {
  it('splits bucket and prefix, keeping the prefix as written', () => {
    expect(parseS3Url('s3://bkt')).toEqual({ bucket: 'bkt', prefix: '' });
    expect(parseS3Url('s3://bkt/a/b/')).toEqual({ bucket: 'bkt', prefix: 'a/b/' });
    expect(parseS3Url('s3://bkt/aws/lambda/uuid')).toEqual({
      bucket: 'bkt',
      prefix: 'aws/lambda/uuid',
    });
  });
});

describe('USAGE', () => {
  it('documents recover', () => {
    expect(USAGE).toMatch(
      /recover \(--dir PATH \| --s3 s3:\/\/BUCKET\[\/PREFIX\] \[--region REGION\]\) \[--dry-run\]/,
    );
    expect(USAGE).toMatch(/AWS_REGION/);
  });
});
