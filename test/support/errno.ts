// The one way tests assert a system error: the code and the syscall, with the
// errno Node's own errors would carry for that code (its negative).
import { expect } from 'vitest';
import { ERRNO, ErrnoCode } from '../../seam/errno';
import { isSystemError, SystemError } from '../../seam/system-error';

/** The system error `fn` throws; anything else it throws is rethrown, and returning fails the test. */
export function errorOf(fn: () => unknown): SystemError {
  try {
    fn();
  } catch (e) {
    if (isSystemError(e)) return e;
    throw e;
  }
  throw new Error('expected a system error, and the call succeeded');
}

/** Expects `fn` to throw `code` from `syscall`, with errno -ERRNO[code]; returns the error for further checks. */
export function expectErrno(fn: () => unknown, code: ErrnoCode, syscall: string): SystemError {
  const e = errorOf(fn);
  expect({ code: e.code, errno: e.errno, syscall: e.syscall }).toEqual({ code, errno: -ERRNO[code], syscall });
  return e;
}
