import { Access, accessArg, VIEW_PROT } from './access';
import { oneOf, optionsArg, outOfRange, toLength, toSize } from './args';
import type { Backend } from '../seam/backend';
import { FdResource } from './fd-resource';
import { Mapping } from './mapping';
import { assertOpen, Resource } from './resource';
import { systemError } from '../seam/system-error';
import * as uapi from '../seam/uapi';

export type Seal = 'seal' | 'shrink' | 'grow' | 'write' | 'future-write';

const SEALS: Record<Seal, number> = {
  seal: uapi.F_SEAL_SEAL,
  shrink: uapi.F_SEAL_SHRINK,
  grow: uapi.F_SEAL_GROW,
  write: uapi.F_SEAL_WRITE,
  'future-write': uapi.F_SEAL_FUTURE_WRITE,
};

/** Anonymous shared memory (memfd_create with sealing allowed): what udmabuf wraps. */
export class Memfd extends FdResource {
  constructor(seam: Backend, fd: number, readonly size: bigint, parent: Resource) {
    super(seam, fd, parent);
  }

  get seals(): Seal[] {
    assertOpen(this);
    const bits = this.seam.getSeals(this.fd);
    return (Object.keys(SEALS) as Seal[]).filter((s) => bits & SEALS[s]);
  }

  seal(...seals: Seal[]): void {
    assertOpen(this);
    let bits = 0;
    for (const s of seals) {
      bits |= SEALS[oneOf(s, Object.keys(SEALS) as Seal[], 'seals')];
    }
    this.seam.addSeals(this.fd, bits);
  }

  /** Maps the memfd's pages shared; the view aliases them, and any udmabuf made from them. */
  map(access: Access = 'rw', range: { offset?: number | bigint; length?: number | bigint } = {}): Mapping {
    assertOpen(this);
    const acc = accessArg(access);
    const { offset: at, length: len } = optionsArg(range, 'range');
    const offset = toSize(at ?? 0, 'range.offset');
    if (offset > this.size) throw outOfRange('range.offset', `<= ${this.size}, the size`, at);
    const length = toLength(len ?? this.size - offset, 'range.length');
    if (offset + BigInt(length) > this.size) {
      // Past the end of a memfd a mapping succeeds, and touching it raises SIGBUS.
      throw systemError('EINVAL', 'mmap', `the range ends past the memfd's ${this.size} bytes`);
    }
    const view = this.seam.mmap(this.fd, length, VIEW_PROT, uapi.MAP_SHARED, offset);
    return new Mapping(this.seam, view, acc, this);
  }
}

/** Creates a memfd of `size` bytes that allows sealing. */
export function createMemfd(seam: Backend, size: bigint, name: string, parent: Resource): Memfd {
  const fd = seam.memfdCreate(name, uapi.MFD_CLOEXEC | uapi.MFD_ALLOW_SEALING);
  try {
    seam.ftruncate(fd, size);
  } catch (e) {
    seam.close(fd);
    throw e;
  }
  return new Memfd(seam, fd, size, parent);
}
