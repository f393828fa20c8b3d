import { Command } from 'commander'
import { UsageError } from '../core/errors.js'
import { withCore, withDatabaseOptions, type DatabaseOptions } from './common.js'
import type { CliIo } from './io.js'
import { printResult } from './output.js'

/** `cinepass keys list|rotate|retire`. */
export function keysCommand(io: CliIo): Command {
  const keys = new Command('keys').description('manage the keys that sign JWTs (read access tokens, v4 tokens)')

  withDatabaseOptions(keys.command('list').description('list signing keys')).action(async (options: DatabaseOptions) =>
    withCore(io, options, async ({ keys: ring }) => {
      const list = (await ring.list()).map((key) => ({
        kid: key.kid,
        created_at: new Date(key.createdAt).toISOString(),
        retired_at: key.retiredAt === null ? null : new Date(key.retiredAt).toISOString(),
      }))
      const text = list.map((key) => `${key.kid}  ${key.retired_at ? `retired ${key.retired_at}` : 'live'}`).join('\n') || 'no keys'
      printResult(io, options.json === true, { keys: list }, text)
    }),
  )

  withDatabaseOptions(keys.command('rotate').description('add a new signing key; tokens signed by older keys keep working')).action(
    async (options: DatabaseOptions) =>
      withCore(io, options, async ({ keys: ring }) => {
        const kid = await ring.rotate()
        printResult(io, options.json === true, { kid }, `new signing key ${kid}`)
      }),
  )

  withDatabaseOptions(keys.command('retire <kid>').description('retire a signing key: every token it signed stops working')).action(
    async (kid: string, options: DatabaseOptions) =>
      withCore(io, options, async ({ keys: ring }) => {
        if (!(await ring.retire(kid))) throw new UsageError(`no live signing key has the id "${kid}"`)
        printResult(io, options.json === true, { kid, retired: true }, `signing key ${kid} retired`)
      }),
  )
  return keys
}
