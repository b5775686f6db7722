/**
 * A small event emitter standing in for eventemitter3 in the Espruino build (whose own emit is
 * deferred to the next tick). Same methods the Updater uses: on, once, off, emit.
 */
type Listener = (...args: unknown[]) => void;

export class EventEmitter {
  private listeners: { [event: string]: { fn: Listener; once: boolean }[] } = {};

  on(event: string, fn: Listener): this {
    (this.listeners[event] = this.listeners[event] || []).push({ fn, once: false });
    return this;
  }

  once(event: string, fn: Listener): this {
    (this.listeners[event] = this.listeners[event] || []).push({ fn, once: true });
    return this;
  }

  off(event: string, fn: Listener): this {
    const list = this.listeners[event];
    if (list) this.listeners[event] = list.filter((l) => l.fn !== fn);
    return this;
  }

  emit(event: string, a?: unknown, b?: unknown): boolean {
    const list = this.listeners[event];
    if (!list || list.length === 0) return false;
    this.listeners[event] = list.filter((l) => !l.once);
    for (const l of list) l.fn(a, b);
    return true;
  }
}
