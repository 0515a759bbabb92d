/** Structured logs (JSON lines on stdout), shared by the API and the workers. */
import { pino } from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string, name = 'care-reports'): Logger {
  return pino({ name, level });
}
