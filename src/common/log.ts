/**
 * Leveled logging to stderr as one line per record: `time level component message {json}`. Structured
 * enough to grep, cheap enough for the hot path (the level check happens before any formatting).
 */
export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace'
const ORDER: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 }
export const LOG_LEVELS = Object.keys(ORDER) as LogLevel[]

let threshold = ORDER.info
let sink: (line: string) => void = (line) => process.stderr.write(line + '\n')

export function setLogLevel(level: LogLevel): void {
  threshold = ORDER[level]
}
/** Redirect output (tests capture it; `null` silences). */
export function setLogSink(fn: ((line: string) => void) | null): void {
  sink = fn ?? (() => {})
}

/** Write a record formatted by another thread's logger (a worker's) to this thread's sink, as it is. */
export function writeLogLine(line: string): void {
  sink(line)
}

export interface Logger {
  error(msg: string, fields?: object): void
  warn(msg: string, fields?: object): void
  info(msg: string, fields?: object): void
  debug(msg: string, fields?: object): void
  enabled(level: LogLevel): boolean
}

export function logger(component: string): Logger {
  const emit = (level: LogLevel, msg: string, fields?: object): void => {
    if (ORDER[level] > threshold) return
    const tail = fields === undefined ? '' : ' ' + JSON.stringify(fields, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
    sink(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${component}: ${msg}${tail}`)
  }
  return {
    error: (m, f) => emit('error', m, f),
    warn: (m, f) => emit('warn', m, f),
    info: (m, f) => emit('info', m, f),
    debug: (m, f) => emit('debug', m, f),
    enabled: (level) => ORDER[level] <= threshold,
  }
}
