// Steps a scenario runs in a process of its own, without CAP_IPC_LOCK, as a
// user's program runs: on native a child (dist/conformance/child.js) under
// setpriv; on the emulator a newly spawned emulated process, which never has
// the capability. Registered by key so the child finds the same code.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { controls } from '../emulator';
import { outcomeOf, type ScenarioRecord } from './record';
import { Abort, Trial } from './trial';

export type ChildBody = (t: Trial) => void | Promise<void>;

export const children = new Map<string, ChildBody>();

export function child(key: string, body: ChildBody): string {
  if (children.has(key)) throw new Error(`two child bodies are keyed ${key}`);
  children.set(key, body);
  return key;
}

/** Runs a child body on a fresh Trial over `backend`; the record, or the failure of the body itself. */
export async function runChildBody(key: string, t: Trial): Promise<{ record: ScenarioRecord; broken?: string }> {
  const body = children.get(key);
  if (!body) throw new Error(`no child body keyed ${key}`);
  try {
    await body(t);
  } catch (e) {
    if (!(e instanceof Abort)) return { record: [...t.record, { step: '(child body)', ...outcomeOf(e) }], broken: e instanceof Error ? e.stack : String(e) };
  } finally {
    t.cleanup();
  }
  return { record: t.record };
}

/** Runs the child body `key` in another process without CAP_IPC_LOCK and records its steps in `parent`, each marked "[child]". */
export async function unprivileged(parent: Trial, key: string): Promise<void> {
  for (const step of await childRecord(parent, key)) parent.record.push({ ...step, step: `[child] ${step.step}` });
}

async function childRecord(parent: Trial, key: string): Promise<ScenarioRecord> {
  if (parent.emulated) {
    const run = await runChildBody(key, new Trial(controls(parent.k).spawn()));
    if (run.broken) throw new Error(`child body ${key} failed: ${run.broken}`);
    return run.record;
  }
  const script = join(__dirname, 'child.js');
  const r = spawnSync('setpriv', ['--bounding-set', '-ipc_lock', '--inh-caps', '-ipc_lock', '--', process.execPath, script, key], { encoding: 'utf8', timeout: 120_000 });
  if (r.error || r.status !== 0) throw new Error(`child ${key} failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ScenarioRecord;
}
