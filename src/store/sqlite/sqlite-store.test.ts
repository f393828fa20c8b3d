import { temporarySqliteStore } from '../../test-support/fixtures.js'
import { runStoreContract } from '../store-contract.js'

runStoreContract('sqlite', async () => {
  const { store, remove } = temporarySqliteStore()
  return { store, teardown: remove }
})
