import { expect } from 'vitest';

/** Runs `fn` and expects it to throw E_FEDERATED_PRIVACY with a message matching `field`. */
export function expectPrivacyError(fn: () => unknown, field: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toMatchObject({ name: 'FederatedPrivacyError', code: 'E_FEDERATED_PRIVACY' });
    expect((err as Error).message).toMatch(field);
    return;
  }
  throw new Error('expected an E_FEDERATED_PRIVACY error');
}
