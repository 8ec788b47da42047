// The logging shape domain code depends on. The Powertools Logger satisfies it; tests pass a
// fake. Keeps domain modules free of the logger instance (and of its module-load side effects).
export type LogFields = Record<string, unknown>;

export interface LogSink {
  error(message: string, ...fields: LogFields[]): void;
  warn(message: string, ...fields: LogFields[]): void;
  info(message: string, ...fields: LogFields[]): void;
  debug(message: string, ...fields: LogFields[]): void;
}
