import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CONNECT_VERSION,
  connectPomXml,
  DEBEZIUM_VERSION,
  debeziumPaths,
  jarsComplete,
  PLUGIN_EXCLUDED_GROUPS,
  pluginPomXml,
} from '../../../../tools/verification/bench/peers/debezium-jars';

function dependencies(pom: string): string[] {
  return [
    ...pom.matchAll(
      /<groupId>([^<]+)<\/groupId><artifactId>([^<]+)<\/artifactId><version>([^<]+)<\/version>/g,
    ),
  ].map((m) => `${m[1]}:${m[2]}:${m[3]}`);
}

describe('Maven poms', () => {
  it('pins every Debezium module to 3.6.1.Final and Connect to the Kafka it is built against', () => {
    expect(DEBEZIUM_VERSION).toBe('3.6.1.Final');
    expect(CONNECT_VERSION).toBe('4.3.0');
  });

  it('the worker classpath: connect-runtime and connect-json at the Connect version, log4j2 behind slf4j 1.x', () => {
    const deps = dependencies(connectPomXml());
    expect(deps).toContain(`org.apache.kafka:connect-runtime:${CONNECT_VERSION}`);
    expect(deps).toContain(`org.apache.kafka:connect-json:${CONNECT_VERSION}`);
    expect(deps.some((d) => d.startsWith('org.apache.logging.log4j:log4j-slf4j-impl:2.'))).toBe(
      true,
    );
    expect(deps.some((d) => d.startsWith('org.apache.logging.log4j:log4j-core:2.'))).toBe(true);
    expect(connectPomXml()).toContain('<packaging>pom</packaging>');
  });

  it('the plugin: the PostgreSQL connector only, without the Kafka jars the worker provides', () => {
    expect(dependencies(pluginPomXml())).toEqual([
      `io.debezium:debezium-connector-postgres:${DEBEZIUM_VERSION}`,
    ]);
    expect(PLUGIN_EXCLUDED_GROUPS).toContain('org.apache.kafka');
  });
});

describe('jarsComplete', () => {
  let root: string | undefined;
  afterEach(() => {
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  it('is true only when the marker lists present jars for this Connect version', () => {
    root = mkdtempSync(join(tmpdir(), 'peers-jars-'));
    const paths = debeziumPaths(DEBEZIUM_VERSION, root);
    expect(jarsComplete(paths)).toBe(false);
    mkdirSync(paths.libsDir, { recursive: true });
    mkdirSync(paths.pluginDir, { recursive: true });
    writeFileSync(join(paths.libsDir, 'connect-runtime.jar'), '');
    writeFileSync(join(paths.pluginDir, 'debezium.jar'), '');
    const marker = {
      connect: CONNECT_VERSION,
      libs: ['connect-runtime.jar'],
      plugin: ['debezium.jar'],
    };
    writeFileSync(paths.fetchMarker, JSON.stringify(marker));
    expect(jarsComplete(paths)).toBe(true);
    rmSync(join(paths.pluginDir, 'debezium.jar'));
    expect(jarsComplete(paths)).toBe(false);
    writeFileSync(join(paths.pluginDir, 'debezium.jar'), '');
    writeFileSync(paths.fetchMarker, JSON.stringify({ ...marker, connect: '4.0.0' }));
    expect(jarsComplete(paths)).toBe(false);
  });

  it('keeps everything under .cache/debezium/<version>', () => {
    const paths = debeziumPaths(DEBEZIUM_VERSION, '/repo');
    expect(paths.libsDir).toBe(`/repo/.cache/debezium/${DEBEZIUM_VERSION}/libs`);
    expect(paths.pluginDir).toBe(
      `/repo/.cache/debezium/${DEBEZIUM_VERSION}/plugins/debezium-connector-postgres`,
    );
  });
});
