// The error taxonomy (docs/ARCHITECTURE.md §3) and THE one place where any thrown value is mapped onto it.
// Consumer, triage and breakers all ask `classify`, so a rule changes in exactly one place.
// Third-party errors are recognised by name/code/message, never by importing their packages:
// bundles are minified, and Powertools idempotency is not a dependency of every function.
import type { EnvelopeError, EnvelopeErrorKind, SchemaIssue } from '../events/envelope';
import type { InvalidTransition, TransitionRejectionReason } from '../events/state-machine';

export const ERROR_TYPES = [
  'SCHEMA_VIOLATION',
  'INVALID_TRANSITION',
  'IDEMPOTENCY_CONFLICT',
  'TRANSIENT',
  'PROCESSING_FAILURE',
] as const;
export type ErrorType = (typeof ERROR_TYPES)[number];

export function isErrorType(value: unknown): value is ErrorType {
  return typeof value === 'string' && (ERROR_TYPES as readonly string[]).includes(value);
}

/** What identifies the event an error is about; logged and copied into dead letters. */
export interface ErrorContext {
  readonly eventId?: string;
  readonly eventType?: string;
  readonly aggregateId?: string;
  readonly correlationId?: string;
  readonly [key: string]: unknown;
}

export interface PipelineErrorOptions {
  readonly context?: ErrorContext;
  readonly cause?: unknown;
}

/** Base of the project's own errors: the type is decided where the error is raised. */
export abstract class PipelineError extends Error {
  abstract readonly errorType: ErrorType;
  readonly context: ErrorContext;

  constructor(message: string, options: PipelineErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.context = options.context ?? {};
  }

  /** Only TRANSIENT errors are worth retrying in place; everything else is dead-lettered. */
  get retryable(): boolean {
    return this.errorType === 'TRANSIENT';
  }
}

// Names are set as literals: esbuild minifies class names in the Lambda bundles.

export class SchemaViolationError extends PipelineError {
  readonly errorType = 'SCHEMA_VIOLATION';
  override readonly name = 'SchemaViolationError';
  constructor(
    message: string,
    readonly kind: EnvelopeErrorKind | 'OTHER' = 'OTHER',
    readonly issues: readonly SchemaIssue[] = [],
    options: PipelineErrorOptions = {},
  ) {
    super(message, options);
  }
}

export class InvalidTransitionError extends PipelineError {
  readonly errorType = 'INVALID_TRANSITION';
  override readonly name = 'InvalidTransitionError';
  readonly reason: Exclude<TransitionRejectionReason, 'ALREADY_APPLIED'>;
  constructor(
    readonly rejection: InvalidTransition,
    options: PipelineErrorOptions = {},
  ) {
    super(rejection.message, options);
    // A replay of an applied event is a duplicate to skip, never an error to dead-letter.
    if (rejection.reason === 'ALREADY_APPLIED') {
      throw new RangeError('ALREADY_APPLIED is a duplicate, not an invalid transition');
    }
    this.reason = rejection.reason;
  }
}

export class IdempotencyConflictError extends PipelineError {
  readonly errorType = 'IDEMPOTENCY_CONFLICT';
  override readonly name: string = 'IdempotencyConflictError';
}

/** What a TransitionConflictError is about; `data` describes the rejected event's business data. */
export interface TransitionConflict {
  readonly eventType: string;
  readonly aggregateId: string;
  /** The event that applied (or confirmed) the transition first, when known. */
  readonly appliedEventId?: string;
  /** The rejected event's business data, e.g. 'paymentId="pay-2", amountMinor=2500'. */
  readonly data: string;
}

/**
 * A repeat of a transition already applied to the order (same event type, another idempotency
 * key) with other business data, e.g. a second capture with another paymentId: a business
 * conflict such as a possible double charge, parked for a human instead of skipped.
 */
export class TransitionConflictError extends IdempotencyConflictError {
  override readonly name = 'TransitionConflictError';
  constructor(
    readonly conflict: TransitionConflict,
    options: PipelineErrorOptions = {},
  ) {
    const { eventType, aggregateId, appliedEventId } = conflict;
    const by = appliedEventId === undefined ? '' : ` (event ${appliedEventId})`;
    super(
      `${eventType} conflicts with the ${eventType} already applied to order ${aggregateId}` +
        `${by}: different business data (${conflict.data}); a business conflict, not a duplicate`,
      options,
    );
  }
}

export class TransientError extends PipelineError {
  readonly errorType = 'TRANSIENT';
  override readonly name: string = 'TransientError';
}

/** Thrown by an OPEN (or busy HALF_OPEN) breaker instead of calling the dependency. */
export class CircuitOpenError extends TransientError {
  override readonly name = 'CircuitOpenError';
  constructor(
    readonly breaker: string,
    /** Epoch ms from which the breaker lets a trial call through. */
    readonly retryAt: number,
    options: PipelineErrorOptions = {},
  ) {
    super(`circuit breaker "${breaker}" is open: call not attempted`, options);
  }
}

export class ProcessingFailureError extends PipelineError {
  readonly errorType = 'PROCESSING_FAILURE';
  override readonly name: string = 'ProcessingFailureError';
}

// --- adapters from the domain's result types --------------------------------------------

/** Every envelope parse failure (not JSON, bad envelope, unknown type/major, bad payload). */
export function fromEnvelopeError(error: EnvelopeError): SchemaViolationError {
  return new SchemaViolationError(error.message, error.kind, error.issues, {
    context: { ...error.context },
  });
}

/**
 * ALREADY_APPLIED means the order is already in the target state: a replay, skipped and
 * counted as a duplicate unless its business data differs from the applied event's (the
 * consumer then raises a TransitionConflictError). Every other rejection is a business-rule
 * violation to park.
 */
export type TransitionRejectionOutcome =
  | { readonly kind: 'DUPLICATE' }
  | { readonly kind: 'INVALID'; readonly error: InvalidTransitionError };

export function fromTransitionRejection(
  rejection: InvalidTransition,
  context: ErrorContext = {},
): TransitionRejectionOutcome {
  if (rejection.reason === 'ALREADY_APPLIED') return { kind: 'DUPLICATE' };
  return { kind: 'INVALID', error: new InvalidTransitionError(rejection, { context }) };
}

// --- classification ----------------------------------------------------------------------

export interface Classification {
  readonly errorType: ErrorType;
  readonly retryable: boolean;
  /** The thrown value's own message. */
  readonly message: string;
  /** Name of the error that decided the type: the thrown one or a cause nested in it. */
  readonly causeName: string;
  /** The rule that matched, e.g. "pg:40001" or "node:ECONNRESET"; for logs and tests. */
  readonly rule: string;
  /** Context carried by a PipelineError anywhere in the cause chain. */
  readonly context: ErrorContext;
  /**
   * A dependency cannot be reached (refused or lost connection, timeout, shutdown, open
   * breaker): nothing is wrong with the record, so waiting for the dependency is the cure and
   * no retry budget should be spent. False for contention (deadlock, serialization, a key in
   * progress elsewhere), which a prompt retry cures.
   */
  readonly unavailable: boolean;
  /** The deciding error is a breaker's fail-fast refusal. */
  readonly circuitOpen: boolean;
}

type Match = {
  readonly errorType: ErrorType;
  readonly rule: string;
  readonly unavailable?: boolean;
};

// Transient SQLSTATEs that mean contention on a healthy server, not an unreachable one.
const PG_CONTENTION_CODES = new Set(['40001', '40P01', '55P03']);

// Node/libuv socket and DNS errors: the peer or the network, never the message.
const NODE_TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

// SQLSTATEs a retry can cure (the server or the contention, not the statement).
const PG_TRANSIENT_CODES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '53300', // too_many_connections
  '55P03', // lock_not_available
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
]);

const KAFKAJS_TRANSIENT_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  // kafkajs gave up after its own retries of a retriable error; ours may still succeed.
  'KafkaJSNumberOfRetriesExceeded',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSBrokerNotFound',
]);

const IDEMPOTENCY_RULES: Readonly<Record<string, ErrorType>> = {
  // Another invocation holds the key right now; it may finish or expire.
  IdempotencyAlreadyInProgressError: 'TRANSIENT',
  IdempotencyItemAlreadyExistsError: 'TRANSIENT',
  IdempotencyInconsistentStateError: 'TRANSIENT',
  IdempotencyPersistenceLayerError: 'TRANSIENT',
  // Same key, different payload hash.
  IdempotencyValidationError: 'IDEMPOTENCY_CONFLICT',
};

// pg and pg-pool raise these as plain Errors without a code.
const PG_CONNECTION_MESSAGES = [
  /^Connection terminated/i,
  /^timeout exceeded when trying to connect/i,
  /^Client has encountered a connection error/i,
];

// @redis/client error classes set no name, so only their fixed messages identify them;
// the server replies are the retry-later ones (loading, failover, cluster changes).
const REDIS_TRANSIENT_MESSAGES = [
  /^Connection timeout$/,
  /^The client is closed$/,
  /^The client is offline$/,
  /^Socket closed unexpectedly$/,
  /^Socket timeout/,
  /^Disconnects client$/,
  /^All the root nodes are unavailable$/,
  /^Connection is closed\.?$/,
  /^(LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|READONLY) /,
];

function field(error: object, key: string): unknown {
  return (error as Record<string, unknown>)[key];
}

/** The rule for one error, ignoring its causes; undefined when nothing specific matches. */
function matchOne(error: unknown): Match | undefined {
  if (error instanceof CircuitOpenError)
    return { errorType: 'TRANSIENT', rule: error.name, unavailable: true };
  if (error instanceof PipelineError) return { errorType: error.errorType, rule: error.name };
  if (typeof error !== 'object' || error === null) return undefined;

  const name = field(error, 'name');
  const code = field(error, 'code');
  const message = field(error, 'message');

  if (typeof name === 'string') {
    const idempotency = IDEMPOTENCY_RULES[name];
    if (idempotency !== undefined)
      return {
        errorType: idempotency,
        rule: `idempotency:${name}`,
        // The persistence layer (Redis) failed, not the key.
        unavailable: name === 'IdempotencyPersistenceLayerError',
      };
    if (KAFKAJS_TRANSIENT_NAMES.has(name))
      return { errorType: 'TRANSIENT', rule: `kafkajs:${name}`, unavailable: true };
    // Leadership moving during a broker restart, and the like.
    if (name.startsWith('KafkaJS') && field(error, 'retriable') === true)
      return { errorType: 'TRANSIENT', rule: 'kafkajs:retriable', unavailable: true };
    // AbortSignal.timeout() and the AWS SDK's socket timeouts.
    if (name === 'TimeoutError')
      return { errorType: 'TRANSIENT', rule: 'timeout', unavailable: true };
  }

  if (typeof code === 'string') {
    if (NODE_TRANSIENT_CODES.has(code))
      return { errorType: 'TRANSIENT', rule: `node:${code}`, unavailable: true };
    // SQLSTATE: five characters; the classes we act on all start with a digit.
    if (/^\d[0-9A-Z]{4}$/.test(code)) {
      if (code.startsWith('08') || PG_TRANSIENT_CODES.has(code))
        return {
          errorType: 'TRANSIENT',
          rule: `pg:${code}`,
          unavailable: !PG_CONTENTION_CODES.has(code),
        };
      // Integrity and data exceptions: this statement will fail the same way every time.
      if (code.startsWith('23') || code.startsWith('22'))
        return { errorType: 'PROCESSING_FAILURE', rule: `pg:${code}` };
    }
  }

  // The AWS SDK marks throttling and retryable service errors with `$retryable`.
  if (typeof field(error, '$retryable') === 'object' && field(error, '$retryable') !== null)
    return { errorType: 'TRANSIENT', rule: 'aws:$retryable' };

  if (typeof message === 'string') {
    if (PG_CONNECTION_MESSAGES.some((re) => re.test(message)))
      return { errorType: 'TRANSIENT', rule: 'pg:connection', unavailable: true };
    if (REDIS_TRANSIENT_MESSAGES.some((re) => re.test(message)))
      return { errorType: 'TRANSIENT', rule: 'redis:connection', unavailable: true };
  }

  // Node's happy-eyeballs connect fails with an AggregateError of per-address socket errors.
  if (error instanceof AggregateError && error.errors.length > 0) {
    const inner = error.errors.map((e) => matchOne(e));
    if (inner.every((m) => m?.errorType === 'TRANSIENT'))
      return {
        errorType: 'TRANSIENT',
        rule: `aggregate:${inner[0]?.rule}`,
        unavailable: inner.every((m) => m?.unavailable === true),
      };
  }
  return undefined;
}

const MAX_CAUSE_DEPTH = 8;

function nameOf(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const name = field(error, 'name');
    if (typeof name === 'string' && name !== '') return name;
  }
  return error instanceof Error ? 'Error' : typeof error;
}

function messageOf(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const message = field(error, 'message');
    if (typeof message === 'string') return message;
  }
  try {
    return String(error);
  } catch {
    return '(unprintable value)';
  }
}

/**
 * Maps any thrown value onto the taxonomy. The error itself decides first; otherwise its
 * `cause` chain is searched (a wrapped ECONNRESET is still transient); nothing matching means
 * PROCESSING_FAILURE. Never throws.
 */
export function classify(error: unknown): Classification {
  let context: ErrorContext = {};
  let current: unknown = error;
  const seen = new Set<unknown>();
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && current !== undefined; depth++) {
    if (seen.has(current)) break;
    seen.add(current);
    if (current instanceof PipelineError) context = { ...current.context, ...context };
    const match = matchOne(current);
    if (match !== undefined) {
      return {
        errorType: match.errorType,
        retryable: match.errorType === 'TRANSIENT',
        message: messageOf(error),
        causeName: nameOf(current),
        rule: match.rule,
        context,
        unavailable: match.unavailable === true,
        circuitOpen: current instanceof CircuitOpenError || nameOf(current) === 'CircuitOpenError',
      };
    }
    current = typeof current === 'object' && current !== null ? field(current, 'cause') : undefined;
  }
  return {
    errorType: 'PROCESSING_FAILURE',
    retryable: false,
    message: messageOf(error),
    causeName: nameOf(error),
    rule: 'default',
    context,
    unavailable: false,
    circuitOpen: false,
  };
}

// --- what happens next -------------------------------------------------------------------

/**
 * What triage does with a dead letter of each type: PARK what no retry can cure (unreadable,
 * refused by a business rule, a conflict); REDRIVE, with a growing delay up to a limit, what
 * might pass later (TRANSIENT, and PROCESSING_FAILURE for a cause the taxonomy does not know).
 * The consumer retries in place only what `classify` marks retryable (TRANSIENT).
 */
export interface Disposition {
  readonly triage: 'PARK' | 'REDRIVE';
}

const DISPOSITIONS: Readonly<Record<ErrorType, Disposition>> = {
  SCHEMA_VIOLATION: { triage: 'PARK' },
  INVALID_TRANSITION: { triage: 'PARK' },
  IDEMPOTENCY_CONFLICT: { triage: 'PARK' },
  TRANSIENT: { triage: 'REDRIVE' },
  PROCESSING_FAILURE: { triage: 'REDRIVE' },
};

export function dispositionFor(errorType: ErrorType): Disposition {
  return DISPOSITIONS[errorType];
}
