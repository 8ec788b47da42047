import { App, Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import type { StageName } from '../../lib/config/stage-config';
import { REQUIRED_TAGS } from '../../lib/tags';
import { allResources, synthPipeline, taggableLogicalIds, tagsOf } from './synth';

const STAGES: StageName[] = ['dev', 'prod', 'localstack'];

describe.each(STAGES)('cost tags (%s)', (stage) => {
  it('puts every required tag on every taggable resource, with Service naming the stack or function', () => {
    const p = synthPipeline(stage);
    let checked = 0;
    const missing: string[] = [];
    for (const [part, stack] of Object.entries(p.stacks)) {
      const taggable = new Set(taggableLogicalIds(stack));
      for (const [resourcePart, id, resource] of allResources(p)) {
        if (resourcePart !== part) continue;
        // CDK's raw provider functions and roles are tagged by our aspect; check them too.
        const raw = ['AWS::Lambda::Function', 'AWS::IAM::Role'].includes(String(resource.Type));
        if (!taggable.has(id) && !raw) continue;
        checked++;
        const tags = tagsOf(resource);
        for (const key of REQUIRED_TAGS) if (!(key in tags)) missing.push(`${part}/${id}: ${key}`);
        expect(tags.Environment).toBe(stage);
        expect(tags.Project).toBe('order-pipeline');
      }
    }
    expect(missing).toEqual([]);
    expect(checked).toBeGreaterThan(40);
  });

  it('tags each function with its own service and other resources with their stack', () => {
    const p = synthPipeline(stage);
    const serviceTag = (fnName: string) => {
      const fn = allResources(p).find(
        ([, , r]) =>
          r.Type === 'AWS::Lambda::Function' && JSON.stringify(r).includes(`"${fnName}"`),
      );
      return fn ? tagsOf(fn[2]).Service : undefined;
    };
    expect(serviceTag(p.config.functions.orderConsumer.name)).toBe('order-consumer');
    expect(serviceTag(p.config.functions.outboxRelay.name)).toBe('outbox-relay');
    const cluster = allResources(p).find(([, , r]) => r.Type === 'AWS::MSK::Cluster');
    expect(cluster && tagsOf(cluster[2]).Service).toBe('streaming');
  });
});

describe('cdk-nag', () => {
  it.each(STAGES)(
    'passes AwsSolutions on %s with every acknowledgment on a resource, with a reason',
    (stage) => {
      const p = synthPipeline(stage); // throws on any unacknowledged finding
      const acknowledgments: Array<{
        path: string;
        id: string;
        reason: string;
        scope: IConstruct;
      }> = [];
      for (const stack of Object.values(p.stacks)) {
        for (const c of stack.node.findAll()) {
          for (const entry of c.node.metadata) {
            if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
            // Recorded as `{ "<rule id>": "<reason>" }`.
            for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
              acknowledgments.push({ path: c.node.path, id, reason, scope: c });
            }
          }
        }
      }
      const nag = acknowledgments.filter((a) => a.id.includes('AwsSolutions-'));
      expect(nag.length).toBeGreaterThan(5);
      for (const a of nag) {
        expect(a.reason.length, `${a.path} ${a.id}`).toBeGreaterThan(30);
        // Per resource: never a whole stack or the app.
        expect(a.scope instanceof Stack || a.scope instanceof App, a.path).toBe(false);
      }
    },
  );

  it('fails synthesis on an unacknowledged finding', () => {
    const app = new App();
    const stack = new Stack(app, 'Insecure');
    new s3.Bucket(stack, 'NoTlsNoLogs');
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-S1|AwsSolutions-S10/);
  });
});
