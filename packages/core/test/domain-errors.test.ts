import { describe, expect, it } from 'vitest';
import {
  ErrorCode,
  IllegalTransitionError,
  NotFoundError,
  ValidationError,
  isHitchError,
  isIllegalTransitionError,
  isNotFoundError,
  isValidationError,
} from '@hitch/core';

describe('errors for request handlers', () => {
  it('ValidationError carries its issues, or one issue made of the message', () => {
    const bare = new ValidationError('seats must be 1..4');
    expect(bare.code).toBe(ErrorCode.Validation);
    expect(bare.issues).toEqual([{ path: '', message: 'seats must be 1..4' }]);
    const detailed = new ValidationError('invalid pickup', [{ path: 'pickup.lat', message: 'should be in [-90, 90], got 91' }]);
    expect(detailed.issues).toEqual([{ path: 'pickup.lat', message: 'should be in [-90, 90], got 91' }]);
    expect(detailed.name).toBe('ValidationError');
  });

  it('NotFoundError names the resource and the id, whatever its type', () => {
    const error = new NotFoundError('ride', 7240873362051072n);
    expect(error.message).toBe('ride 7240873362051072 was not found');
    expect(error).toMatchObject({ code: 'HITCH_NOT_FOUND', resource: 'ride', id: '7240873362051072' });
  });

  it('IllegalTransitionError names the machine, the state and the event', () => {
    const error = new IllegalTransitionError('ride', 'completed', 'cancel', 'the ride is over');
    expect(error.message).toBe('ride: event "cancel" is not allowed in state "completed": the ride is over');
    expect(error).toMatchObject({ code: 'HITCH_ILLEGAL_TRANSITION', machine: 'ride', from: 'completed', event: 'cancel' });
  });

  it.each([
    ['ValidationError', new ValidationError('x'), isValidationError],
    ['NotFoundError', new NotFoundError('ride', 1), isNotFoundError],
    ['IllegalTransitionError', new IllegalTransitionError('ride', 'a', 'b'), isIllegalTransitionError],
  ] as const)('%s is a HitchError and only its own guard accepts it', (_name, error, guard) => {
    expect(isHitchError(error)).toBe(true);
    expect(error).toBeInstanceOf(Error);
    expect(guard(error)).toBe(true);
    for (const other of [isValidationError, isNotFoundError, isIllegalTransitionError]) if (other !== guard) expect(other(error)).toBe(false);
    expect(guard(new Error('plain'))).toBe(false);
    expect(guard(null)).toBe(false);
  });
});
