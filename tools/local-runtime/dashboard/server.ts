// The dashboard's HTTP server: 127.0.0.1 only, two GET routes, strict headers. node:http is
// enough for one page and one JSON route; no framework dependency.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONTENT_SECURITY_POLICY, PAGE_HTML } from './page/page';
import type { DashboardSnapshot } from './snapshot';

export const DASHBOARD_HOST = '127.0.0.1';

const COMMON_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
} as const;

export interface DashboardServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

function send(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  head: boolean,
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, {
    ...COMMON_HEADERS,
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(body),
    ...extra,
  });
  res.end(head ? undefined : body);
}

export function startDashboardServer(
  snapshot: () => DashboardSnapshot,
  port = 0,
): Promise<DashboardServer> {
  let allowedHosts = new Set<string>();
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const head = req.method === 'HEAD';
    // A foreign Host header means another site is reaching us through DNS rebinding.
    if (!allowedHosts.has(req.headers.host ?? '')) {
      send(res, 421, 'text/plain; charset=utf-8', 'Misdirected request\n', head);
      return;
    }
    if (req.method !== 'GET' && !head) {
      send(res, 405, 'text/plain; charset=utf-8', 'Method not allowed\n', head, {
        Allow: 'GET, HEAD',
      });
      return;
    }
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/') {
      send(res, 200, 'text/html; charset=utf-8', PAGE_HTML, head, {
        'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      });
      return;
    }
    if (path === '/api/signals') {
      let body: string;
      try {
        body = JSON.stringify(snapshot());
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        send(res, 500, 'application/json', JSON.stringify({ error: message }), head);
        return;
      }
      send(res, 200, 'application/json', body, head);
      return;
    }
    if (path === '/favicon.ico') {
      // Browsers ask for it on their own; an empty answer keeps their consoles free of 404s.
      res.writeHead(204, COMMON_HEADERS);
      res.end();
      return;
    }
    send(res, 404, 'text/plain; charset=utf-8', 'Not found\n', head);
  };

  const server: Server = createServer(handle);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, DASHBOARD_HOST, () => {
      server.off('error', reject);
      const actual = (server.address() as AddressInfo).port;
      allowedHosts = new Set([`${DASHBOARD_HOST}:${actual}`, `localhost:${actual}`]);
      resolve({
        url: `http://${DASHBOARD_HOST}:${actual}/`,
        port: actual,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((error) => (error ? fail(error) : done()));
            // The page's keep-alive fetches would otherwise hold close() open.
            server.closeAllConnections();
          }),
      });
    });
  });
}
