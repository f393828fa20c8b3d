import type { Clock } from './clock.js'

/**
 * A read-through cache whose entries live at most `ttlMs`: admin changes made by another process
 * (a suspended application, a retired key) are seen within that time.
 */
export class TtlCache<K, V> {
  readonly #entries = new Map<K, { value: V; loadedAt: number }>()

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  /** The value cached for `key` while it is fresh, else undefined (nothing is loaded). */
  peek(key: K): V | undefined {
    const entry = this.#entries.get(key)
    if (!entry) return undefined
    const now = this.clock.now()
    return now - entry.loadedAt < this.ttlMs && now >= entry.loadedAt ? entry.value : undefined
  }

  async get(key: K, load: () => Promise<V>): Promise<V> {
    const fresh = this.peek(key)
    if (fresh !== undefined) return fresh
    const now = this.clock.now()
    const value = await load()
    if (this.#entries.size >= this.maxEntries) this.#entries.clear()
    this.#entries.set(key, { value, loadedAt: now })
    return value
  }

  delete(key: K): void {
    this.#entries.delete(key)
  }

  clear(): void {
    this.#entries.clear()
  }
}
