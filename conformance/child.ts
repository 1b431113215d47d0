// A child of the conformance runner: runs one registered child body on the
// native backend and prints its record as the last line of stdout.
import { loadNative } from '../src/native';
import { runChildBody } from './children';
import './scenarios';
import { Trial } from './trial';

const key = process.argv[2]!;
const native = loadNative();
if (!native.backend) {
  console.error(native.error);
  process.exit(2);
}
runChildBody(key, new Trial(native.backend)).then((run) => {
  if (run.broken) {
    console.error(run.broken);
    process.exit(1);
  }
  console.log(JSON.stringify(run.record));
  process.exit(0);
}, (e: unknown) => {
  console.error(e instanceof Error ? e.stack : e);
  process.exit(1);
});
