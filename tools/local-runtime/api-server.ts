// Serves the order API handler on 127.0.0.1 for `npm start`: each HTTP request becomes the
// API Gateway HTTP API (payload 2.0) event the deployed `ANY /{proxy+}` route delivers, and the
// handler's result becomes the response. No SigV4 here: the local API listens on loopback only.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';

export type ApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

export interface LocalApi {
  readonly url: string;
  close(): Promise<void>;
}

export interface LocalApiOptions {
  readonly handler: ApiHandler;
  /** 0 picks a free port. */
  readonly port: number;
  /** The function's timeout: the context's remaining time counts down from it. */
  readonly timeoutMs: number;
  readonly functionName: string;
}

/**
 * Lambda's quota for a synchronous invocation's request payload ("Lambda quotas", AWS Lambda
 * Developer Guide: 6 MB): a larger request never reaches the function there either.
 */
export const LAMBDA_SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** Content types API Gateway passes as text; anything else arrives base64-encoded. */
const TEXT_TYPE = /^(text\/|application\/(json|xml|x-www-form-urlencoded|javascript))/i;

export async function startLocalApi(options: LocalApiOptions): Promise<LocalApi> {
  const server = createServer((req, res) => {
    serve(req, res, options).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'InternalServerError', message: String(error) }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`127.0.0.1:${options.port} is in use; choose another port for the order API`)
          : error,
      ),
    );
    server.listen(options.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

async function serve(
  req: IncomingMessage,
  res: ServerResponse,
  options: LocalApiOptions,
): Promise<void> {
  const body = await readBody(req, LAMBDA_SYNC_PAYLOAD_BYTES);
  if (body === 'too-large') {
    res.writeHead(413, { 'content-type': 'application/json', connection: 'close' });
    res.end(JSON.stringify({ message: 'Request Entity Too Large' }));
    return;
  }
  const event = toEvent(req, body);
  const started = Date.now();
  const context = {
    functionName: options.functionName,
    awsRequestId: randomUUID(),
    getRemainingTimeInMillis: () => Math.max(0, options.timeoutMs - (Date.now() - started)),
  } as unknown as Context;
  const result = await options.handler(event, context);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  const payload =
    result.body === undefined
      ? undefined
      : Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8');
  res.writeHead(result.statusCode ?? 200, headers);
  res.end(payload);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.byteLength;
    // Keep reading to the end (so the client sees the answer), but hold nothing more.
    if (size <= limit) chunks.push(buffer);
  }
  return size > limit ? 'too-large' : Buffer.concat(chunks);
}

/** The HTTP API payload 2.0 event for one request, as the `ANY /{proxy+}` route builds it. */
export function toEvent(req: IncomingMessage, body: Buffer): APIGatewayProxyEventV2 {
  const target = req.url ?? '/';
  const queryAt = target.indexOf('?');
  const rawPath = queryAt === -1 ? target : target.slice(0, queryAt);
  const rawQueryString = queryAt === -1 ? '' : target.slice(queryAt + 1);
  // Payload 2.0 joins repeated headers with commas and lower-cases names.
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const method = req.method ?? 'GET';
  const text = TEXT_TYPE.test(headers['content-type'] ?? '');
  const proxy = safeDecode(rawPath.slice(1));
  const now = new Date();
  return {
    version: '2.0',
    routeKey: 'ANY /{proxy+}',
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: headers.host ?? '127.0.0.1',
      domainPrefix: 'local',
      http: {
        method,
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: 'ANY /{proxy+}',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(proxy === undefined ? {} : { pathParameters: { proxy } }),
    isBase64Encoded: body.byteLength > 0 && !text,
    ...(body.byteLength > 0 ? { body: body.toString(text ? 'utf8' : 'base64') } : {}),
  };
}

function safeDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}
