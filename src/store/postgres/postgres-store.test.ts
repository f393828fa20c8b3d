import { describe, it } from 'vitest'
import { createTemporaryPostgresDatabase, postgresSkipReason } from '../../test-support/postgres.js'
import { runStoreContract } from '../store-contract.js'
import { PostgresStore } from './postgres-store.js'

const skipReason = await postgresSkipReason('postgres store contract')

if (skipReason) {
  describe('postgres store contract', () => it.skip(`skipped: ${skipReason}`, () => {}))
} else {
  runStoreContract('postgres', async () => {
    const database = await createTemporaryPostgresDatabase()
    const store = await PostgresStore.open(database.url)
    return {
      store,
      teardown: async () => {
        await store.close()
        await database.drop()
      },
    }
  })
}
