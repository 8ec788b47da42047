// The names `npm run smoke` finds a deployed stage by (lib/config/deployed-names.ts) against the
// synthesized stacks: the service stack's name and its API URL output, the consumer's and
// triage's log groups, the alarms' prefix.
import { describe, expect, it } from 'vitest';
import {
  alarmNamePrefix,
  functionLogGroupName,
  SERVICE_STACK_OUTPUTS,
  stackName,
} from '../../lib/config/deployed-names';
import { props, resourcesOfType, type SynthesizedPipeline, synthPipeline } from './synth';

type Json = Record<string, unknown>;

describe('deployed names (dev)', () => {
  let synthesized: SynthesizedPipeline | undefined;
  const p = (): SynthesizedPipeline => {
    synthesized ??= synthPipeline('dev');
    return synthesized;
  };

  it('names the service stack as the smoke test looks it up', () => {
    expect(p().stacks.service.stackName).toBe(stackName(p().config, 'service'));
  });

  it('outputs the URL of the HTTP API’s $default stage', () => {
    const { service } = p().templates;
    const outputs = (service.toJSON().Outputs ?? {}) as Record<string, Json>;
    const output = outputs[SERVICE_STACK_OUTPUTS.apiUrl];
    expect(output, `outputs: ${Object.keys(outputs).join(', ')}`).toBeDefined();
    const [api] = Object.keys(service.findResources('AWS::ApiGatewayV2::Api'));
    expect(api).toBeDefined();
    // https://<api id>.execute-api.<region>.<url suffix>/ : no stage path for $default.
    expect(output?.Value).toEqual({
      'Fn::Join': [
        '',
        [
          'https://',
          { Ref: api },
          `.execute-api.${p().config.region}.`,
          { Ref: 'AWS::URLSuffix' },
          '/',
        ],
      ],
    });
    // A stack output, not an export: nothing else may come to depend on it.
    expect(output?.Export).toBeUndefined();
    service.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: '$default' });
  });

  it('gives the consumer and triage the log groups the dead-letter check searches', () => {
    const names = resourcesOfType(p(), 'AWS::Logs::LogGroup')
      .filter(([part]) => part === 'service')
      .map(([, , r]) => props(r).LogGroupName);
    const { functions } = p().config;
    for (const fn of [functions.orderConsumer, functions.dlqTriage]) {
      expect(names).toContain(functionLogGroupName(fn));
    }
  });

  it('names every alarm of the stage with the prefix the alarm check lists', () => {
    const alarms = resourcesOfType(p(), 'AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThan(0);
    for (const [part, id, r] of alarms) {
      expect(props(r).AlarmName, `${part}/${id}`).toMatch(
        new RegExp(`^${alarmNamePrefix(p().config)}`),
      );
    }
  });
});
