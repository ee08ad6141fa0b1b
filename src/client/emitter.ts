// A small typed event emitter that runs in browsers and Node alike (no
// 'events' import). A listener that throws must not break frame processing:
// its error goes to on_listener_error and the other listeners still run.

/** Event name → listener signature, for Emitter. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EventMap = { [event: string]: (...args: any[]) => void };

export class Emitter<Events extends EventMap> {
  private readonly listeners: { [E in keyof Events]?: Events[E][] } = {};

  constructor(private readonly on_listener_error: (err: unknown, event: string) => void = () => {}) {}

  on<E extends keyof Events>(event: E, listener: Events[E]): this {
    const list = this.listeners[event];
    if (list) list.push(listener);
    else this.listeners[event] = [listener];
    return this;
  }

  once<E extends keyof Events>(event: E, listener: Events[E]): this {
    const wrapper = ((...args: Parameters<Events[E]>) => {
      this.off(event, wrapper);
      listener(...args);
    }) as Events[E];
    return this.on(event, wrapper);
  }

  off<E extends keyof Events>(event: E, listener: Events[E]): this {
    const list = this.listeners[event];
    if (!list) return this;
    const i = list.indexOf(listener);
    if (i >= 0) list.splice(i, 1);
    return this;
  }

  has_listeners(event: keyof Events): boolean {
    const list = this.listeners[event];
    return list !== undefined && list.length > 0;
  }

  emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): void {
    const list = this.listeners[event];
    if (!list || list.length === 0) return;
    // Copy only when several listeners: one may remove itself (once) while we iterate.
    if (list.length === 1) {
      this.call(list[0], event, args);
      return;
    }
    for (const listener of list.slice()) this.call(listener, event, args);
  }

  remove_all(): void {
    for (const key of Object.keys(this.listeners)) delete this.listeners[key as keyof Events];
  }

  private call<E extends keyof Events>(listener: Events[E], event: E, args: Parameters<Events[E]>): void {
    try {
      listener(...args);
    } catch (err) {
      this.on_listener_error(err, String(event));
    }
  }
}
