// Recorded S3 response shapes for the stubbed client of recover's S3 path (S3 has no local
// equivalent the project runs). Shapes as the AWS SDK for JavaScript v3 returns them, per
//   - @aws-sdk/client-s3 3.1169.0, dist-types/commands/ListObjectsV2Command.d.ts: the
//     ListObjectsV2Output syntax and its example "To get object list" (IsTruncated, KeyCount,
//     MaxKeys, Name, NextContinuationToken, Prefix, Contents[] of Key, LastModified, ETag, Size,
//     StorageClass);
//   - dist-types/commands/GetObjectCommand.d.ts: GetObjectOutput and the example "To retrieve an
//     object" (AcceptRanges, ContentLength, ContentType, ETag, LastModified, Metadata, VersionId,
//     Body: an SdkStream read with transformToString());
//   - S3 API Reference, ListObjectsV2 and GetObject (read 2026-12-03):
//     https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
//     https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
// plus the `$metadata` every SDK v3 output carries. Keys follow Lambda's documented layout
// aws/lambda/<ESM-UUID>/<shardID>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<Random UUID>.
import { Buffer } from 'node:buffer';
import { Readable } from 'node:stream';
import type {
  GetObjectCommandOutput,
  ListObjectsV2CommandOutput,
  NoSuchKey,
} from '@aws-sdk/client-s3';

export const BUCKET = 'order-pipeline-dev-triage-failures';
export const PREFIX = 'aws/lambda/f89f8514-cdd9-4602-9e1f-01a5b77d449b/';

export const KEYS = {
  first: `${PREFIX}order-events-dlq-2/2026/12/02/2026-12-02T09.16.41-0e5a3f7c-1b2d-4c8e-9f6a-7d3b2e1c0a94`,
  folder: `${PREFIX}order-events-dlq-5/`,
  second: `${PREFIX}order-events-dlq-5/2026/12/02/2026-12-02T11.02.07-6c1d9e2a-4b7f-4a3c-8e5d-2f9a0b1c7d36`,
} as const;

const metadata = (requestId: string) => ({
  httpStatusCode: 200,
  requestId,
  extendedRequestId: 'hT0XkYbq5y3+QZl9mVd0Nw4d3m0A6cJ2n1bX8kQ7rP5sL4uW2eY=',
  cfId: undefined,
  attempts: 1,
  totalRetryDelay: 0,
});

/** First page: truncated, with a continuation token (MaxKeys 2 to force a second page). */
export const listPage1: ListObjectsV2CommandOutput = {
  $metadata: metadata('3QJ8ZK5XW7A1B2C3'),
  IsTruncated: true,
  Contents: [
    {
      Key: KEYS.first,
      LastModified: new Date('2026-12-02T09:16:41.000Z'),
      ETag: '"70ee1738b6b21e2c8a43f3a5ab0eee71"',
      Size: 3412,
      StorageClass: 'STANDARD',
    },
    {
      // A zero-byte "folder" object someone created in the console.
      Key: KEYS.folder,
      LastModified: new Date('2026-12-02T10:00:00.000Z'),
      ETag: '"d41d8cd98f00b204e9800998ecf8427e"',
      Size: 0,
      StorageClass: 'STANDARD',
    },
  ],
  Name: BUCKET,
  Prefix: PREFIX,
  MaxKeys: 2,
  KeyCount: 2,
  NextContinuationToken: '1w41l63U0xa8q7smH50vCxyTQqdxo69O3EmK28Bi5PcROI4wI/EyIJg==',
};

/** Second and last page. */
export const listPage2: ListObjectsV2CommandOutput = {
  $metadata: metadata('3QJ8ZK5XW7A1B2C4'),
  IsTruncated: false,
  Contents: [
    {
      Key: KEYS.second,
      LastModified: new Date('2026-12-02T11:02:07.000Z'),
      ETag: '"becf17f89c30367a9a44495d62ed521a"',
      Size: 2980,
      StorageClass: 'STANDARD',
    },
  ],
  Name: BUCKET,
  Prefix: PREFIX,
  MaxKeys: 2,
  KeyCount: 1,
  ContinuationToken: '1w41l63U0xa8q7smH50vCxyTQqdxo69O3EmK28Bi5PcROI4wI/EyIJg==',
};

/** An empty prefix: no Contents at all (not an empty list). */
export const listEmpty: ListObjectsV2CommandOutput = {
  $metadata: metadata('3QJ8ZK5XW7A1B2C5'),
  IsTruncated: false,
  Name: BUCKET,
  Prefix: PREFIX,
  MaxKeys: 1000,
  KeyCount: 0,
};

/**
 * A GetObject output around `text`. Body is a Node stream with the SDK's stream mixin methods
 * (the SDK wraps the HTTP response's IncomingMessage the same way).
 */
export function getObjectOutput(text: string): GetObjectCommandOutput {
  const bytes = Buffer.from(text, 'utf8');
  const body = Object.assign(Readable.from([bytes]), {
    transformToString: async (encoding?: string) =>
      bytes.toString((encoding ?? 'utf-8') as BufferEncoding),
    transformToByteArray: async () => new Uint8Array(bytes),
    transformToWebStream: () => {
      throw new Error('not used');
    },
  });
  return {
    $metadata: metadata('7PC3NV0YQ2D8E9F1'),
    AcceptRanges: 'bytes',
    LastModified: new Date('2026-12-02T09:16:41.000Z'),
    ContentLength: bytes.length,
    ETag: '"70ee1738b6b21e2c8a43f3a5ab0eee71"',
    ContentType: 'application/octet-stream',
    ServerSideEncryption: 'AES256',
    Metadata: {},
    Body: body as unknown as GetObjectCommandOutput['Body'],
  };
}

/** What the SDK throws for GetObject on a key that is gone (a 404 NoSuchKey). */
export function noSuchKey(): Error & Pick<NoSuchKey, '$fault' | '$metadata'> {
  return Object.assign(new Error('The specified key does not exist.'), {
    name: 'NoSuchKey',
    $fault: 'client' as const,
    $metadata: { ...metadata('7PC3NV0YQ2D8E9F2'), httpStatusCode: 404 },
  });
}
