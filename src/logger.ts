import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** JSON lines on stdout; human-readable when stdout is a terminal. */
export function createLogger({ level = 'info', pretty: isPretty = process.stdout.isTTY === true }: { level?: LogLevel; pretty?: boolean } = {}): Logger {
  const options = { name: 'offload', level, base: { pid: process.pid } };
  // pino-pretty as a stream in this thread, not a transport: transports start a worker thread of their own.
  return isPretty ? pino(options, pretty({ colorize: true, sync: true })) : pino(options);
}
