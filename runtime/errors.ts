/**
 * Every error the gateway raises on purpose carries a stable `code`, so that logs,
 * counters and tests can tell kinds apart, and a message an operator can act on.
 */
export type ErrorCode =
  | 'E_CONFIG_INVALID'
  | 'E_CONFIG_READ'
  | 'E_STORE_LOCKED'
  | 'E_STORE_OPEN'
  | 'E_STORE_WRITE'
  | 'E_STORE_CLOSED'
  | 'E_UPLINK_CONNECT'
  | 'E_PLUGIN_UNKNOWN'
  | 'E_HEALTH_LISTEN'
  | 'E_USAGE'
  | 'E_INSTALL_NOT_ROOT'
  | 'E_INSTALL_DATADIR'
  | 'E_INSTALL_SOURCE'
  | 'E_INSTALL_STEP';

export class EdgewiseError extends Error {
  override readonly name: string = 'EdgewiseError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A config that cannot be used; `problems` holds one line per problem found. */
export class ConfigError extends EdgewiseError {
  override readonly name = 'ConfigError';
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super('E_CONFIG_INVALID', `${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n  ${problems.join('\n  ')}`);
  }
}
