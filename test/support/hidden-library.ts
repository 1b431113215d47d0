// Runs a script with one shared library hidden from it, to check what the
// addon says where that library is not installed.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

/** Whether this process may make a private mount namespace (root, with unshare). */
export const canHideLibraries = process.getuid?.() === 0 && spawnSync('unshare', ['-m', 'true']).status === 0;

/**
 * Runs `script` with node -e, `library` (a path such as .../libibverbs.so.1)
 * hidden: in a private mount namespace its directory is covered by a tmpfs of
 * links to everything else in it.
 */
export function runWithout(library: string, script: string): SpawnSyncReturns<string> {
  const dir = mkdtempSync(join(tmpdir(), 'dmabridge-hidden-'));
  try {
    const shell = `set -e; mkdir ${dir}/orig ${dir}/shadow; mount -t tmpfs none ${dir}/shadow
      mount --bind ${dirname(library)} ${dir}/orig
      "${process.execPath}" -e "$1" ${dir}/orig ${dir}/shadow
      mount --bind ${dir}/shadow ${dirname(library)}
      exec "${process.execPath}" -e "$0"`;
    const link = `const fs = require('node:fs'), [from, to] = process.argv.slice(1);
      for (const name of fs.readdirSync(from)) if (!name.startsWith(${JSON.stringify(basename(library))})) fs.symlinkSync(from + '/' + name, to + '/' + name);`;
    return spawnSync('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', shell, script, link], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
