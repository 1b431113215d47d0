// What the controls take to name a process of an emulated machine: what a test
// holds, a DmaBridge opened on it (anything with its seam) or the backend itself.
import type { Backend } from '../seam/backend';
import type { FdTable } from './files';

export type ProcessRef = Backend | { readonly seam: Backend };

/** The fd table of a process of the machine; throws for anything else. */
export type FdsOf = (process: ProcessRef) => FdTable;
