import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

export interface Finding {
  /** A cdk-nag rule id, narrowed to one finding where the rule reports several: `AwsSolutions-IAM5[Resource::*]`. */
  readonly id: string;
  readonly reason: string;
}

/** Acknowledges cdk-nag findings on one construct, each with its reason (cdk-nag v3 API). */
export function acknowledge(scope: IConstruct, findings: readonly Finding[]): void {
  for (const f of findings) Validations.of(scope).acknowledge({ id: f.id, reason: f.reason });
}
