/**
 * cinepass as a library: start a server in-process, or build the services over a store of your own.
 * The typed TMDB client is the separate entry point `cinepass/client`; the testing kit for TMDB
 * clients' test suites and CI is `cinepass/testing` (docs/testing.md).
 */
export { loadConfig, type Config } from './config/config.js'
export { buildCore, openStore, startServer, type Core, type RunningServer } from './server.js'
export { AuthError } from './core/errors.js'
export type { Store } from './core/store.js'
export { TMDB_STATUS, type TmdbStatusName } from './wire/status.js'
