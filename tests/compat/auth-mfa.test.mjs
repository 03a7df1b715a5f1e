// TOTP multi-factor authentication through supabase-js (reference §2.9), plus bizbase's recovery
// codes: the enroll response carries `recovery_codes` (array of strings), and a recovery code is
// accepted instead of a TOTP code by POST /factors/{id}/verify, once.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  assertAuthError,
  assertNoError,
  assertSession,
  createConfirmedUser,
  jwtClaims,
  signedIn,
  totp,
} from './helpers.mjs';

const T = { timeout: 60_000 };

/** challenge + verify on `sb`'s session; returns the {data, error} of mfa.verify. */
async function challengeAndVerify(sb, factorId, code) {
  const challenge = await sb.auth.mfa.challenge({ factorId });
  assertNoError(challenge.error, 'mfa.challenge');
  assert.ok(challenge.data.id, 'the challenge has an id');
  assert.equal(challenge.data.type, 'totp');
  assert.ok(challenge.data.expires_at > Date.now() / 1000, `expires_at ${challenge.data.expires_at} is in the future`);
  return sb.auth.mfa.verify({ factorId, challengeId: challenge.data.id, code });
}

/** Asserts an aal2 session from mfa.verify (whose amr records `method`, when given). */
function assertAal2(result, user, what, method) {
  assertNoError(result.error, `mfa.verify with ${what}`);
  const claims = assertSession(result.data, { email: user.email, userId: user.id });
  assert.equal(claims.aal, 'aal2', `aal after mfa.verify with ${what}`);
  if (method) assert.ok(claims.amr?.some((m) => m.method === method), `amr ${JSON.stringify(claims.amr)} has ${method}`);
}

/** A confirmed user with a verified TOTP factor, signed in at aal2 on `sb`. */
async function userWithTotp() {
  const user = await createConfirmedUser();
  const { sb } = await signedIn(user.email, user.password);
  const enrolled = await sb.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'Authenticator' });
  assertNoError(enrolled.error, 'mfa.enroll');
  const { id: factorId, totp: { secret }, recovery_codes: recoveryCodes } = enrolled.data;
  const code = totp(secret);
  assertAal2(await challengeAndVerify(sb, factorId, code), user, 'a TOTP code', 'totp');
  return { user, sb, factorId, secret, code, recoveryCodes, enrolled: enrolled.data };
}

test('TOTP: enroll → challenge → verify gives an aal2 session; a new password sign-in is aal1 → aal2', T, async () => {
  const user = await createConfirmedUser();
  const { sb } = await signedIn(user.email, user.password);

  const { data: factor, error } = await sb.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'Phone app' });
  assertNoError(error, 'mfa.enroll');
  assert.ok(factor.id, 'the factor has an id');
  assert.equal(factor.type, 'totp');
  assert.equal(factor.friendly_name, 'Phone app');
  assert.ok(factor.totp.qr_code.startsWith('data:image/svg+xml'), 'supabase-js prefixed the raw SVG');
  assert.ok(factor.totp.qr_code.includes('<svg'), 'qr_code is SVG markup');
  assert.match(factor.totp.secret, /^[A-Z2-7]+=*$/, 'the secret is base32');
  assert.ok(factor.totp.uri.startsWith('otpauth://totp/'), factor.totp.uri);
  assert.equal(new URL(factor.totp.uri).searchParams.get('secret'), factor.totp.secret, 'the URI carries the secret');
  assert.ok(Array.isArray(factor.recovery_codes) && factor.recovery_codes.length > 0, 'recovery_codes is a non-empty array');
  assert.ok(factor.recovery_codes.every((c) => typeof c === 'string' && c.length > 0), 'recovery codes are strings');
  assert.equal(new Set(factor.recovery_codes).size, factor.recovery_codes.length, 'recovery codes are distinct');

  const before = await sb.auth.mfa.listFactors();
  assertNoError(before.error, 'mfa.listFactors before verification');
  assert.equal(before.data.totp.length, 0, 'an unverified factor is not listed under totp');
  assert.deepEqual(before.data.all.map((f) => [f.id, f.status]), [[factor.id, 'unverified']]);

  assertAal2(await challengeAndVerify(sb, factor.id, totp(factor.totp.secret)), user, 'a TOTP code', 'totp');

  const aal = await sb.auth.mfa.getAuthenticatorAssuranceLevel();
  assertNoError(aal.error, 'getAuthenticatorAssuranceLevel');
  assert.equal(aal.data.currentLevel, 'aal2');
  assert.equal(aal.data.nextLevel, 'aal2');

  const factors = await sb.auth.mfa.listFactors();
  assertNoError(factors.error, 'mfa.listFactors');
  assert.equal(factors.data.totp.length, 1, 'one verified TOTP factor');
  assert.equal(factors.data.totp[0].id, factor.id);
  assert.equal(factors.data.totp[0].status, 'verified');
  assert.equal(factors.data.totp[0].friendly_name, 'Phone app');

  // A new password sign-in starts at aal1 and must step up.
  const { sb: fresh, session } = await signedIn(user.email, user.password);
  assert.equal(jwtClaims(session.access_token).aal, 'aal1');
  const freshAal = await fresh.auth.mfa.getAuthenticatorAssuranceLevel();
  assertNoError(freshAal.error, 'getAuthenticatorAssuranceLevel after a password sign-in');
  assert.equal(freshAal.data.currentLevel, 'aal1');
  assert.equal(freshAal.data.nextLevel, 'aal2');
});

test('TOTP: a code that was accepted once is rejected for a later challenge', T, async () => {
  const { sb, factorId, code } = await userWithTotp();
  const reused = await challengeAndVerify(sb, factorId, code);
  assertAuthError(reused.error, { code: 'mfa_verification_failed', status: 422 }, 'verifying with an already-used TOTP code');
  assert.equal(reused.data, null);
});

test('TOTP: a wrong code is mfa_verification_failed', T, async () => {
  const user = await createConfirmedUser();
  const { sb } = await signedIn(user.email, user.password);
  const { data: factor, error } = await sb.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'Wrong code' });
  assertNoError(error, 'mfa.enroll');
  const now = Date.now() / 1000;
  const valid = new Set([-1, 0, 1].map((step) => totp(factor.totp.secret, now + 30 * step)));
  const wrong = ['000000', '123456', '999999'].find((c) => !valid.has(c));
  const result = await challengeAndVerify(sb, factor.id, wrong);
  assertAuthError(result.error, { code: 'mfa_verification_failed', status: 422 }, 'verifying with a wrong code');
});

test('recovery code (bizbase extension): verifies instead of a TOTP code to aal2, once', T, async () => {
  const { user, recoveryCodes } = await userWithTotp();
  assert.ok(Array.isArray(recoveryCodes) && recoveryCodes.length > 0, 'enroll returned recovery_codes');
  const [recoveryCode] = recoveryCodes;

  // A device that only has the password and a recovery code.
  const { sb } = await signedIn(user.email, user.password);
  const factors = await sb.auth.mfa.listFactors();
  assertNoError(factors.error, 'mfa.listFactors');
  const factorId = factors.data.totp[0]?.id;
  assert.ok(factorId, 'the verified factor is listed');

  // Which amr method a recovery code records is bizbase's choice; only the level is checked.
  assertAal2(await challengeAndVerify(sb, factorId, recoveryCode), user, 'a recovery code');

  const again = await challengeAndVerify(sb, factorId, recoveryCode);
  assertAuthError(again.error, { code: 'mfa_verification_failed', status: 422 }, 'using the same recovery code twice');
});
