import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import type { StageName } from '../../lib/config/stage-config';
import { props, resourcesOfType, synthPipeline } from './synth';

/** Rule ids acknowledged on one construct (recorded as `Annotation::<rule id>`). */
function acknowledged(scope: IConstruct): string[] {
  return scope.node.metadata
    .filter((e) => e.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
    .flatMap((e) => Object.keys(e.data as Record<string, string>))
    .map((id) => id.replace(/^Annotation::/, ''));
}

describe.each<[StageName, boolean]>([
  ['dev', false],
  ['prod', true],
  ['localstack', false],
])('database availability (%s)', (stage, multiAz) => {
  it(`runs the primary ${multiAz ? 'Multi-AZ' : 'single-AZ'}, acknowledging AwsSolutions-RDS3 only when single-AZ`, () => {
    const p = synthPipeline(stage);
    expect(p.config.database.multiAz).toBe(multiAz);
    const instances = resourcesOfType(p, 'AWS::RDS::DBInstance').map(([, , r]) => props(r));
    const primary = instances.filter((db) => db.SourceDBInstanceIdentifier === undefined);
    expect(primary).toHaveLength(1);
    expect(primary[0]?.MultiAZ).toBe(multiAz);
    expect(acknowledged(p.stacks.data.instance).includes('AwsSolutions-RDS3')).toBe(!multiAz);
  });
});
