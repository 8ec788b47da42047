// The command as a user runs it: `npm run smoke` in a process of its own.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_CREDENTIALS } from '../../../../tools/operations/smoke/aws';
import { type RecordedAws, startRecordedAws } from './recorded-aws';

const ROOT = path.resolve(__dirname, '../../../..');
const TSX = path.join(ROOT, 'node_modules/tsx/dist/cli.mjs');

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** This process's environment without any AWS setting, and the chain pointed at nothing. */
function withoutAwsCredentials(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const dir = mkdtempSync(path.join(tmpdir(), 'smoke-no-aws-'));
  const config = path.join(dir, 'config');
  const credentials = path.join(dir, 'credentials');
  writeFileSync(config, '');
  writeFileSync(credentials, '');
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')),
  );
  return {
    ...env,
    AWS_CONFIG_FILE: config,
    AWS_SHARED_CREDENTIALS_FILE: credentials,
    // No instance metadata service here: the chain's last step must not wait for one.
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  };
}

describe('npm run smoke', () => {
  let aws: RecordedAws;
  beforeAll(async () => {
    aws = await startRecordedAws();
  });
  afterAll(async () => {
    await aws.close();
  });

  it('without AWS credentials: exit 2 with the reason, before any request', async () => {
    // Any SDK call would go to the recording endpoint (AWS_ENDPOINT_URL): none may arrive.
    const result = await run(
      'npm',
      ['run', '-s', 'smoke', '--', '--stage', 'dev'],
      withoutAwsCredentials({ AWS_ENDPOINT_URL: aws.endpoint }),
    );
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toContain(`smoke: ${NO_CREDENTIALS}: `);
    expect(result.stdout).toBe('');
    expect(aws.calls).toEqual([]);
  });

  it('--help: the usage, exit 0', async () => {
    const result = await run(
      process.execPath,
      [TSX, 'tools/operations/smoke/cli.ts', '--help'],
      process.env,
    );
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('usage: npm run smoke -- --stage NAME');
  });

  it('a wrong call: the reason and the usage, exit 2', async () => {
    const result = await run(
      process.execPath,
      [TSX, 'tools/operations/smoke/cli.ts', '--stage', 'qa'],
      withoutAwsCredentials(),
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('smoke: unknown stage "qa"; one of dev, prod, localstack');
    expect(result.stderr).toContain('usage: npm run smoke');
  });
});
