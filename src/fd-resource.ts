import type { Backend } from '../seam/backend';
import { assertOpen, onClose, Resource, teardown } from './resource';
import { waitReady, WaitOptions } from './wait';

/** A Resource that owns one fd of the backend's process. */
export abstract class FdResource extends Resource {
  /** The caller has checked `parent` is open before it made `fd`. */
  protected constructor(
    readonly seam: Backend,
    readonly fd: number,
    parent?: Resource,
  ) {
    super(parent);
    teardown(this, () => seam.close(fd));
  }
}

/** Resolves once `resource`'s fd polls `events`; closing `resource` cancels the wait. */
export function waitFor(resource: FdResource, events: number, options: WaitOptions = {}): Promise<number> {
  assertOpen(resource);
  return waitReady(resource.seam, resource.fd, events, options, (cancel) => onClose(resource, cancel));
}
