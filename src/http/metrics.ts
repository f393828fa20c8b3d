import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Clock } from '../core/clock.js'
import type { Argon2Hasher, PasswordHasher } from '../core/password.js'
import type { Store } from '../core/store.js'
import type { RoutePlugin } from './routes.js'

export interface MetricsOptions {
  store: Store
  clock: Clock
  /** How many request tokens this instance issued that have not expired (a pending one has no row). */
  issuedRequestTokens?: () => number
  hasher: PasswordHasher
}

/**
 * `GET /metrics` in Prometheus's text format, counting every request the application answers (its
 * hook is the application's, not only this plugin's). Labels are route patterns (`/3/account`),
 * methods and statuses only — never a raw URL, whose query string carries API keys and session ids.
 */
export const metricsRoutes: RoutePlugin<MetricsOptions> = (app, options) => {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'cinepass_' })

  const requests = new Counter({
    name: 'cinepass_http_requests_total',
    help: 'HTTP requests answered, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  })
  const duration = new Histogram({
    name: 'cinepass_http_request_duration_seconds',
    help: 'Time from receiving a request to answering it, by route pattern, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  })
  const rateLimited = new Counter({
    name: 'cinepass_rate_limit_rejections_total',
    help: 'Requests refused with 429 / TMDB code 25 (API limits and login throttles), by route pattern',
    labelNames: ['route'] as const,
    registers: [registry],
  })

  const hasher = options.hasher as Partial<Argon2Hasher>
  if (typeof hasher.queued === 'number') {
    new Gauge({
      name: 'cinepass_password_hash_queue_depth',
      help: 'Password hashes waiting for a free hashing slot',
      registers: [registry],
      collect() {
        this.set(hasher.queued ?? 0)
      },
    })
    new Gauge({
      name: 'cinepass_password_hash_running',
      help: 'Password hashes running now',
      registers: [registry],
      collect() {
        this.set(hasher.running ?? 0)
      },
    })
    const wait = new Histogram({
      name: 'cinepass_password_hash_wait_seconds',
      help: 'Time a password hash waited for a free hashing slot',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    })
    hasher.onWait = (ms: number) => wait.observe(ms / 1000)
  }

  const { store, clock } = options
  if (store.poolStats) {
    new Gauge({
      name: 'cinepass_db_pool_connections',
      help: 'Database pool connections: total open, idle, and callers waiting for one',
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        const stats = store.poolStats?.()
        if (!stats) return
        this.set({ state: 'total' }, stats.total)
        this.set({ state: 'idle' }, stats.idle)
        this.set({ state: 'waiting' }, stats.waiting)
      },
    })
  }
  new Gauge({
    name: 'cinepass_live_credentials',
    help: 'Usable credentials at scrape time, by kind (request_token: unexpired ones this instance issued, plus stored ones; a token a user acted on counts in both)',
    labelNames: ['kind'] as const,
    registers: [registry],
    async collect() {
      const live = await store.countLive(clock.now())
      // A pending request token has no row: this instance's own count of those it issued stands for them.
      this.set({ kind: 'request_token' }, live.requestTokens + (options.issuedRequestTokens?.() ?? 0))
      this.set({ kind: 'session' }, live.sessions)
      this.set({ kind: 'guest_session' }, live.guestSessions)
      this.set({ kind: 'access_token' }, live.accessTokens)
    },
  })

  app.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url ?? 'unmatched'
    if (route !== '/metrics') {
      const labels = { route, method: request.method, status: String(reply.statusCode) }
      requests.inc(labels)
      duration.observe(labels, reply.elapsedTime / 1000)
      if (reply.statusCode === 429) rateLimited.inc({ route })
    }
    done()
  })

  app.get('/metrics', async (_request, reply) => {
    const body = await registry.metrics()
    return reply.code(200).header('content-type', registry.contentType).header('cache-control', 'no-store').send(body)
  })
}
// Registered into the application's own context (what the fastify-plugin package marks with this
// symbol), so that the counting hook sees every route and every refusal, not only `/metrics`.
Object.assign(metricsRoutes, { [Symbol.for('skip-override')]: true })
