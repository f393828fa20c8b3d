/** The benchmark's rows as a small horizontal bar chart (SVG, no dependency): req/s as a share of the baseline. */
export function renderChart(
  rows: readonly { backend: string; endpoint: string; workers: number; reqPerSec: number; ratio: number | null; target: string; met: boolean | null }[],
): string {
  const shown = rows.filter((row) => row.endpoint !== 'validate_with_login')
  const barHeight = 22
  const gap = 8
  const left = 300
  const width = 820
  const plot = width - left - 90
  const top = 40
  const height = top + shown.length * (barHeight + gap) + 40
  const max = Math.max(1, ...shown.map((row) => row.ratio ?? 0))
  const escape = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
  const bars = shown.map((row, i) => {
    const y = top + i * (barHeight + gap)
    const ratio = row.ratio ?? 0
    const w = Math.max(1, (ratio / max) * plot)
    const colour = row.met === null ? '#8a8f98' : row.met ? '#2f855a' : '#c53030'
    const label = `${row.backend} · ${row.endpoint}${row.workers > 1 ? ` · ${row.workers} workers` : ''}`
    // Only a target on the bare server's scale has a place on this axis.
    const target = /≥ (\d\.\d+) of bare/.exec(row.target)
    const mark = target
      ? `<line x1="${left + (Number(target[1]) / max) * plot}" x2="${left + (Number(target[1]) / max) * plot}" y1="${y - 3}" y2="${y + barHeight + 3}" stroke="#1a202c" stroke-width="2" stroke-dasharray="3,2"/>`
      : ''
    return [
      `<text x="${left - 8}" y="${y + barHeight / 2 + 4}" text-anchor="end">${escape(label)}</text>`,
      `<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${colour}" rx="2"/>`,
      mark,
      `<text x="${left + w + 6}" y="${y + barHeight / 2 + 4}">${ratio.toFixed(2)} · ${Math.round(row.reqPerSec).toLocaleString('en-US')}/s</text>`,
    ].join('')
  })
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${left}" y="22" font-size="14" font-weight="bold">req/s as a share of bare node:http (dashed line: target as a share of bare; green: every target met, red: not)</text>`,
    ...bars,
    `<text x="${left}" y="${height - 12}" fill="#4a5568">validate_with_login is judged against raw argon2id hashes/s and is not drawn here.</text>`,
    `</svg>`,
    '',
  ].join('\n')
}
