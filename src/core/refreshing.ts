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

  async get(key: K, load: () => Promise<V>): Promise<V> {
    const now = this.clock.now()
    const entry = this.#entries.get(key)
    if (entry && now - entry.loadedAt < this.ttlMs && now >= entry.loadedAt) return entry.value
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
