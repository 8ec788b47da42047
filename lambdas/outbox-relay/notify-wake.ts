// Wakes the relay on `NOTIFY outbox`, which the order API sends after its commit (`wakeRelay`
// in lambdas/shared/outbox/outbox.ts; the insert trigger was dropped in migration 0005). A dropped
// connection or a missed notification only costs the polling interval: the relay re-reads the
// table on every wake and never trusts the notification's content. Behind RDS Proxy the
// LISTEN session is pinned to one backend connection, which is what a listener needs.
import pg, { type ClientConfig } from 'pg';
import type { LogSink } from '../shared/log-sink';
import type { WakeReason, WakeSource } from './relay';

export const OUTBOX_CHANNEL = 'outbox';

export class NotifyWake implements WakeSource {
  private client: pg.Client | undefined;
  private connecting: Promise<void> | undefined;
  private pending = false;
  private waiter: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly config: ClientConfig,
    private readonly logger: LogSink,
  ) {}

  /** Connects and LISTENs; failures are logged and retried on the next wait. */
  async start(): Promise<void> {
    if (this.client || this.closed) return;
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    await this.connecting;
  }

  async wait(timeoutMs: number): Promise<WakeReason> {
    await this.start();
    if (this.pending) {
      this.pending = false;
      return 'notify';
    }
    return new Promise<WakeReason>((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        resolve('poll');
      }, timeoutMs);
      this.waiter = () => {
        clearTimeout(timer);
        this.waiter = undefined;
        this.pending = false;
        resolve('notify');
      };
    });
  }

  interrupt(): void {
    this.waiter?.();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.interrupt();
    const client = this.client;
    this.client = undefined;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on('notification', () => {
      this.pending = true;
      this.waiter?.();
    });
    client.on('error', (error) => {
      this.logger.warn('outbox LISTEN connection lost; polling until it is back', { error });
      if (this.client === client) this.client = undefined;
      void client.end().catch(() => undefined);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
      this.client = client;
      // Rows committed while we were not listening are found by the next claim anyway.
      this.pending = true;
    } catch (error) {
      this.logger.warn('outbox LISTEN unavailable; polling only', { error });
      await client.end().catch(() => undefined);
    }
  }
}
