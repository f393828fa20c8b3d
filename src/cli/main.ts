#!/usr/bin/env node
// Runs `cinepass` in this process. The `cinepass` command starts here through cinepass.cjs, which
// sizes the threadpool first; everything else is in program.ts, which tests run in-process.
import { processIo } from './io.js'
import { runCli } from './program.js'

const code = await runCli(process.argv.slice(2), processIo())
// A command that failed has said why; whatever it left open (a pool still connecting, a timer) must
// not keep the process alive. Success ends on its own, or keeps serving.
if (code !== 0) process.exit(code)
