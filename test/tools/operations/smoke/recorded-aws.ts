// A local HTTP endpoint that answers the smoke test's three AWS calls with recorded responses
// (test/fixtures/aws/smoke, see SOURCE.md there), in each service's own wire format, so the real
// SDK clients serialize the request and parse the response: CloudFormation speaks the query
// protocol (form-encoded request, XML response), CloudWatch AWS JSON 1.0 (as the pinned client
// does) and CloudWatch Logs AWS JSON 1.1 (both selected by X-Amz-Target).
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export const FIXTURES = path.resolve(__dirname, '../../../fixtures/aws/smoke');

export type Operation = 'DescribeStacks' | 'DescribeAlarms' | 'FilterLogEvents';

export interface Recorded {
  /** File under test/fixtures/aws/smoke. */
  readonly file: string;
  readonly status?: number;
  /** Applied to the file's text before it is sent (e.g. the API URL of a local stand-in). */
  readonly edit?: (text: string) => string;
}

export interface ReceivedCall {
  readonly operation: Operation;
  readonly headers: IncomingMessage['headers'];
  /** Form fields (query protocol) or the JSON document (JSON protocols). */
  readonly params: Record<string, unknown>;
}

const WIRE: Record<Operation, { readonly contentType: string; readonly errorHeader?: boolean }> = {
  DescribeStacks: { contentType: 'text/xml' },
  DescribeAlarms: { contentType: 'application/x-amz-json-1.0', errorHeader: true },
  FilterLogEvents: { contentType: 'application/x-amz-json-1.1', errorHeader: true },
};

const TARGETS: Record<string, Operation> = {
  'GraniteServiceVersion20100801.DescribeAlarms': 'DescribeAlarms',
  'Logs_20140328.FilterLogEvents': 'FilterLogEvents',
};

export interface RecordedAws {
  readonly endpoint: string;
  readonly calls: ReceivedCall[];
  /** Answers for the next calls of an operation, in order; one per call. */
  queue(operation: Operation, ...answers: Recorded[]): void;
  /** Answers the operation's calls by their parameters (concurrent calls). */
  route(operation: Operation, pick: (params: Record<string, unknown>) => Recorded): void;
  close(): Promise<void>;
}

export async function startRecordedAws(): Promise<RecordedAws> {
  const queues = new Map<Operation, Recorded[]>();
  const routes = new Map<Operation, (params: Record<string, unknown>) => Recorded>();
  const calls: ReceivedCall[] = [];

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const target = req.headers['x-amz-target'];
      let operation: Operation | undefined;
      let params: Record<string, unknown>;
      if (typeof target === 'string') {
        operation = TARGETS[target];
        params = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
      } else {
        params = Object.fromEntries(new URLSearchParams(text));
        operation = params.Action === 'DescribeStacks' ? 'DescribeStacks' : undefined;
      }
      if (operation === undefined) {
        res
          .writeHead(400, { 'content-type': 'text/plain' })
          .end(`unexpected call: ${target ?? text}`);
        return;
      }
      calls.push({ operation, headers: req.headers, params });
      const answer = routes.get(operation)?.(params) ?? queues.get(operation)?.shift();
      if (answer === undefined) {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`no recorded ${operation} left`);
        return;
      }
      const raw = readFileSync(path.join(FIXTURES, answer.file), 'utf8');
      const body = answer.edit ? answer.edit(raw) : raw;
      const status = answer.status ?? 200;
      const headers: Record<string, string> = {
        'content-type': WIRE[operation].contentType,
        'x-amzn-requestid': 'a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d',
      };
      if (status >= 400 && WIRE[operation].errorHeader) {
        headers['x-amzn-errortype'] = String((JSON.parse(body) as { __type: string }).__type);
      }
      res.writeHead(status, headers).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    queue(operation, ...answers) {
      queues.set(operation, [...(queues.get(operation) ?? []), ...answers]);
    },
    route(operation, pick) {
      routes.set(operation, pick);
    },
    close: () =>
      new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      ),
  };
}

/** Static credentials for the clients and the signer (never a real key). */
export const TEST_CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLESMOKE0001',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN',
} as const;
