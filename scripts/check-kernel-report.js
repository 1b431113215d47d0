// Judges the guest's vitest JSON report: the run passes only if the guest ran,
// every test passed, and no test skipped (inside the VM every device exists).
// With a label (a cluster's host), it also lists the tests that ran there.
const { readFileSync, existsSync } = require('node:fs');

const [report, guestStatus, label] = process.argv.slice(2);
if (!existsSync(report)) {
  console.error(`test:kernel: the guest wrote no test report (exit ${guestStatus}); see the guest's output above`);
  process.exit(Number(guestStatus) || 1);
}
const r = JSON.parse(readFileSync(report, 'utf8'));
const skipped = r.testResults.flatMap((f) =>
  f.assertionResults.filter((t) => t.status !== 'passed' && t.status !== 'failed').map((t) => `${f.name}: ${t.fullName}`),
);
const files = r.testResults.length;
if (label) {
  console.log(`${label}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped.length} skipped`);
  for (const t of r.testResults.flatMap((f) => f.assertionResults)) console.log(`  ${t.status === 'passed' ? 'ok  ' : t.status.padEnd(4)} ${t.fullName}`);
} else {
  console.log(`test:kernel: ${files} test files ran natively on the real kernel`);
  console.log(`kernel: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped.length} skipped`);
}
if (skipped.length > 0) {
  console.error(`test:kernel: these native tests skipped inside the VM, where every device exists:\n  ${skipped.join('\n  ')}`);
}
if (r.numFailedTests === 0 && (!r.success || Number(guestStatus) !== 0)) {
  console.error(`test:kernel: vitest exited ${guestStatus} though no test failed: see its "Unhandled Errors" in the guest's output above`);
}
const ok = r.success && r.numFailedTests === 0 && skipped.length === 0 && r.numTotalTests > 0 && Number(guestStatus) === 0;
process.exit(ok ? 0 : 1);
