import { IBV_ACCESS } from '../../seam/verbs-uapi';
import { invalidType, invalidValue } from '../args';
import { byName, Kebab } from '../enum-names';

/** An ibv_access_flags bit by its API name: 'local-write', 'remote-read', … */
export type AccessFlag = Kebab<keyof typeof IBV_ACCESS>;
const FLAGS = byName(IBV_ACCESS);

/** Access flags as names; least privilege: local write only unless asked. */
export function accessBits(flags: readonly AccessFlag[] | undefined, name = 'options.access'): number {
  if (flags === undefined) return IBV_ACCESS.LOCAL_WRITE;
  if (!Array.isArray(flags)) throw invalidType(name, "an array of flag names, such as ['local-write', 'remote-write']", flags);
  let bits = 0;
  for (const f of flags as readonly unknown[]) {
    const bit = typeof f === 'string' ? FLAGS.get(f as AccessFlag) : undefined;
    if (bit === undefined) throw invalidValue(name, f, `holds an unknown access flag: use ${[...FLAGS.keys()].join(', ')}`);
    bits |= bit;
  }
  return bits;
}

export function accessNames(bits: number): AccessFlag[] {
  return [...FLAGS].filter(([, bit]) => bits & bit).map(([name]) => name);
}
