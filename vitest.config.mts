import { defineConfig } from 'vitest/config';

// Product tests live in a folder per kind (test/unit, infra, integration, contract). Tests of
// the tools live beside them under test/tools/<role>/, mirroring tools/, and say their kind in
// their name: `*.integration.test.ts` needs the local services, `*.infra.test.ts` synthesizes,
// `*.browser.test.ts` drives Chromium, anything else is a unit test.
const TOOLS = 'test/tools/**';
const TOOL_KINDS = [
  `${TOOLS}/*.integration.test.ts`,
  `${TOOLS}/*.infra.test.ts`,
  `${TOOLS}/*.browser.test.ts`,
];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', `${TOOLS}/*.test.ts`],
          exclude: TOOL_KINDS,
          environment: 'node',
        },
      },
      {
        test: {
          name: 'infra',
          include: ['test/infra/**/*.test.ts', `${TOOLS}/*.infra.test.ts`],
          environment: 'node',
          // Synth bundles every Lambda with esbuild; a cold stage synth takes seconds.
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', `${TOOLS}/*.integration.test.ts`],
          environment: 'node',
          globalSetup: ['test/integration/global-setup.ts'],
          // Real broker, database and cache; one file at a time keeps them uncontended.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'contract',
          include: ['test/contract/**/*.test.ts'],
          environment: 'node',
          // The real handlers against AWS-shaped fixtures (test/fixtures/aws), on the same real
          // broker, database and cache as the integration tests.
          globalSetup: ['test/integration/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
      {
        test: {
          name: 'browser',
          include: [`${TOOLS}/*.browser.test.ts`],
          environment: 'node',
          // The local dashboard's probes read the real services; the test drives headless Chromium.
          globalSetup: ['test/integration/global-setup.ts'],
          fileParallelism: false,
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
