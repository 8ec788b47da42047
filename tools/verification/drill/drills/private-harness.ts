// What the drills that stop a service share (restarts, outages): the drill's harness on a
// private instance of that service, both removed again however the drill ends.
import type { ExpectedOrder } from '../../ground-truth';
import { createHarness, type Endpoints, type Harness } from '../harness';
import type { OrderPlan } from '../inputs';
import type { DrillContext } from '../types';

export interface PrivateService {
  /** The shared endpoints with the private instance in place of the service under test. */
  readonly endpoints: Endpoints;
  /** Stops the instance for good and deletes its data. */
  destroy(): Promise<void>;
}

/** Runs `body` on a harness over `service`; closes the harness, then destroys the service. */
export async function withPrivateHarness<T>(
  id: string,
  ctx: DrillContext,
  service: PrivateService,
  body: (h: Harness) => Promise<T>,
): Promise<T> {
  let h: Harness;
  try {
    h = await createHarness(ctx.config, id, service.endpoints, { viaOutbox: true });
  } catch (error) {
    await service.destroy();
    throw error;
  }
  try {
    return await body(h);
  } finally {
    await h.close();
    await service.destroy();
  }
}

/** What the accounting expects of each planned order. */
export function expectedOrders(plans: readonly OrderPlan[]): ExpectedOrder[] {
  return plans.map((p) => ({
    orderId: p.orderId,
    finalState: p.finalState,
    events: p.events.length,
  }));
}
