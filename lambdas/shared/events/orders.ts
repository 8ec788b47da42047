// Order event payloads (the envelope's `data`) and the registry the consumer and the schema
// check read. Evolution rules (docs/ARCHITECTURE.md §3): never remove or rename a required field; add new
// fields as optional with a safe default (`.default(...)`), so events written before the field
// existed still parse; a breaking change needs a new MAJOR in `currentVersion` and
// `knownMajors`. `npm run schema:check` enforces this against schemas/released/.
import * as z from 'zod';

// Objects strip unknown keys (zod's default): a consumer ignores fields it does not know.
const id = z.string().min(1).max(200);
/** An order's id as every event and the API take it. */
export const orderIdSchema = id;
/** ISO 4217 alphabetic code. */
const currency = z.string().regex(/^[A-Z]{3}$/, 'must be a 3-letter ISO 4217 code, e.g. "EUR"');
/** Money in the currency's minor unit (cents), never floating point. */
const amountMinor = z.number().int().nonnegative();

export const orderItemSchema = z.object({
  sku: id,
  quantity: z.number().int().positive(),
  unitPriceMinor: amountMinor,
});

export const orderPlacedSchema = z.object({
  orderId: id,
  customerId: id,
  items: z.array(orderItemSchema).min(1),
  totalMinor: amountMinor,
  currency,
});

export const paymentCapturedSchema = z.object({
  orderId: id,
  paymentId: id,
  amountMinor,
  currency,
});

export const orderShippedSchema = z.object({
  orderId: id,
  carrier: id,
  trackingNumber: id,
});

export const orderCancelledSchema = z.object({
  orderId: id,
  reason: z.string().min(1).max(1000),
});

/** What a payload schema must produce: every order event names its order. */
export type OrderPayloadSchema = z.ZodType<{ orderId: string }>;

export interface EventTypeSpec {
  /** Version producers stamp on new events. */
  readonly currentVersion: string;
  /** Majors this code can read; an event with any other major is a schema violation. */
  readonly knownMajors: readonly number[];
  readonly schema: OrderPayloadSchema;
}

export const ORDER_EVENT_REGISTRY = {
  OrderPlaced: { currentVersion: '1.0.0', knownMajors: [1], schema: orderPlacedSchema },
  PaymentCaptured: { currentVersion: '1.0.0', knownMajors: [1], schema: paymentCapturedSchema },
  OrderShipped: { currentVersion: '1.0.0', knownMajors: [1], schema: orderShippedSchema },
  OrderCancelled: { currentVersion: '1.0.0', knownMajors: [1], schema: orderCancelledSchema },
} as const satisfies Record<string, EventTypeSpec>;

export type OrderEventRegistry = typeof ORDER_EVENT_REGISTRY;
export type OrderEventType = keyof OrderEventRegistry;
export const ORDER_EVENT_TYPES = Object.keys(ORDER_EVENT_REGISTRY) as OrderEventType[];

/** Payload after parsing (defaults applied). */
export type OrderEventData<T extends OrderEventType> = z.output<OrderEventRegistry[T]['schema']>;
/** Payload as a producer may write it (fields with defaults may be left out). */
export type OrderEventDataInput<T extends OrderEventType> = z.input<
  OrderEventRegistry[T]['schema']
>;

export function isOrderEventType(value: unknown): value is OrderEventType {
  // Own keys only: "toString" or "__proto__" must not count as event types.
  return typeof value === 'string' && Object.hasOwn(ORDER_EVENT_REGISTRY, value);
}
