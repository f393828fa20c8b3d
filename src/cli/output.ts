import type { CliIo } from './io.js'

/** Prints a command's result: with --json exactly one single-line JSON object, else the text. */
export function printResult(io: CliIo, json: boolean, value: object, text: string): void {
  io.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`)
}

/** Reads standard input to its end, without its final line break. */
export async function readStdin(io: CliIo): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of io.stdin) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '')
}
