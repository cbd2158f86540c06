/**
 * Read-only collections for the compiled policy. `Object.freeze` does not stop `Map.prototype.set`
 * (a Map's entries are internal slots, not properties), so a policy shared by the engine, the
 * admin API and a reload in flight exposes its maps and sets through views that have no mutating
 * methods at all.
 */

const INSPECT = Symbol.for("nodejs.util.inspect.custom");

export class FrozenMap<K, V> implements ReadonlyMap<K, V> {
  readonly #map: Map<K, V>;

  constructor(entries: Iterable<readonly [K, V]>) {
    this.#map = new Map(entries);
    Object.freeze(this);
  }

  get size(): number {
    return this.#map.size;
  }
  get(key: K): V | undefined {
    return this.#map.get(key);
  }
  has(key: K): boolean {
    return this.#map.has(key);
  }
  keys(): MapIterator<K> {
    return this.#map.keys();
  }
  values(): MapIterator<V> {
    return this.#map.values();
  }
  entries(): MapIterator<[K, V]> {
    return this.#map.entries();
  }
  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void): void {
    for (const [k, v] of this.#map) fn(v, k, this);
  }
  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.#map.entries();
  }
  /** Shown as the Map it wraps by console.log and node:util inspect, for debugging. */
  [INSPECT](_depth: number, options: object, inspect: (v: unknown, o: object) => string): string {
    return inspect(this.#map, options);
  }
}

export class FrozenSet<T> implements ReadonlySet<T> {
  readonly #set: Set<T>;

  constructor(values: Iterable<T>) {
    this.#set = new Set(values);
    Object.freeze(this);
  }

  get size(): number {
    return this.#set.size;
  }
  has(value: T): boolean {
    return this.#set.has(value);
  }
  keys(): SetIterator<T> {
    return this.#set.keys();
  }
  values(): SetIterator<T> {
    return this.#set.values();
  }
  entries(): SetIterator<[T, T]> {
    return this.#set.entries();
  }
  forEach(fn: (value: T, key: T, set: ReadonlySet<T>) => void): void {
    for (const v of this.#set) fn(v, v, this);
  }
  [Symbol.iterator](): SetIterator<T> {
    return this.#set.values();
  }
  [INSPECT](_depth: number, options: object, inspect: (v: unknown, o: object) => string): string {
    return inspect(this.#set, options);
  }
}

/** Freeze plain objects and arrays all the way down, and the values inside frozen maps. */
export function deepFreeze<T>(value: T): T {
  if (value instanceof FrozenMap) {
    for (const v of value.values()) deepFreeze(v);
  } else if (value && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
