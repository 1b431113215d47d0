import { ERRNO, ErrnoCode, errnoName } from './errno';

/**
 * The error both backends throw: Node's system-error shape. `errno` is
 * negative, as in Node's own fs and net errors; `code` is the errno's name.
 */
export interface SystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

export function systemError(code: ErrnoCode | number, syscall: string, message?: string): SystemError {
  const name = typeof code === 'number' ? errnoName(code) : code;
  const num = typeof code === 'number' ? Math.abs(code) : ERRNO[code];
  const err = new Error(message ?? `${syscall} failed: ${name}`) as SystemError;
  err.code = name;
  err.errno = -num;
  err.syscall = syscall;
  return err;
}

/**
 * A backend's refusal with its reason, in the addon's shape (ErrnoErrorWhy):
 * "SYSCALL failed: CODE (why)".
 */
export function systemErrorWhy(code: ErrnoCode | number, syscall: string, why: string): SystemError {
  const name = typeof code === 'number' ? errnoName(code) : code;
  return systemError(code, syscall, `${syscall} failed: ${name} (${why})`);
}

/** The reason a backend gave in the shape above, if it gave one. */
export function reasonOf(e: SystemError): string | undefined {
  const head = `${e.syscall} failed: ${e.code} (`;
  return e.message.startsWith(head) && e.message.endsWith(')') ? e.message.slice(head.length, -1) : undefined;
}

export function isSystemError(e: unknown): e is SystemError {
  return e instanceof Error && typeof (e as SystemError).code === 'string' &&
    typeof (e as SystemError).errno === 'number' && typeof (e as SystemError).syscall === 'string';
}
