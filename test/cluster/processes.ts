import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * What a child prints on stdout, from its start: `until(line)` resolves once
 * it has printed `line`, before or after the call.
 */
export function stdoutLines(child: ChildProcess): { until(line: string): Promise<void> } {
  let seen = '';
  let exited: number | null | undefined;
  const waiters: Array<() => void> = [];
  child.stdout!.on('data', (chunk: Buffer) => {
    seen += chunk.toString();
    for (const w of waiters.splice(0)) w();
  });
  child.once('exit', (code) => {
    exited = code;
    for (const w of waiters.splice(0)) w();
  });
  return {
    until(line) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (seen.split('\n').includes(line)) resolve();
          else if (exited !== undefined) reject(new Error(`the child exited (${exited}) before printing '${line}'; it printed: ${seen}`));
          else waiters.push(check);
        };
        check();
      });
    },
  };
}

/**
 * Runs a program to its end and gives its exit code and output. With
 * `retryRefused`, a client that found nobody listening yet (the server's
 * guest may be slower) is run again, for up to a minute. One that runs past
 * `limitMs` is killed, and what it printed is logged with the kernel's
 * rdma_cm ids, so that a hang says where it stood.
 */
export async function runToEnd(cmd: string, args: string[], o: { retryRefused?: boolean; limitMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '', stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const limit = setTimeout(() => {
        const cmIds = spawnSync('rdma', ['resource', 'show', 'cm_id'], { encoding: 'utf8' });
        stderr += `\n[killed after ${(o.limitMs ?? 90_000) / 1000} s; rdma resource show cm_id:\n${cmIds.stdout}${cmIds.stderr}]`;
        child.kill('SIGKILL');
      }, o.limitMs ?? 90_000);
      child.on('close', (code) => {
        clearTimeout(limit);
        resolve({ code, stdout, stderr });
      });
    });
    const refused = /REJECTED|ECONNREFUSED/.test(result.stderr);
    if (!o.retryRefused || result.code === 0 || !refused || Date.now() > deadline) {
      if (result.code !== 0) console.error(`${cmd} ${args.join(' ')} exited ${result.code}:\n${result.stderr}\nits stdout:\n${result.stdout}`);
      return result;
    }
    await sleep(1000);
  }
}

/** rping's ping data for ping `n` of `size` bytes, as text: "rdma-ping-n: " then letters from 'A'+n. */
export function expectedPing(n: number, size: number): string {
  let s = `rdma-ping-${n}: `;
  let c = 65 + (n % 58);
  while (s.length < size - 1) {
    s += String.fromCharCode(c);
    c = c >= 122 ? 65 : c + 1;
  }
  return s.slice(0, size - 1);
}
