// A TypeScript user's file: test:package type-checks it against the installed
// package's declarations (tsc --noEmit), as the README's samples are written.
import { open, type DmaBuf, type SyncFile } from 'dmabridge';

export function fill(size: number): number {
  using dmb = open({ backend: 'emulator' });
  using buf: DmaBuf = dmb.createUdmabuf(size);
  using map = buf.map('rw');
  {
    using _ = map.begin('write');
    map.view.fill(1);
  }
  const fence: SyncFile = buf.exportSyncFile('read');
  fence.close();
  return map.view.length;
}
