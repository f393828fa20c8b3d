// Types of the parts of bench/open-loop.mjs that its test uses (the script itself is plain Node).
export function requestBytes(line: string, host: string): Buffer
export function takeResponses(buffer: Buffer): { statuses: number[]; rest: Buffer }
export function percentile(sorted: ArrayLike<number>, p: number): number
export function dueAt(now: number, start: number, rate: number, total: number): number
