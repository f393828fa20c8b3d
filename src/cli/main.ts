#!/usr/bin/env node
// Runs `cinepass` in this process. The `cinepass` command starts here through cinepass.cjs, which
// sizes the threadpool first; everything else is in program.ts, which tests run in-process.
import { processIo } from './io.js'
import { runCli } from './program.js'

process.exitCode = await runCli(process.argv.slice(2), processIo())
