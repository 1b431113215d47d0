import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

// The command line itself, the same on any backend and machine: nothing here
// touches a device, so it runs on the host only (test:kernel runs the
// commands' work in test/api/cli.test.ts and test/api/doctor.test.ts).
describe('the dmabridge command line', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, ['dist/src/cli/main.js', ...args], { encoding: 'utf8' });
  const commands = ['demo', 'info', 'doctor', 'bench'];

  it.each(commands)('%s --help shows its usage with the common options and exits 0', (command) => {
    const r = run(command, '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^usage: dmabridge ${command} \\[options\\][\\s\\S]*--backend auto\\|native\\|emulator[\\s\\S]*--json[\\s\\S]*--help`));
  });

  it.each(commands)('%s exits 2 with its usage on an unknown option, a stray argument or a bad --backend', (command) => {
    for (const args of [['--bogus'], ['stray'], ['--backend', 'nope'], ['--backend']]) {
      const r = run(command, ...args);
      expect(r.status, `${command} ${args.join(' ')}`).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^dmabridge ${command}: .+\\n\\nusage: dmabridge ${command} `));
      expect(r.stdout).toBe('');
    }
  });

  it('bad values exit 2: bench --reps 0, doctor --need nonsense, doctor --memlock x', () => {
    expect(run('bench', '--reps', '0').stderr).toMatch(/--reps must be a positive integer, got '0'/);
    const need = run('doctor', '--need', 'rdma,nonsense');
    expect(need.status).toBe(2);
    expect(need.stderr).toMatch(/--need: unknown 'nonsense' \(known: native, udmabuf/);
    expect(run('doctor', '--memlock', 'x').status).toBe(2);
  });

  it('no command exits 2 with the command list; help exits 0', () => {
    const none = run();
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^usage: dmabridge <command>[\s\S]*demo[\s\S]*info[\s\S]*doctor[\s\S]*bench/);
    expect(run('help').status).toBe(0);
    expect(run('help', 'doctor').stdout).toMatch(/^usage: dmabridge doctor/);
  });
});
