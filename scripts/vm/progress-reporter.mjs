// A vitest reporter for runs in the guest: appends each test and hook as it
// starts and ends to $DMABRIDGE_VM_PROGRESS, so that when the guest runs out
// of time its watchdog (guest-run.sh) can name what never ended.
import { appendFileSync } from 'node:fs';
import { relative } from 'node:path';

const file = process.env.DMABRIDGE_VM_PROGRESS;
const log = (line) => file && appendFileSync(file, `${line}\n`);
const where = (test) => `${relative(process.cwd(), test.module.moduleId)} > ${test.fullName}`;
const hook = (h) => `${h.name} of ${h.entity.type === 'module' ? relative(process.cwd(), h.entity.moduleId) : where(h.entity)}`;

export default class ProgressReporter {
  onTestCaseReady(test) { log(`start ${where(test)}`); }
  onTestCaseResult(test) { log(`end ${where(test)}`); }
  onHookStart(h) { log(`start ${hook(h)}`); }
  onHookEnd(h) { log(`end ${hook(h)}`); }
}
