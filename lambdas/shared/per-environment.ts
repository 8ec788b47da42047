// What a handler builds once per execution environment (pools, producers, clients): built on
// first use, reused by every later invocation, and built anew after a failed set-up.

/** A memoized async factory; a rejected set-up is forgotten so the next call retries it. */
export function perEnvironment<T>(create: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= create().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}
