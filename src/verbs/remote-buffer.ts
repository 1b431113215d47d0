import type { RemoteBuffer } from './mr';

/**
 * The 16 bytes that tell a peer where a registered buffer is, as rping
 * sends them (struct rping_rdma_info): address (64 bits), rkey and length
 * (32 bits each), all in network byte order. Small enough for the private
 * data of a connect (56 bytes) or accept (196), or a SEND.
 */
export const REMOTE_BUFFER_BYTES = 16;

export function encodeRemoteBuffer<T extends Uint8Array<ArrayBufferLike> = Uint8Array<ArrayBuffer>>(remote: RemoteBuffer, out: T = new Uint8Array(REMOTE_BUFFER_BYTES) as T, offset = 0): T {
  if (remote.length > 0xffffffffn) throw new RangeError(`the wire format carries 32-bit lengths; this buffer is ${remote.length} bytes`);
  const view = new DataView(out.buffer, out.byteOffset + offset, REMOTE_BUFFER_BYTES);
  view.setBigUint64(0, remote.addr);
  view.setUint32(8, remote.rkey);
  view.setUint32(12, Number(remote.length));
  return out;
}

export function decodeRemoteBuffer(bytes: Uint8Array, offset = 0): RemoteBuffer {
  if (bytes.length - offset < REMOTE_BUFFER_BYTES) {
    throw new RangeError(`a remote buffer is ${REMOTE_BUFFER_BYTES} bytes; ${bytes.length - offset} were given`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, REMOTE_BUFFER_BYTES);
  return { addr: view.getBigUint64(0), rkey: view.getUint32(8), length: BigInt(view.getUint32(12)) };
}
