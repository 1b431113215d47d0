import { instanceArg, toStringArg } from './args';
import type { Backend } from '../seam/backend';
import { FdResource, waitFor } from './fd-resource';
import { assertOpen, parentOf, Resource } from './resource';
import { errnoName } from '../seam/errno';
import * as uapi from '../seam/uapi';
import type { WaitOptions } from './wait';

export type FenceStatus = 'signaled' | 'active' | 'error';

export interface FenceState {
  driver: string;
  timeline: string;
  status: FenceStatus;
  /** The errno name when the fence signalled with an error. */
  error?: string;
  /** When it signalled, in CLOCK_MONOTONIC nanoseconds; 0n while active. */
  timestampNs: bigint;
}

export interface SyncFileState {
  name: string;
  status: FenceStatus;
  error?: string;
  fences: FenceState[];
}

function status(raw: number): { status: FenceStatus; error?: string } {
  if (raw > 0) return { status: 'signaled' };
  if (raw === 0) return { status: 'active' };
  return { status: 'error', error: errnoName(raw) };
}

/** A sync_file: one or more dma_fences as an fd that polls readable once all signal. */
export class SyncFile extends FdResource {
  constructor(seam: Backend, fd: number, parent: Resource) {
    super(seam, fd, parent);
  }

  info(): SyncFileState {
    assertOpen(this);
    const raw = this.seam.syncFileInfo(this.fd);
    return {
      name: raw.name,
      ...status(raw.status),
      fences: raw.fences.map((f) => ({
        driver: f.driverName,
        timeline: f.objName,
        ...status(f.status),
        timestampNs: f.timestampNs,
      })),
    };
  }

  /** True once every fence has signalled (with or without error). */
  get signaled(): boolean {
    assertOpen(this);
    return (this.seam.poll(this.fd, uapi.POLLIN) & uapi.POLLIN) !== 0;
  }

  /** A new sync_file that signals when both this and `other` have. */
  merge(other: SyncFile, name = 'dmabridge-merge'): SyncFile {
    assertOpen(this);
    assertOpen(instanceArg(other, SyncFile, 'other'));
    toStringArg(name, 'name');
    return new SyncFile(this.seam, this.seam.syncFileMerge(this.fd, other.fd, name), parentOf(this)!);
  }

  /** Resolves once every fence has signalled. */
  async wait(options?: WaitOptions): Promise<void> {
    await waitFor(this, uapi.POLLIN, options);
  }
}
