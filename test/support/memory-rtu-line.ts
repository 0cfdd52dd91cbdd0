import { EventEmitter } from 'node:events';
import type { SerialLine } from '../../devices/modbus/rtu-port.js';
import { crc16 } from './pymodbus-sim.js';

/**
 * A Modbus RTU line in memory for unit tests of the bus and the source: opens (unless told to
 * fail), closes with a `close` event, and leaves `write` to the subclass, which answers through
 * `reply`. Each test's subclass says how its slaves answer.
 */
export abstract class MemoryRtuLine extends EventEmitter implements SerialLine {
  isOpen = false;

  /** An Error to refuse `open` with (the adapter is gone), or undefined to open. */
  protected openFailure(): Error | undefined {
    return undefined;
  }

  open(callback: (err: Error | null) => void): void {
    const failure = this.openFailure();
    if (failure !== undefined) return callback(failure);
    this.isOpen = true;
    callback(null);
  }

  close(callback?: (err: Error | null) => void): void {
    if (this.isOpen) {
      this.isOpen = false;
      this.emit('close');
    }
    callback?.(null);
  }

  abstract write(data: Buffer): boolean;

  /** Sends a frame's body with its CRC on the next turn, if the line is still open then. */
  protected reply(body: Buffer): void {
    setImmediate(() => {
      if (this.isOpen) this.emit('data', Buffer.concat([body, crc16(body)]));
    });
  }
}
