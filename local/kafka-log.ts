import { logLevel, type logCreator } from 'kafkajs';

/**
 * kafkajs logs every retried request as a JSON line on the console (e.g. "The group coordinator
 * is not available" while a new broker creates `__consumer_offsets`), although it then succeeds.
 * Its clients here log into this buffer instead: the last lines are kept, and shown only when the
 * run fails (`recentKafkaLogLines`), so retries are quiet unless they do not help.
 */
const KAFKA_LOG_KEEP = 30;
const kafkaLogLines: string[] = [];

export const quietKafkaLogCreator: logCreator = () => ({ namespace, level, log }) => {
  if (level > logLevel.WARN) return;
  const { message, timestamp: _timestamp, logger: _logger, ...rest } = log as { message: string; timestamp?: string; logger?: string } & Record<string, unknown>;
  const detail = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
  kafkaLogLines.push(`${new Date().toISOString()} kafkajs ${level === logLevel.ERROR ? 'ERROR' : 'WARN'} [${namespace}] ${message}${detail}`);
  if (kafkaLogLines.length > KAFKA_LOG_KEEP) kafkaLogLines.shift();
};

/** The last error and warning lines of the Kafka clients (for the message of a failed run). */
export function recentKafkaLogLines(): string[] {
  return [...kafkaLogLines];
}

