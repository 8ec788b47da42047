import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// No YAML parser is a project dependency; aws-cdk-lib bundles `yaml`, so resolve it from there.
const { parse } = createRequire(require.resolve('aws-cdk-lib/package.json'))('yaml') as {
  parse: (text: string) => unknown;
};

interface Service {
  profiles?: string[];
  image?: string;
  ports?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  healthcheck?: { test?: string[] };
}

const compose = parse(
  readFileSync(resolve(__dirname, '..', '..', '..', '..', 'compose.yaml'), 'utf8'),
) as {
  services: Record<string, Service>;
};

describe('compose.yaml', () => {
  it('starts only Kafka, PostgreSQL and Redis without a profile', () => {
    const always = Object.entries(compose.services)
      .filter(([, s]) => !s.profiles)
      .map(([name]) => name);
    expect(always.sort()).toEqual(['kafka', 'postgres', 'redis']);
  });

  it('runs LocalStack under the localstack profile, pinned, on 127.0.0.1, with a required token', () => {
    const ls = compose.services.localstack;
    expect(ls?.profiles).toEqual(['localstack']);
    expect(ls?.image).toMatch(/^localstack\/localstack-pro:\d{4}\.\d{2}\.\d+$/);
    expect(ls?.ports).toContain('127.0.0.1:4566:4566');
    for (const port of ls?.ports ?? []) expect(port).toMatch(/^127\.0\.0\.1:/);
    expect(ls?.environment?.LOCALSTACK_AUTH_TOKEN).toMatch(/^\$\{LOCALSTACK_AUTH_TOKEN:\?.+\}$/);
    expect(ls?.volumes).toContain('/var/run/docker.sock:/var/run/docker.sock');
    expect(ls?.healthcheck?.test?.join(' ')).toContain('/_localstack/health');
  });
});
