// README.md's samples run as written: every ```ts block type-checks against
// the package's own sources, as 'dmabridge' and 'dmabridge/emulator', and
// every ```ts and ```js block runs on the emulator, so a sample that drifts
// from the API fails here.
//
// Each block runs as a module of its own, on an emulated machine of its own:
// open() in it lands there, as DMABRIDGE_BACKEND=emulator would send it to
// the process's machine. A comment `<!-- sample: GROUP ROLE -->` on the line
// before a block runs it together with the other blocks of GROUP: ROLE
// `host ADDRESS` puts it on a machine at ADDRESS of one emulated network
// (the two-host samples), `process` in another process of one machine.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import * as emulator from '../emulator';
import type { Backend } from '../seam/backend';
import * as dmabridge from '../src';

const ROOT = join(__dirname, '..');
const SAMPLES = join(ROOT, 'readme-samples');

interface Sample {
  lang: 'ts' | 'js';
  code: string;
  /** README.md's line of the opening fence. */
  line: number;
  group?: string;
  role?: string;
}

function samples(): Sample[] {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
  const found: Sample[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(ts|js)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const end = lines.indexOf('```', i + 1);
    const mark = /^<!-- sample: (\S+) (.+?) -->$/.exec(lines[i - 1] ?? '');
    found.push({ lang: open[1] as 'ts' | 'js', code: lines.slice(i + 1, end).join('\n'), line: i + 1, group: mark?.[1], role: mark?.[2] });
    i = end;
  }
  return found;
}

const fileOf = (s: Sample): string => join(SAMPLES, `line-${s.line}.${s.lang}`);

/** Type errors in the ts samples, as `README.md:LINE: message`. */
function typeErrors(list: Sample[]): string[] {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
    types: ['node'],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    paths: { dmabridge: [join(ROOT, 'src/index.ts')], 'dmabridge/emulator': [join(ROOT, 'emulator/index.ts')] },
  };
  // `export {}` makes a sample without imports a module too.
  const texts = new Map(list.map((s) => [fileOf(s), `${s.code}\nexport {};\n`]));
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, ...rest) => {
    const text = texts.get(name);
    return text === undefined ? getSourceFile(name, version, ...rest) : ts.createSourceFile(name, text, version);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => texts.has(name) || fileExists(name);
  const program = ts.createProgram([...texts.keys()], options, host);
  return ts.getPreEmitDiagnostics(program)
    .filter((d) => d.file && texts.has(d.file.fileName))
    .map((d) => {
      const sample = list.find((s) => fileOf(s) === d.file!.fileName)!;
      const { line } = d.file!.getLineAndCharacterOfPosition(d.start ?? 0);
      return `README.md:${sample.line + 1 + line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
}

/**
 * Whether this Node's V8 runs `using` itself, disposers included. Where it
 * does (Node 24 on, as the README says), the samples run with only their
 * types stripped, `using` untranspiled; elsewhere TypeScript lowers it.
 */
const nativeUsing = ((): boolean => {
  try {
    return new Function('let ran = false; { using x = { [Symbol.dispose]() { ran = true; } }; } return ran;')() === true;
  } catch {
    return false;
  }
})();

/** Runs a sample as a module whose open() lands on `backend`; resolves when its top level has run. */
function run(sample: Sample, backend: Backend, output: string[]): Promise<void> {
  const target = nativeUsing ? ts.ScriptTarget.ESNext : ts.ScriptTarget.ES2022;
  const js = sample.lang === 'ts'
    ? ts.transpileModule(sample.code, { compilerOptions: { module: ts.ModuleKind.CommonJS, target } }).outputText
    : sample.code;
  const modules: Record<string, unknown> = {
    dmabridge: {
      ...dmabridge,
      // A backend the sample names itself (createEmulator(), spawn()) stays its choice.
      open: (options: dmabridge.OpenOptions = {}) => dmabridge.open({ ...options, backend: typeof options.backend === 'object' ? options.backend : backend }),
    },
    'dmabridge/emulator': emulator,
  };
  const requireFor = (name: string): unknown => modules[name] ?? require(name);
  const log = (...args: unknown[]): void => void output.push(args.map(String).join(' '));
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (...args: string[]) => (...a: unknown[]) => Promise<void>;
  const body = new AsyncFunction('require', 'exports', 'module', 'console', js);
  const module = { exports: {} };
  return body(requireFor, module.exports, module, { ...console, log });
}

/** The machines a group's samples run on, by role. */
function placements(group: Sample[]): Backend[] {
  const network = group.some((s) => s.role?.startsWith('host ')) ? emulator.createNetwork() : undefined;
  let first: Backend | undefined;
  return group.map((s) => {
    const address = /^host (\S+)$/.exec(s.role ?? '')?.[1];
    if (address) return emulator.createEmulator({ network, host: { name: address, address } });
    if (s.role === 'process' && first) return emulator.controls(first).spawn();
    first = emulator.createEmulator();
    return first;
  });
}

function withTimeout(done: Promise<unknown>, ms: number, what: string): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([done, late]).finally(() => clearTimeout(timer));
}

const all = samples();

describe("README.md's samples", () => {
  it('has samples to check', () => {
    expect(all.filter((s) => s.lang === 'ts').length).toBeGreaterThanOrEqual(5);
    expect(all.filter((s) => s.lang === 'js').length).toBeGreaterThanOrEqual(1);
  });

  it('run with V8\'s own `using` from Node 24 on, as the README says, and transpiled before', () => {
    expect(nativeUsing).toBe(Number(process.versions.node.split('.')[0]) >= 24);
  });

  it('type-check against the package', () => {
    expect(typeErrors(all.filter((s) => s.lang === 'ts'))).toEqual([]);
  }, 120_000);

  const groups = new Map<string, Sample[]>();
  for (const s of all) {
    const key = s.group ?? `line ${s.line}`;
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const [name, group] of groups) {
    const where = group.map((s) => `line ${s.line}`).join(', ');
    it(`run on the emulator: ${name === where ? where : `${name} (${where})`}`, async () => {
      const machines = placements(group);
      const output: string[] = [];
      // Started in README order: a listening block reaches its first await before the next starts.
      const runs = group.map((s, i) => run(s, machines[i]!, output));
      await withTimeout(Promise.all(runs), 15_000, `the samples at ${where}`);
    }, 20_000);
  }
});
