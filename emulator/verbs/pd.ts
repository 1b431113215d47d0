import type { IbDevice } from './device';

/** A protection domain (struct ib_pd): MRs and QPs count on it while they live. */
export class IbPd {
  /** pd->usecnt: ibv_dealloc_pd answers EBUSY while it is not 0. */
  users = 0;

  constructor(readonly device: IbDevice) {}
}
