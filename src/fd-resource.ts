import type { Backend } from '../seam/backend';
import { Resource } from './resource';
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
    this.guard(() => seam.close(fd));
  }

  protected release(): void {
    this.seam.close(this.fd);
  }

  protected waitFor(events: number, options: WaitOptions = {}): Promise<number> {
    this.assertOpen();
    return waitReady(this.seam, this.fd, events, options, (cancel) => this.onClose(cancel));
  }
}
