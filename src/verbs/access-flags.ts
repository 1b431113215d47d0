import { IBV_ACCESS } from '../../seam/verbs-uapi';
import { byName, Kebab } from '../enum-names';

/** An ibv_access_flags bit by its API name: 'local-write', 'remote-read', … */
export type AccessFlag = Kebab<keyof typeof IBV_ACCESS>;
const FLAGS = byName(IBV_ACCESS);

/** Access flags as names; least privilege: local write only unless asked. */
export function accessBits(flags: readonly AccessFlag[] | undefined): number {
  if (flags === undefined) return IBV_ACCESS.LOCAL_WRITE;
  if (!Array.isArray(flags)) throw new TypeError(`access must be an array of flag names, such as ['local-write', 'remote-write']`);
  let bits = 0;
  for (const f of flags as readonly string[]) {
    const bit = FLAGS.get(f as AccessFlag);
    if (bit === undefined) throw new TypeError(`unknown access flag '${String(f)}': use ${[...FLAGS.keys()].join(', ')}`);
    bits |= bit;
  }
  return bits;
}

export function accessNames(bits: number): AccessFlag[] {
  return [...FLAGS].filter(([, bit]) => bits & bit).map(([name]) => name);
}
