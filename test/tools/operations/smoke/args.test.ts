import { describe, expect, it } from 'vitest';
import { UsageError } from '../../../../tools/operations/cli';
import {
  DEFAULT_LOCAL_URL,
  DEFAULT_TIMEOUT_SECONDS,
  parseCommand,
  USAGE,
} from '../../../../tools/operations/smoke/args';

describe('npm run smoke arguments', () => {
  it('a stage, with the default deadline or another', () => {
    expect(parseCommand(['--stage', 'dev'])).toEqual({
      kind: 'aws',
      stage: 'dev',
      timeoutMs: DEFAULT_TIMEOUT_SECONDS * 1_000,
    });
    expect(parseCommand(['--stage=prod', '--timeout', '300'])).toEqual({
      kind: 'aws',
      stage: 'prod',
      timeoutMs: 300_000,
    });
  });

  it('local, at the default URL or the one npm start printed (normalised to end in /)', () => {
    expect(parseCommand(['--local'])).toEqual({
      kind: 'local',
      url: `${DEFAULT_LOCAL_URL}/`,
      timeoutMs: 120_000,
    });
    expect(parseCommand(['--local', '--url', 'http://127.0.0.1:41234', '--timeout', '30'])).toEqual(
      { kind: 'local', url: 'http://127.0.0.1:41234/', timeoutMs: 30_000 },
    );
    expect(parseCommand(['--local', '--url', 'http://127.0.0.1:41234/api/'])).toMatchObject({
      url: 'http://127.0.0.1:41234/api/',
    });
  });

  it('help', () => {
    for (const argv of [['--help'], ['-h'], ['help'], ['--stage', 'dev', '--help']]) {
      expect(parseCommand(argv)).toEqual({ kind: 'help' });
    }
    expect(USAGE).toContain('--stage NAME');
    expect(USAGE).toContain('--local');
  });

  it.each([
    [[], 'say what to smoke-test: --stage NAME, or --local'],
    [['--stage', 'qa'], 'unknown stage "qa"; one of dev, prod, localstack'],
    [['--stage', 'dev', '--local'], '--stage and --local exclude each other'],
    [['--stage', 'dev', '--url', 'http://x/'], '--url is for --local'],
    [
      ['--local', '--url', 'ftp://127.0.0.1/'],
      '--url must be an http(s) URL, got "ftp://127.0.0.1/"',
    ],
    [['--local', '--url', 'not a url'], '--url must be an http(s) URL'],
    [['--local', '--url', 'http://127.0.0.1:8080/?a=1'], '--url takes no query or fragment'],
    [['--stage', 'dev', '--timeout', '0'], '--timeout must be an integer from 1 to 3600, got "0"'],
    [['--stage', 'dev', '--timeout', '2m'], '--timeout must be an integer from 1 to 3600'],
    [['--stage', 'dev', 'extra'], 'unexpected argument "extra"'],
    [['--stage'], "Option '--stage <value>' argument missing"],
    [['--region', 'eu-west-1'], "Unknown option '--region'"],
  ])('refuses %j', (argv, message) => {
    let error: unknown;
    try {
      parseCommand(argv);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain(message);
  });
});
