import { invalidType, invalidValue } from '../args';
import { AccessFlag, IBV_ACCESS } from '../../seam/verbs-uapi';

/** Access flags as names; least privilege: local write only unless asked. */
export function accessBits(flags: readonly AccessFlag[] | undefined, name = 'options.access'): number {
  if (flags === undefined) return IBV_ACCESS['local-write'];
  if (!Array.isArray(flags)) throw invalidType(name, "an array of flag names, such as ['local-write', 'remote-write']", flags);
  let bits = 0;
  for (const f of flags as readonly unknown[]) {
    const bit = typeof f === 'string' && Object.hasOwn(IBV_ACCESS, f) ? (IBV_ACCESS as Record<string, number>)[f] : undefined;
    if (bit === undefined) throw invalidValue(name, f, `holds an unknown access flag: use ${Object.keys(IBV_ACCESS).join(', ')}`);
    bits |= bit;
  }
  return bits;
}

export function accessNames(bits: number): AccessFlag[] {
  return (Object.keys(IBV_ACCESS) as AccessFlag[]).filter((f) => bits & IBV_ACCESS[f]);
}
