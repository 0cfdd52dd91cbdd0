import { setErrorLogger, setWarningLogger } from 'node-opcua-client';
import type { ComponentEvents } from '../../runtime/health/events.js';

/**
 * node-opcua logs through module-wide functions (node-opcua-debug), not per client: its
 * warnings and errors go to the events of the OPC UA sources running (the first one attached
 * names them), as `opcua.library_warning` / `opcua.library_error`, never to stdout.
 */
class LibraryLog {
  private readonly sinks = new Map<string, ComponentEvents>();
  private installed = false;

  attach(sourceId: string, events: ComponentEvents): void {
    this.sinks.set(sourceId, events);
    if (this.installed) return;
    this.installed = true;
    setWarningLogger((...args: unknown[]) => this.emit('warn', args));
    setErrorLogger((...args: unknown[]) => this.emit('error', args));
  }

  detach(sourceId: string): void {
    this.sinks.delete(sourceId);
  }

  private emit(level: 'warn' | 'error', args: unknown[]): void {
    const text = args
      .map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : JSON.stringify(a)))
      .join(' ')
      // eslint-disable-next-line no-control-regex
      .replace(/\u001b\[[0-9;]*m/g, '')
      .slice(0, 2000);
    const first = this.sinks.entries().next().value as [string, ComponentEvents] | undefined;
    if (first === undefined) return;
    first[1][level](`opcua.library_${level === 'warn' ? 'warning' : 'error'}`, { code: 'E_OPCUA_LIBRARY', source: first[0], message: text });
  }
}

export const libraryLog = new LibraryLog();
