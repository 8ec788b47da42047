// Child processes log warnings and errors as JSON lines on stderr; the drill appends them to
// its log file. stdout is kept for the few progress lines the drill reads.
import type { LogFields, LogSink } from '../../../../lambdas/shared/log-sink';

export function stderrLogger(component: string): LogSink {
  const write =
    (level: string) =>
    (message: string, ...fields: LogFields[]) => {
      const merged = Object.assign({}, ...fields) as Record<string, unknown>;
      if (merged.error instanceof Error) {
        merged.error = `${merged.error.name}: ${merged.error.message}`;
      }
      process.stderr.write(
        `${JSON.stringify({ t: new Date().toISOString(), component, pid: process.pid, level, message, ...merged })}\n`,
      );
    };
  return {
    error: write('error'),
    warn: write('warn'),
    info: () => undefined,
    debug: () => undefined,
  };
}
