// The layers, as the imports between top-level folders: seam/ is the contract
// and imports nothing of ours; the emulator implements it and imports only
// seam/; src/ is the API over the seam, and only its entry (index.ts) and
// open() reach the emulator; nothing above imports what sits on it, so no
// folder imports one that imports it back.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = path.join(__dirname, '..');
const FOLDERS = ['seam', 'emulator', 'src', 'conformance', 'examples', 'reliability', 'test'];

interface Edge { from: string; to: string; file: string; spec: string }

function sources(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.ts$/.test(e.name) && !e.name.endsWith('.d.ts'))
    .map((e) => path.relative(ROOT, path.join(e.parentPath, e.name)));
}

/** Every import of ours between files, as top-level folder to top-level folder. */
function edges(): Edge[] {
  const out: Edge[] = [];
  for (const file of FOLDERS.flatMap(sources)) {
    const info = ts.preProcessFile(readFileSync(path.join(ROOT, file), 'utf8'), true, true);
    for (const { fileName: spec } of info.importedFiles) {
      if (!spec.startsWith('.')) continue;
      const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), spec));
      out.push({ from: file.split(path.sep)[0]!, to: target.split(path.sep)[0]!, file, spec });
    }
  }
  return out;
}

const all = edges();
const between = all.filter((e) => e.from !== e.to);
const show = (es: Edge[]) => es.map((e) => `${e.file} imports ${e.spec}`);

describe('the import graph of the TypeScript sources', () => {
  it('sees the imports it checks', () => {
    // A parser that found nothing would pass every rule below.
    expect(between.filter((e) => e.from === 'src' && e.to === 'seam').length).toBeGreaterThan(20);
    expect(between.filter((e) => e.from === 'emulator' && e.to === 'seam').length).toBeGreaterThan(20);
  });

  it('seam/ imports nothing of ours', () => {
    expect(show(between.filter((e) => e.from === 'seam'))).toEqual([]);
  });

  it('the emulator imports only seam/', () => {
    expect(show(between.filter((e) => e.from === 'emulator' && e.to !== 'seam'))).toEqual([]);
  });

  it('src/ imports only seam/, and the emulator only from the package entry and open()', () => {
    expect(show(between.filter((e) => e.from === 'src' && e.to !== 'seam' && e.to !== 'emulator'))).toEqual([]);
    const toEmulator = between.filter((e) => e.from === 'src' && e.to === 'emulator');
    expect(toEmulator.length).toBeGreaterThan(0);
    expect(show(toEmulator.filter((e) => e.file !== 'src/index.ts' && e.file !== 'src/open.ts'))).toEqual([]);
  });

  it('no folder imports one that imports it back', () => {
    const next = new Map<string, Set<string>>();
    for (const e of between) next.set(e.from, (next.get(e.from) ?? new Set()).add(e.to));
    const reaches = (from: string, to: string, seen = new Set<string>()): boolean =>
      [...(next.get(from) ?? [])].some((n) => n === to || (!seen.has(n) && seen.add(n) && reaches(n, to, seen)));
    const cycles = [...next.keys()].filter((f) => reaches(f, f));
    expect(cycles).toEqual([]);
  });
});
