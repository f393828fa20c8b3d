/** Where a command reads and writes: the process's streams, or a test's. */
export interface CliIo {
  /** The environment settings are read from. */
  env: Record<string, string | undefined>
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown }
  /** Standard input; `isTTY` when it is a terminal (passwords are then prompted for, unechoed). */
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
}

/** The running process's environment and streams. */
export function processIo(): CliIo {
  return { env: process.env, stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }
}
