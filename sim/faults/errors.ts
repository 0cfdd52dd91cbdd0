/** Codes of the fault tools' errors: stable, so the runner and the tests can tell them apart. */
export type FaultToolCode =
  | 'E_FAULT_LOG_WRITE'
  | 'E_FAULT_LOG_PARSE'
  | 'E_PROXY_LISTEN'
  | 'E_GATEWAY_START'
  | 'E_GATEWAY_READY_TIMEOUT'
  | 'E_GATEWAY_STATE'
  | 'E_SERIAL_LINK_START';

/** An error of a fault tool (proxy, gateway supervisor, serial link, fault log), with a message that says what to do. */
export class FaultToolError extends Error {
  override readonly name = 'FaultToolError';
  constructor(
    readonly code: FaultToolCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
