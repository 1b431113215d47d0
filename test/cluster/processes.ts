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
 * Runs a program to its end and gives its exit code and output. One that
 * runs past `limitMs` is killed, and what it printed is logged with the
 * kernel's rdma_cm ids, so that a hang says where it stood.
 */
export function runToEnd(cmd: string, args: string[], limitMs = 90_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const limit = setTimeout(() => {
      const cmIds = spawnSync('rdma', ['resource', 'show', 'cm_id'], { encoding: 'utf8' });
      stderr += `\n[killed after ${limitMs / 1000} s; rdma resource show cm_id:\n${cmIds.stdout}${cmIds.stderr}]`;
      child.kill('SIGKILL');
    }, limitMs);
    child.on('close', (code) => {
      clearTimeout(limit);
      if (code !== 0) console.error(`${cmd} ${args.join(' ')} exited ${code}:\n${stderr}\nits stdout:\n${stdout}`);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Resolves once the kernel lists an rdma_cm id listening on host:port
 * (`rdma resource show cm_id`), so that a client started after it finds the
 * server ready rather than racing its start.
 */
export async function untilListening(host: string, port: number, limitMs = 60_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    const r = spawnSync('rdma', ['-j', 'resource', 'show', 'cm_id'], { encoding: 'utf8' });
    const ids = r.status === 0 ? (JSON.parse(r.stdout || '[]') as Array<{ state?: string; 'src-addr'?: string }>) : [];
    if (ids.some((id) => id.state === 'LISTEN' && id['src-addr'] === `${host}:${port}`)) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${limitMs / 1000} s: ${r.stderr || JSON.stringify(ids)}`);
    await sleep(200);
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
