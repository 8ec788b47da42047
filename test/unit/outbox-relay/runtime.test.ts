import type { Producer } from 'kafkajs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { powertoolsTelemetry, RenewableProducer } from '../../../lambdas/outbox-relay/runtime';
import { METRICS } from '../../../lambdas/shared/metrics-catalog';
import { metrics } from '../../../lambdas/shared/powertools';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('powertoolsTelemetry', () => {
  it('counts rows set aside and reports how many are set aside now', () => {
    const add = vi.spyOn(metrics, 'addMetric').mockReturnValue(metrics);
    powertoolsTelemetry.setAside(2);
    powertoolsTelemetry.setAsideNow(3);
    expect(add.mock.calls).toEqual([
      [METRICS.eventsSetAside, 'Count', 2],
      [METRICS.outboxSetAsideRows, 'Count', 3],
    ]);
  });
});

describe('RenewableProducer', () => {
  function fakeProducer(name: string, log: string[], failConnect = false): Producer {
    return {
      connect: async () => {
        log.push(`${name}:connect`);
        if (failConnect) throw new Error('broker down');
      },
      disconnect: async () => {
        log.push(`${name}:disconnect`);
      },
      send: async () => {
        log.push(`${name}:send`);
        return [];
      },
    } as unknown as Producer;
  }

  it('connects the new producer before dropping the old one, and sends through the new one', async () => {
    const log: string[] = [];
    let n = 0;
    const p = new RenewableProducer(() => fakeProducer(`p${++n}`, log));
    await p.connect();
    await p.send({ topic: 't', messages: [] });
    await p.renew();
    await p.send({ topic: 't', messages: [] });
    expect(log).toEqual(['p1:connect', 'p1:send', 'p2:connect', 'p1:disconnect', 'p2:send']);
  });

  it('keeps the old producer when the new one cannot connect', async () => {
    const log: string[] = [];
    let n = 0;
    const p = new RenewableProducer(() => fakeProducer(`p${++n}`, log, n === 2));
    await expect(p.renew()).rejects.toThrow('broker down');
    await p.send({ topic: 't', messages: [] });
    expect(log).toEqual(['p2:connect', 'p2:disconnect', 'p1:send']);
  });
});
