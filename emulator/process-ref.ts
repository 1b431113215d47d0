// What the controls take to name a process of an emulated machine: what a test
// holds, a DmaBridge opened on it or the backend itself.
import type { Backend } from '../seam/backend';
import type { DmaBridge } from '../src/dmabridge';
import type { FdTable } from './files';

export type ProcessRef = Backend | DmaBridge;

/** The fd table of a process of the machine; throws for anything else. */
export type FdsOf = (process: ProcessRef) => FdTable;
