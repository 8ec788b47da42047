// Names by which a deployed stage is found from outside it (`npm run smoke`): the stack holding
// the API, the output carrying its URL, the functions' log groups and the alarms' prefix. Pure
// data like the stage config, so tools read it without loading the CDK; the infra test
// (test/infra/deployed-names.test.ts) checks each name against a synthesized stage.
import type { FunctionConfig, StageConfig } from './stage-config';

/** CloudFormation stack name of one part of a stage (lib/pipeline.ts names them so). */
export function stackName(config: StageConfig, part: string): string {
  return `${config.prefix}-${part}`;
}

/** Output keys of the service stack. */
export const SERVICE_STACK_OUTPUTS = {
  /** The HTTP API's `$default` stage URL, with a trailing slash. */
  apiUrl: 'ApiUrl',
} as const;

/** The log group a pipeline function writes to (lib/constructs/pipeline-function.ts). */
export function functionLogGroupName(fn: FunctionConfig): string {
  return `/aws/lambda/${fn.name}`;
}

/** Every alarm of the stage is named `${prefix}-<signal>-<severity>` (observability stack). */
export function alarmNamePrefix(config: StageConfig): string {
  return `${config.prefix}-`;
}
