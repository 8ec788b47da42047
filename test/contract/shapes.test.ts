// The schemas accept the fixtures written from AWS material and reject the mutations AWS would
// not send or accept, so each schema is shown able to fail.
import { describe, expect, it } from 'vitest';
import { fixture } from './fixtures';
import {
  cfnCustomResourceRequestSchema,
  cfnCustomResourceResponseSchema,
  EMF_LIMITS,
  emfDocumentSchema,
  httpApiV2EventSchema,
  httpApiV2ResponseSchema,
  issuePaths,
  kafkaBatchResponseSchema,
  mskEventSchema,
  providerOnEventResponseSchema,
} from './shapes';

type Json = Record<string, unknown>;
// Fixtures are plain JSON; these views let a test reach into them and mutate a copy.
type Failure = { itemIdentifier: Json };
type BatchResponse = { batchItemFailures: Failure[] };
type Emf = {
  _aws: { Timestamp: unknown; CloudWatchMetrics: Array<Json & { Metrics: Json[] }> };
} & Json;

function firstFailure(response: BatchResponse): Failure {
  const failure = response.batchItemFailures[0];
  if (failure === undefined) throw new Error('fixture has no failures');
  return failure;
}

function firstDirective(doc: Emf): Json & { Metrics: Json[] } {
  const directive = doc._aws.CloudWatchMetrics[0];
  if (directive === undefined) throw new Error('fixture has no directive');
  return directive;
}

describe('kafkaBatchResponseSchema', () => {
  const valid = () => fixture<BatchResponse>('kafka-batch-response.json');

  it('accepts the fixture and an empty list', () => {
    expect(kafkaBatchResponseSchema.safeParse(valid()).success).toBe(true);
    expect(kafkaBatchResponseSchema.safeParse({ batchItemFailures: [] }).success).toBe(true);
  });

  it('rejects the string identifier SQS, Kinesis and DynamoDB use', () => {
    const r = valid();
    firstFailure(r).itemIdentifier = 'order-events-0-16' as unknown as Json;
    const result = kafkaBatchResponseSchema.safeParse(r);
    expect(result.success).toBe(false);
    expect(issuePaths(result)).toEqual(['batchItemFailures.0.itemIdentifier']);
  });

  it('rejects a missing offset, an offset as a string and a negative or fractional offset', () => {
    for (const offset of [undefined, '16', -1, 16.5]) {
      const r = valid();
      const id = firstFailure(r).itemIdentifier;
      if (offset === undefined) delete id.offset;
      else id.offset = offset;
      const result = kafkaBatchResponseSchema.safeParse(r);
      expect(result.success, `offset ${String(offset)}`).toBe(false);
      expect(issuePaths(result)).toEqual(['batchItemFailures.0.itemIdentifier.offset']);
    }
  });

  it('rejects a partition that is a number or lacks its "-<partition>" suffix', () => {
    for (const partition of [0, 'order-events', '']) {
      const r = valid();
      firstFailure(r).itemIdentifier.partition = partition;
      const result = kafkaBatchResponseSchema.safeParse(r);
      expect(result.success, `partition ${JSON.stringify(partition)}`).toBe(false);
      expect(issuePaths(result)).toEqual(['batchItemFailures.0.itemIdentifier.partition']);
    }
  });

  it('rejects extra identifier members (e.g. the topic beside the partition key)', () => {
    const r = valid();
    firstFailure(r).itemIdentifier.topic = 'order-events';
    expect(kafkaBatchResponseSchema.safeParse(r).success).toBe(false);
  });
});

describe('mskEventSchema', () => {
  const valid = () => fixture<{ records: Record<string, Json[]> } & Json>('msk-event.json');

  it('accepts the fixture (two partitions of order-events)', () => {
    const event = valid();
    expect(mskEventSchema.safeParse(event).success).toBe(true);
    expect(Object.keys(event.records)).toEqual(['order-events-0', 'order-events-3']);
  });

  it('rejects another event source, a record under the wrong key and non-byte headers', () => {
    const other = valid();
    other.eventSource = 'SelfManagedKafka';
    expect(issuePaths(mskEventSchema.safeParse(other))).toEqual(['eventSource']);

    const moved = valid();
    moved.records['order-events-1'] = moved.records['order-events-3'] ?? [];
    delete moved.records['order-events-3'];
    expect(issuePaths(mskEventSchema.safeParse(moved))).toEqual(['records.order-events-1.0']);

    const headers = valid();
    const record = headers.records['order-events-0']?.[0];
    if (record === undefined) throw new Error('fixture has no record');
    record.headers = [{ eventId: 'not-bytes' }];
    expect(mskEventSchema.safeParse(headers).success).toBe(false);
  });

  it('rejects an offset or partition sent as a string', () => {
    const event = valid();
    const record = event.records['order-events-3']?.[0];
    if (record === undefined) throw new Error('fixture has no record');
    record.offset = '482';
    expect(issuePaths(mskEventSchema.safeParse(event))).toEqual([
      'records.order-events-3.0.offset',
    ]);
  });
});

describe('httpApiV2EventSchema', () => {
  const names = [
    'apigw-http-v2-post-orders.json',
    'apigw-http-v2-post-orders-base64.json',
    'apigw-http-v2-get-health.json',
  ] as const;

  it.each(names)('accepts %s', (name) => {
    const result = httpApiV2EventSchema.safeParse(fixture(name));
    expect(result.error?.issues ?? []).toEqual([]);
  });

  it('rejects payload 1.0, capitalised header names and a missing IAM caller', () => {
    const v1 = fixture('apigw-http-v2-post-orders.json');
    v1.version = '1.0';
    expect(issuePaths(httpApiV2EventSchema.safeParse(v1))).toEqual(['version']);

    const caps = fixture<{ headers: Json } & Json>('apigw-http-v2-post-orders.json');
    caps.headers['Content-Type'] = 'application/json';
    expect(issuePaths(httpApiV2EventSchema.safeParse(caps))).toEqual(['headers.Content-Type']);

    const noCaller = fixture<{ requestContext: { authorizer: { iam: Json } } } & Json>(
      'apigw-http-v2-post-orders.json',
    );
    delete noCaller.requestContext.authorizer.iam.userArn;
    expect(issuePaths(httpApiV2EventSchema.safeParse(noCaller))).toEqual([
      'requestContext.authorizer.iam.userArn',
    ]);
  });
});

describe('httpApiV2ResponseSchema', () => {
  const valid = () => fixture('apigw-http-v2-response.json');

  it('accepts the fixture, with or without the optional members', () => {
    expect(httpApiV2ResponseSchema.safeParse(valid()).success).toBe(true);
    expect(httpApiV2ResponseSchema.safeParse({ statusCode: 204 }).success).toBe(true);
    expect(
      httpApiV2ResponseSchema.safeParse({ ...valid(), cookies: ['session=abc; Secure; HttpOnly'] })
        .success,
    ).toBe(true);
  });

  it('rejects a string status, format 1.0 multiValueHeaders, array header values, bad base64', () => {
    expect(
      issuePaths(httpApiV2ResponseSchema.safeParse({ ...valid(), statusCode: '202' })),
    ).toEqual(['statusCode']);
    expect(
      httpApiV2ResponseSchema.safeParse({ ...valid(), multiValueHeaders: { a: ['1', '2'] } })
        .success,
    ).toBe(false);
    expect(
      issuePaths(httpApiV2ResponseSchema.safeParse({ ...valid(), headers: { allow: ['POST'] } })),
    ).toEqual(['headers.allow']);
    expect(
      issuePaths(
        httpApiV2ResponseSchema.safeParse({ ...valid(), isBase64Encoded: true, body: '{"a":1}' }),
      ),
    ).toEqual(['body']);
  });
});

describe('cfnCustomResourceRequestSchema', () => {
  const names = [
    'cfn-custom-resource-create.json',
    'cfn-custom-resource-update.json',
    'cfn-custom-resource-delete.json',
  ] as const;

  it.each(names)('accepts %s', (name) => {
    const result = cfnCustomResourceRequestSchema.safeParse(fixture(name));
    expect(result.error?.issues ?? []).toEqual([]);
  });

  it('rejects an Update without OldResourceProperties and a Delete without PhysicalResourceId', () => {
    const update = fixture('cfn-custom-resource-update.json');
    delete update.OldResourceProperties;
    expect(issuePaths(cfnCustomResourceRequestSchema.safeParse(update))).toEqual([
      'OldResourceProperties',
    ]);
    const del = fixture('cfn-custom-resource-delete.json');
    delete del.PhysicalResourceId;
    expect(issuePaths(cfnCustomResourceRequestSchema.safeParse(del))).toEqual([
      'PhysicalResourceId',
    ]);
  });

  it('rejects a Create carrying a PhysicalResourceId, an unknown request type, no ServiceToken', () => {
    const create = fixture('cfn-custom-resource-create.json');
    create.PhysicalResourceId = 'topics:order-events';
    expect(issuePaths(cfnCustomResourceRequestSchema.safeParse(create))).toEqual([
      'PhysicalResourceId',
    ]);
    const other = fixture('cfn-custom-resource-create.json');
    other.RequestType = 'Replace';
    expect(cfnCustomResourceRequestSchema.safeParse(other).success).toBe(false);
    const noToken = fixture<{ ResourceProperties: Json } & Json>('cfn-custom-resource-create.json');
    delete noToken.ResourceProperties.ServiceToken;
    expect(issuePaths(cfnCustomResourceRequestSchema.safeParse(noToken))).toEqual([
      'ResourceProperties.ServiceToken',
    ]);
  });
});

describe('provider onEvent and CloudFormation response schemas', () => {
  it('accept a documented onEvent result and reject an empty or oversized physical id', () => {
    const ok = { PhysicalResourceId: 'topics:a,b', Data: { TopicNames: 'a,b' } };
    expect(providerOnEventResponseSchema.safeParse(ok).success).toBe(true);
    expect(providerOnEventResponseSchema.safeParse({ Data: {} }).success).toBe(false);
    expect(providerOnEventResponseSchema.safeParse({ PhysicalResourceId: '' }).success).toBe(false);
    expect(
      providerOnEventResponseSchema.safeParse({ PhysicalResourceId: 'x'.repeat(1025) }).success,
    ).toBe(false);
    expect(
      providerOnEventResponseSchema.safeParse({ PhysicalResourceId: 'a', Data: 'TopicNames' })
        .success,
    ).toBe(false);
  });

  it('checks the response body: Reason on FAILED, at most 4096 bytes', () => {
    const body = {
      Status: 'SUCCESS',
      PhysicalResourceId: 'topics:a',
      StackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/s/1',
      RequestId: 'r-1',
      LogicalResourceId: 'Topics',
      Data: { TopicNames: 'a' },
    };
    expect(cfnCustomResourceResponseSchema.safeParse(body).success).toBe(true);
    expect(cfnCustomResourceResponseSchema.safeParse({ ...body, Status: 'FAILED' }).success).toBe(
      false,
    );
    expect(
      cfnCustomResourceResponseSchema.safeParse({ ...body, Data: { big: 'x'.repeat(4096) } })
        .success,
    ).toBe(false);
  });
});

describe('emfDocumentSchema', () => {
  const valid = () => fixture<Emf>('emf-metrics.json');

  it('accepts the fixture', () => {
    const result = emfDocumentSchema.safeParse(valid());
    expect(result.error?.issues ?? []).toEqual([]);
  });

  it('rejects a document without _aws, or without Timestamp or CloudWatchMetrics', () => {
    const { _aws, ...noAws } = valid();
    expect(issuePaths(emfDocumentSchema.safeParse(noAws))).toEqual(['_aws']);
    const noTimestamp = valid();
    delete (noTimestamp._aws as Json).Timestamp;
    expect(issuePaths(emfDocumentSchema.safeParse(noTimestamp))).toEqual(['_aws.Timestamp']);
    const noDirectives = valid();
    delete (noDirectives._aws as Json).CloudWatchMetrics;
    expect(issuePaths(emfDocumentSchema.safeParse(noDirectives))).toEqual([
      '_aws.CloudWatchMetrics',
    ]);
  });

  it('rejects a metric whose root member is missing, a string or over 100 values', () => {
    for (const value of [undefined, '3', Array.from({ length: 101 }, () => 1)]) {
      const doc = valid();
      if (value === undefined) delete doc.EventsProcessed;
      else doc.EventsProcessed = value;
      expect(issuePaths(emfDocumentSchema.safeParse(doc))).toEqual([
        '_aws.CloudWatchMetrics.0.Metrics.0.Name',
      ]);
    }
  });

  it('rejects a dimension target that is not a string', () => {
    const doc = valid();
    doc.service = 7;
    expect(issuePaths(emfDocumentSchema.safeParse(doc))).toEqual([
      '_aws.CloudWatchMetrics.0.Dimensions.0.0',
    ]);
  });

  it('enforces the limits: 100 metrics per directive, 30 keys per dimension set', () => {
    const many = valid();
    const directive = firstDirective(many);
    directive.Metrics = Array.from({ length: EMF_LIMITS.metricsPerDirective + 1 }, (_, i) => {
      many[`M${i}`] = i;
      return { Name: `M${i}`, Unit: 'Count' };
    });
    expect(issuePaths(emfDocumentSchema.safeParse(many))).toEqual([
      '_aws.CloudWatchMetrics.0.Metrics',
    ]);

    const wide = valid();
    const keys = Array.from({ length: EMF_LIMITS.dimensionsPerSet + 1 }, (_, i) => `d${i}`);
    for (const k of keys) wide[k] = 'v';
    firstDirective(wide).Dimensions = [keys];
    expect(issuePaths(emfDocumentSchema.safeParse(wide))).toEqual([
      '_aws.CloudWatchMetrics.0.Dimensions.0',
    ]);
    firstDirective(wide).Dimensions = [keys.slice(0, EMF_LIMITS.dimensionsPerSet)];
    expect(emfDocumentSchema.safeParse(wide).success).toBe(true);
  });

  it('rejects an unknown unit, a storage resolution other than 1 or 60, extra directive members', () => {
    const unit = valid();
    (firstDirective(unit).Metrics[0] as Json).Unit = 'Requests';
    expect(issuePaths(emfDocumentSchema.safeParse(unit))).toEqual([
      '_aws.CloudWatchMetrics.0.Metrics.0.Unit',
    ]);
    const resolution = valid();
    (firstDirective(resolution).Metrics[1] as Json).StorageResolution = 30;
    expect(issuePaths(emfDocumentSchema.safeParse(resolution))).toEqual([
      '_aws.CloudWatchMetrics.0.Metrics.1.StorageResolution',
    ]);
    const extra = valid();
    firstDirective(extra).Dimension = [['service']];
    expect(emfDocumentSchema.safeParse(extra).success).toBe(false);
  });
});
