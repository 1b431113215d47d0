import { spawnSync } from 'node:child_process';
import { expect } from 'vitest';
import { DEVICE, describeEachBackend, itWith } from '../backends';

// The CLI as a user runs it (npm test builds dist/ first), on each backend:
// natively that is the demo on rxe in the real-kernel VM.
describeEachBackend('the dmabridge command', (b) => {
  const it = itWith(b, DEVICE.rdma);
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, ['dist/src/cli/main.js', ...args], {
      encoding: 'utf8',
      env: { ...process.env, DMABRIDGE_BACKEND: b.name },
      timeout: 120000,
    });

  it('demo runs the main job end to end and verifies the RDMA-written bytes', () => {
    const r = cli('demo');
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(new RegExp(`on the ${b.name} backend`));
    expect(r.stdout).toMatch(/RDMA-wrote 4 MiB/);
    expect(r.stdout).toMatch(/every byte matches/);
    expect(r.stdout).toMatch(/every check passed/);
    expect(r.status).toBe(0);
  });

  it('info --json lists heaps, DRM nodes, RDMA devices and the memlock limit', () => {
    const r = cli('info', '--json');
    expect(r.status).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({ backend: b.name, heaps: ['system'], drm: expect.arrayContaining([expect.objectContaining({ driver: 'vgem' })]) });
    expect(info.rdma).toContainEqual(expect.objectContaining({ name: 'rxe0', dmaBufMr: false, port: expect.objectContaining({ state: 'active' }) }));
    expect(info.memlock).toMatch(/MiB|unlimited/);
  });

  it('an unknown command exits 2 with the usage', () => {
    const r = cli('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'[\s\S]*usage: dmabridge/);
  });
});
