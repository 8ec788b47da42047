import { describe, expect, it } from 'vitest';
import { parseArgs } from '../../../../tools/operations/cost/cli';
import { estimate } from '../../../../tools/operations/cost/estimate';
import { synthResources } from '../../../../tools/operations/cost/synth';

describe('cost of the synthesized stages', () => {
  it('accounts for every resource of dev and prod, within each stage budget', {
    timeout: 120_000,
  }, () => {
    const dev = synthResources('dev');
    const e = estimate(dev.resources, dev.config.region);
    // Every resource is priced, usage-based, free or unpriced: nothing dropped.
    const accounted = new Set([
      ...e.lineItems.map((i) => `${i.stack}/${i.logicalId}`),
      ...e.unpriced.map((u) => `${u.stack}/${u.logicalId}`),
      ...e.free.map((f) => `${f.stack}/${f.logicalId}`),
    ]);
    const missing = dev.resources
      .map((r) => `${r.stack}/${r.logicalId}`)
      .filter((id) => !accounted.has(id));
    expect(missing).toEqual([]);
    expect(dev.resources.length).toBeGreaterThan(50);
    // The data plane is priced, not silently zero.
    for (const service of ['streaming', 'data', 'cache']) {
      expect(e.byService[service] ?? 0).toBeGreaterThan(0);
    }
    // No whole resource type is unknown to the table (reasons name a specific gap instead).
    expect(e.unpriced.filter((u) => u.reason === 'resource type not in the price table')).toEqual(
      [],
    );
    // Nothing is left unpriced (the provisioned event pollers included).
    expect(e.unpriced).toEqual([]);

    const prod = synthResources('prod');
    const p = estimate(prod.resources, prod.config.region);
    expect(p.totalUsd).toBeGreaterThan(e.totalUsd);
    expect(p.unpriced).toEqual([]);
    // Each stage's budget covers its fixed cost at idle (pollers included).
    expect(e.totalUsd).toBeLessThanOrEqual(dev.config.budget.monthlyLimitUsd);
    expect(p.totalUsd).toBeLessThanOrEqual(prod.config.budget.monthlyLimitUsd);
    // Both mappings share one poller group: one EPU's worth, priced once.
    const pollers = e.lineItems.filter((i) => i.type === 'AWS::Lambda::EventSourceMapping');
    expect(pollers).toHaveLength(2);
    expect(pollers.filter((i) => i.monthlyUsd > 0)).toHaveLength(1);

    // Prod's primary is Multi-AZ: its standby's instance-hours and storage are priced too
    // (db.r6g.large at $0.25/h, gp3 at $0.127/GB-month in eu-west-1); its replica is Single-AZ.
    expect(prod.config.database.multiAz).toBe(true);
    const instances = prod.resources.filter((r) => r.type === 'AWS::RDS::DBInstance');
    const primary = instances.find((r) => r.properties.SourceDBInstanceIdentifier === undefined);
    const replica = instances.find((r) => r.properties.SourceDBInstanceIdentifier !== undefined);
    expect(primary?.properties.MultiAZ).toBe(true);
    const line = (id: string | undefined, basis: string) =>
      p.lineItems.find((i) => i.logicalId === id && i.basis === basis);
    const storageGiB = prod.config.database.allocatedStorageGiB;
    expect(line(primary?.logicalId, 'hourly')?.monthlyUsd).toBeCloseTo(2 * 0.25 * 730, 6); // 365
    expect(line(primary?.logicalId, 'hourly')?.detail).toContain('(Multi-AZ)');
    expect(line(primary?.logicalId, 'storage')?.monthlyUsd).toBeCloseTo(2 * storageGiB * 0.127, 6);
    expect(line(replica?.logicalId, 'hourly')?.monthlyUsd).toBeCloseTo(0.25 * 730, 6);
  });
});

describe('parseArgs', () => {
  it('reads --stage and --json and rejects an unknown stage', () => {
    expect(parseArgs(['--stage', 'prod', '--json'])).toEqual({ stage: 'prod', json: true });
    expect(parseArgs(['--stage=localstack'])).toEqual({ stage: 'localstack', json: false });
    expect(() => parseArgs(['--stage', 'qa'])).toThrow(/--stage must be one of/);
    expect(() => parseArgs(['--bogus'])).toThrow(/unknown argument/);
  });
});
