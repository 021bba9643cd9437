// Structured JSON logging: pino with service fields, trace correlation and redaction at any depth.
export { createLogger, FLUSH_TIMEOUT_MS } from './logger.js';
export type { LogLevel, LoggerHandle, LoggerService, LoggingOptions } from './logger.js';
export { DEFAULT_REDACT_KEYS } from './redact.js';
export type { Logger } from 'pino';
