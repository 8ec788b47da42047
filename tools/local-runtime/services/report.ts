// How the services tool talks to people: short progress lines on stderr, one error type whose
// message is meant to be printed as is (it says what failed and what to do about it).

export type Progress = (line: string) => void;

/** Default progress sink: `services: <line>` on stderr, so stdout stays for `status`. */
export const stderrProgress: Progress = (line) => {
  process.stderr.write(`services: ${line}\n`);
};

export const silentProgress: Progress = () => {};

export class ServiceError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ServiceError';
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    // net errors for `localhost` come as one per address family; the first says enough.
    return errorMessage(error.errors[0]);
  }
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code !== undefined && !error.message.includes(code)
      ? `${error.message} (${code})`
      : error.message;
  }
  return String(error);
}

export function elapsed(startMs: number): string {
  return `${((Date.now() - startMs) / 1000).toFixed(1)} s`;
}
