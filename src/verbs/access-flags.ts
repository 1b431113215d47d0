import { AccessFlag, IBV_ACCESS } from '../../seam/verbs-uapi';

/** Access flags as names; least privilege: local write only unless asked. */
export function accessBits(flags: readonly AccessFlag[] | undefined): number {
  if (flags === undefined) return IBV_ACCESS['local-write'];
  if (!Array.isArray(flags)) throw new TypeError(`access must be an array of flag names, such as ['local-write', 'remote-write']`);
  let bits = 0;
  for (const f of flags as readonly string[]) {
    const bit = (IBV_ACCESS as Record<string, number>)[f];
    if (bit === undefined) throw new TypeError(`unknown access flag '${String(f)}': use ${Object.keys(IBV_ACCESS).join(', ')}`);
    bits |= bit;
  }
  return bits;
}

export function accessNames(bits: number): AccessFlag[] {
  return (Object.keys(IBV_ACCESS) as AccessFlag[]).filter((f) => bits & IBV_ACCESS[f]);
}
