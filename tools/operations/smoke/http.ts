// The order API over HTTP (fetch), for both modes: a stage's API with SigV4-signed requests, or
// the local one unsigned. One correlation id on every request ties the order's log lines together.
import type { OrderApiClient } from './steps';

export const REQUEST_TIMEOUT_MS = 15_000;

export interface OutgoingRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | undefined;
}

/** Returns the headers to send (the request's plus the signature's). */
export type RequestSigner = (request: OutgoingRequest) => Promise<Record<string, string>>;

export interface HttpOrderApiOptions {
  /** Ends with a slash; request paths resolve under it. */
  readonly baseUrl: string;
  readonly correlationId: string;
  readonly sign?: RequestSigner;
  readonly fetch?: typeof fetch;
  readonly timeoutMs?: number;
}

export function httpOrderApi(options: HttpOrderApiOptions): OrderApiClient {
  const send = options.fetch ?? fetch;
  return {
    async request(method, path, body) {
      const url = new URL(path, options.baseUrl);
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const request: OutgoingRequest = {
        method,
        url,
        headers: {
          accept: 'application/json',
          'x-correlation-id': options.correlationId,
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: payload,
      };
      const headers = options.sign ? await options.sign(request) : { ...request.headers };
      const response = await send(url, {
        method,
        headers,
        ...(payload === undefined ? {} : { body: payload }),
        signal: AbortSignal.timeout(options.timeoutMs ?? REQUEST_TIMEOUT_MS),
      });
      return { status: response.status, body: parseBody(await response.text()) };
    },
  };
}

function parseBody(text: string): unknown {
  if (text === '') return '';
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
