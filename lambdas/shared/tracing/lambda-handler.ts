// The Powertools Tracer around a Lambda handler that is a plain function: its
// `captureLambdaHandler` decorator applied by hand, since TypeScript applies these (legacy)
// method decorators only inside classes. It opens the `## <handler>` subsegment, annotates
// ColdStart and Service, records the response and any error as metadata, and closes it.
import type { AsyncHandler } from '@aws-lambda-powertools/commons/types';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { Context, Handler } from 'aws-lambda';

export type LambdaHandler<E, R> = (event: E, context: Context) => Promise<R>;

/** `handler` traced; unchanged when there is no Tracer (outside Lambda). */
export function captureLambdaHandler<E, R>(
  tracer: Pick<Tracer, 'captureLambdaHandler'> | undefined,
  handler: LambdaHandler<E, R>,
): LambdaHandler<E, R> {
  if (tracer === undefined) return handler;
  const descriptor: TypedPropertyDescriptor<AsyncHandler<Handler>> = {
    value: handler as AsyncHandler<Handler>,
  };
  tracer.captureLambdaHandler()(
    { handler: descriptor.value as AsyncHandler<Handler> },
    'handler',
    descriptor,
  );
  return descriptor.value as unknown as LambdaHandler<E, R>;
}
