/**
 * The one root logger. JSON lines through pino; cookies, tokens, authorization and session ids
 * are redacted here, at the logger, so no call site can forget (STYLE: small habits).
 */
import { type DestinationStream, type Logger, pino } from "pino";

export type { Logger } from "pino";

export const REDACT_PATHS = [
  "cookie",
  "authorization",
  "session",
  "sessionId",
  "token",
  "adminToken",
  "hashKey",
  "redis",
  "*.cookie",
  "*.authorization",
  "*.session",
  "*.sessionId",
  "*.token",
  "*.adminToken",
  "*.hashKey",
  "*.redis",
  '*["set-cookie"]',
  '*.headers["set-cookie"]',
  "*.headers.cookie",
  "*.headers.authorization",
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "gatehouse" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
