/** Renders rows as an aligned text table. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function bytes(n: bigint | number): string {
  const v = Number(n);
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (v >= size) return `${+(v / size).toFixed(2)} ${unit}`;
  }
  return `${v} B`;
}

export function rate(bytesMoved: number, seconds: number): string {
  return `${(bytesMoved / seconds / 1e6).toFixed(1)} MB/s`;
}
