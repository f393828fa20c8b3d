import { UsageError } from '../core/errors.js'
import type { CliIo } from './io.js'
import { readStdin } from './output.js'

/**
 * A secret given as an argument: `-` reads it from standard input instead, which keeps it out of
 * `ps` and the shell's history.
 */
export async function secretArgument(io: CliIo, value: string): Promise<string> {
  if (value !== '-') return value
  const secret = (await readStdin(io)).trim()
  if (secret === '') throw new UsageError('"-" reads the value from standard input, which was empty')
  return secret
}

/**
 * A new password: prompted for (twice, not echoed) when standard input is a terminal; otherwise, or
 * with --password-stdin, read from standard input (without its final line break). An empty one is
 * refused later, as every empty password is.
 */
export async function newPassword(io: CliIo, passwordStdin: boolean | undefined): Promise<string> {
  if (passwordStdin || !io.stdin.isTTY) return readStdin(io)
  const first = await promptHidden(io, 'new password: ')
  const again = await promptHidden(io, 'the same again: ')
  if (first !== again) throw new UsageError('the two passwords differ; nothing was changed')
  return first
}

interface RawTerminal {
  setRawMode(raw: boolean): unknown
}

/** Asks on stderr and reads one line from the terminal without echoing it. Ctrl-C cancels. */
function promptHidden(io: CliIo, question: string): Promise<string> {
  const input = io.stdin as CliIo['stdin'] & Partial<RawTerminal>
  return new Promise((resolve, reject) => {
    let typed = ''
    const finish = (outcome: () => void): void => {
      input.removeListener('data', onData)
      input.setRawMode?.(false)
      input.pause()
      io.stderr.write('\n')
      outcome()
    }
    const onData = (chunk: Buffer | string): void => {
      for (const char of chunk.toString()) {
        if (char === '\r' || char === '\n' || char === '\u0004') return finish(() => resolve(typed))
        if (char === '\u0003') return finish(() => reject(new UsageError('cancelled; nothing was changed')))
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1)
        else typed += char
      }
    }
    // Echo off before the question: whatever is typed once it shows must not appear.
    input.setRawMode?.(true)
    input.on('data', onData)
    input.resume()
    io.stderr.write(question)
  })
}
