import { EventEmitter } from 'node:events';
import type { EventName, EventPayload } from '../../shared/contract/events.js';

type Listener = <N extends EventName>(name: N, payload: EventPayload<N>) => void;

/** Main's one outlet for pushed events; each transport subscribes and forwards to its clients. */
export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(100);
  }

  emit<N extends EventName>(name: N, payload: EventPayload<N>): void {
    this.emitter.emit('event', name, payload);
  }

  subscribe(listener: Listener): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }

  log(level: 'debug' | 'info' | 'warn' | 'error', source: string, message: string): void {
    this.emit('onDidLog', { level, source, message, time: new Date().toISOString() });
  }
}
