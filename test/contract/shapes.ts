// Zod schemas of the AWS-facing shapes, written from AWS material (sources per shape in
// test/fixtures/aws/README.md). They describe what AWS sends or accepts, not what our code does:
// a schema that only restated our own types would prove nothing. Where AWS leaves room, the
// schema says which way it leans and why. Events AWS sends are loose objects (AWS adds fields
// over time; a consumer must ignore them); what our functions return to AWS is strict.
import * as z from 'zod';

// --- API Gateway HTTP API, Lambda proxy integration, payload format 2.0 -------------------

/** Non-negative integer that fits a JSON number exactly. */
const safeUint = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * IAM authorizer context (`requestContext.authorizer.iam`). Fields per aws-lambda-go
 * `APIGatewayV2HTTPRequestContextAuthorizerIAMDescription`; `cognitoIdentity` is null for a
 * caller that did not come through a Cognito identity pool.
 */
export const httpApiIamAuthorizerSchema = z.looseObject({
  accessKey: z.string().min(1),
  accountId: z.string().regex(/^\d{12}$/),
  callerId: z.string().min(1),
  cognitoIdentity: z
    .looseObject({
      amr: z.array(z.string()),
      identityId: z.string(),
      identityPoolId: z.string(),
    })
    .nullable(),
  principalOrgId: z.string().nullable(),
  userArn: z.string().regex(/^arn:aws[a-z-]*:(iam|sts)::\d{12}:.+/),
  userId: z.string().min(1),
});

/** The request event (API Gateway developer guide, "Payload format version", 2.0). */
export const httpApiV2EventSchema = z.object({
  version: z.literal('2.0'),
  routeKey: z.string().min(1),
  rawPath: z.string().startsWith('/'),
  rawQueryString: z.string(),
  cookies: z.array(z.string()).optional(),
  // "All header names are lowercase"; duplicate headers arrive comma-joined in one value.
  headers: z.record(
    z.string().regex(/^[^A-Z]+$/, 'header names are lower case in payload 2.0'),
    z.string(),
  ),
  queryStringParameters: z.record(z.string(), z.string()).optional(),
  requestContext: z.object({
    accountId: z.string().regex(/^\d{12}$/),
    apiId: z.string().min(1),
    authorizer: z
      .object({
        iam: httpApiIamAuthorizerSchema.optional(),
        jwt: z
          .object({ claims: z.record(z.string(), z.unknown()), scopes: z.array(z.string()) })
          .optional(),
        lambda: z.record(z.string(), z.unknown()).optional(),
      })
      .optional(),
    domainName: z.string().min(1),
    domainPrefix: z.string().min(1),
    http: z.looseObject({
      method: z.string().regex(/^[A-Z]+$/),
      path: z.string().startsWith('/'),
      protocol: z.string().min(1),
      sourceIp: z.string().min(1),
      userAgent: z.string(),
    }),
    requestId: z.string().min(1),
    routeKey: z.string().min(1),
    stage: z.string().min(1),
    // CLF time, e.g. "12/Mar/2020:19:03:58 +0000".
    time: z.string().regex(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}$/),
    timeEpoch: safeUint,
  }),
  body: z.string().optional(),
  pathParameters: z.record(z.string(), z.string()).optional(),
  isBase64Encoded: z.boolean(),
  stageVariables: z.record(z.string(), z.string()).optional(),
});

/**
 * The structured function response for payload 2.0 (developer guide, "Lambda function response
 * for format 2.0"): cookies, isBase64Encoded, statusCode, headers, body. Deliberately strict:
 * `multiValueHeaders` belongs to format 1.0 and is not read in 2.0, so returning it would
 * silently drop headers.
 */
export const httpApiV2ResponseSchema = z
  .strictObject({
    statusCode: z.number().int().min(100).max(599),
    headers: z.record(z.string(), z.string()).optional(),
    body: z.string().optional(),
    isBase64Encoded: z.boolean().optional(),
    cookies: z.array(z.string().min(1)).optional(),
  })
  .superRefine((res, ctx) => {
    if (res.isBase64Encoded === true && res.body !== undefined) {
      const canonical = Buffer.from(res.body, 'base64').toString('base64');
      if (canonical !== res.body) {
        ctx.addIssue({ code: 'custom', path: ['body'], message: 'body is not base64' });
      }
    }
  });

// --- CloudFormation custom resource -------------------------------------------------------

/** "Custom::" and a name of up to 60 alphanumerics or _@- (crpg-ref, ResourceType). */
const customResourceType = z.string().regex(/^Custom::[A-Za-z0-9_@-]{1,60}$/);

const resourceProperties = z.looseObject({ ServiceToken: z.string().min(1) });

const requestCommon = {
  // Not in the documented field list, but present in real requests (@types/aws-lambda has it).
  ServiceToken: z.string().min(1).optional(),
  ResponseURL: z.url({ protocol: /^https?$/ }),
  StackId: z.string().regex(/^arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:\d{12}:stack\/[^/]+\/.+$/),
  RequestId: z.string().min(1),
  ResourceType: customResourceType,
  LogicalResourceId: z.string().min(1),
  ResourceProperties: resourceProperties,
};

/** The request CloudFormation sends (crpg-ref-requests and the Create/Update/Delete pages). */
export const cfnCustomResourceRequestSchema = z.discriminatedUnion('RequestType', [
  z.looseObject({
    RequestType: z.literal('Create'),
    ...requestCommon,
    // "Always sent with 'Update' and 'Delete' requests; never sent with 'Create'."
    PhysicalResourceId: z.never().optional(),
    OldResourceProperties: z.never().optional(),
  }),
  z.looseObject({
    RequestType: z.literal('Update'),
    ...requestCommon,
    PhysicalResourceId: z.string().min(1),
    OldResourceProperties: resourceProperties,
  }),
  z.looseObject({
    RequestType: z.literal('Delete'),
    ...requestCommon,
    PhysicalResourceId: z.string().min(1),
    OldResourceProperties: z.never().optional(),
  }),
]);

const utf8Bytes = (s: string) => Buffer.byteLength(s, 'utf8');

/**
 * What a CDK Provider framework `onEvent` handler returns (aws-cdk-lib custom-resources README,
 * "Handling Lifecycle Events: onEvent"): PhysicalResourceId, Data, NoEcho; other fields are
 * passed to isComplete. Stricter than the framework on one point: PhysicalResourceId is
 * required (the framework's types.d.ts asks every event type to return it), non-empty and at
 * most 1 KB (CloudFormation's response reference).
 */
export const providerOnEventResponseSchema = z.looseObject({
  PhysicalResourceId: z
    .string()
    .min(1)
    .refine((s) => utf8Bytes(s) <= 1024, 'PhysicalResourceId is at most 1 KB'),
  Data: z.record(z.string(), z.unknown()).optional(),
  NoEcho: z.boolean().optional(),
});

/** The body the framework PUTs to ResponseURL (crpg-ref-responses); at most 4096 bytes. */
export const cfnCustomResourceResponseSchema = z
  .strictObject({
    Status: z.enum(['SUCCESS', 'FAILED']),
    Reason: z.string().optional(),
    PhysicalResourceId: z
      .string()
      .min(1)
      .refine((s) => utf8Bytes(s) <= 1024, 'PhysicalResourceId is at most 1 KB'),
    StackId: z.string().min(1),
    RequestId: z.string().min(1),
    LogicalResourceId: z.string().min(1),
    NoEcho: z.boolean().optional(),
    Data: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((res, ctx) => {
    if (res.Status === 'FAILED' && (res.Reason ?? '') === '') {
      ctx.addIssue({ code: 'custom', path: ['Reason'], message: 'Reason is required on FAILED' });
    }
    if (utf8Bytes(JSON.stringify(res)) > 4096) {
      ctx.addIssue({ code: 'custom', message: 'the response body exceeds 4096 bytes' });
    }
  });

// --- CloudWatch embedded metric format ----------------------------------------------------

/** Units a MetricDefinition may name (MetricDatum / the EMF JSON schema's pattern). */
export const EMF_UNITS = [
  'Seconds',
  'Microseconds',
  'Milliseconds',
  'Bytes',
  'Kilobytes',
  'Megabytes',
  'Gigabytes',
  'Terabytes',
  'Bits',
  'Kilobits',
  'Megabits',
  'Gigabits',
  'Terabits',
  'Percent',
  'Count',
  'Bytes/Second',
  'Kilobytes/Second',
  'Megabytes/Second',
  'Gigabytes/Second',
  'Terabytes/Second',
  'Bits/Second',
  'Kilobits/Second',
  'Megabits/Second',
  'Gigabits/Second',
  'Terabits/Second',
  'Count/Second',
  'None',
] as const;

export const EMF_LIMITS = {
  metricsPerDirective: 100,
  dimensionsPerSet: 30,
  valuesPerMetric: 100,
} as const;

const emfName = z.string().min(1).max(255);

const metricDefinition = z.strictObject({
  Name: emfName,
  Unit: z.enum(EMF_UNITS).optional(),
  StorageResolution: z.union([z.literal(1), z.literal(60)]).optional(),
});

const metricDirective = z.strictObject({
  Namespace: emfName,
  Dimensions: z.array(z.array(emfName).max(EMF_LIMITS.dimensionsPerSet)).min(1),
  Metrics: z.array(metricDefinition).max(EMF_LIMITS.metricsPerDirective),
});

const metricValue = z.union([
  z.number(),
  z.array(z.number()).min(1).max(EMF_LIMITS.valuesPerMetric),
]);

/**
 * An EMF document (CloudWatch user guide, "Specification: Embedded metric format"): the root
 * must hold `_aws` and one top-level member per referenced metric (a number or up to 100
 * numbers) and per referenced dimension (a string). Objects the spec defines take no other
 * members; the root may carry any others.
 */
export const emfDocumentSchema = z
  .looseObject({
    _aws: z.strictObject({
      Timestamp: safeUint,
      CloudWatchMetrics: z.array(metricDirective),
    }),
  })
  .superRefine((doc, ctx) => {
    const root = doc as Record<string, unknown>;
    doc._aws.CloudWatchMetrics.forEach((directive, d) => {
      directive.Metrics.forEach((metric, m) => {
        const parsed = metricValue.safeParse(root[metric.Name]);
        if (!parsed.success) {
          ctx.addIssue({
            code: 'custom',
            path: ['_aws', 'CloudWatchMetrics', d, 'Metrics', m, 'Name'],
            message: `metric target "${metric.Name}" must be a number or 1..100 numbers on the root`,
          });
        }
      });
      directive.Dimensions.forEach((set, s) => {
        set.forEach((key, k) => {
          if (typeof root[key] !== 'string') {
            ctx.addIssue({
              code: 'custom',
              path: ['_aws', 'CloudWatchMetrics', d, 'Dimensions', s, k],
              message: `dimension target "${key}" must be a string on the root`,
            });
          }
        });
      });
    });
  });

// --- Amazon MSK event source ----------------------------------------------------------------

const base64 = z
  .string()
  .refine((s) => Buffer.from(s, 'base64').toString('base64') === s, 'not canonical base64');

const mskRecord = z.looseObject({
  topic: z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/),
  partition: z.number().int().nonnegative(),
  offset: safeUint,
  timestamp: safeUint,
  timestampType: z.enum(['CREATE_TIME', 'LOG_APPEND_TIME']),
  key: base64.optional(),
  value: base64.optional(),
  // One object per header, its name mapped to the value's bytes.
  headers: z.array(z.record(z.string(), z.array(z.number().int().min(0).max(255)))),
});

/** The MSK event (Lambda developer guide, "Using Lambda with Amazon MSK", example event). */
export const mskEventSchema = z
  .looseObject({
    eventSource: z.literal('aws:kafka'),
    eventSourceArn: z.string().regex(/^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster\/.+/),
    bootstrapServers: z.string().regex(/^[^\s,:]+:\d+(,[^\s,:]+:\d+)*$/),
    records: z.record(z.string().regex(/^.+-\d+$/), z.array(mskRecord).min(1)),
  })
  .superRefine((event, ctx) => {
    for (const [key, records] of Object.entries(event.records)) {
      records.forEach((r, i) => {
        if (`${r.topic}-${r.partition}` !== key) {
          ctx.addIssue({
            code: 'custom',
            path: ['records', key, i],
            message: `record of ${r.topic}-${r.partition} listed under "${key}"`,
          });
        }
      });
    }
  });

// --- Kafka partial batch response -------------------------------------------------------

/**
 * What a function fed by a Kafka event source mapping returns with ReportBatchItemFailures:
 * each itemIdentifier is an object with exactly `partition` ("<topic>-<partition>", the key of
 * the event's `records`) and `offset` (a number), not the string SQS, Kinesis and DynamoDB
 * streams use. Sources: Powertools for AWS Lambda (Python) batch/types.py `KafkaItemIdentifier`
 * and base.py `_collect_kafka_failures`; Lambda guide "Configuring error handling controls for
 * Kafka event sources".
 */
export const kafkaItemIdentifierSchema = z.strictObject({
  partition: z.string().regex(/^.+-\d+$/),
  offset: z.number().int().nonnegative(),
});

export const kafkaBatchResponseSchema = z.strictObject({
  batchItemFailures: z.array(z.strictObject({ itemIdentifier: kafkaItemIdentifierSchema })),
});

// --- helpers ----------------------------------------------------------------------------

/** Issue paths of a failed parse, dotted, for readable assertions. */
export function issuePaths(result: { success: boolean; error?: z.ZodError }): string[] {
  return (result.error?.issues ?? []).map((i) => i.path.map(String).join('.'));
}
