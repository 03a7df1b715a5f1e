// Self-checks of the pure helpers, so an MFA or mail failure can't be blamed on the harness.
// Needs no server.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { base32Decode, jwtClaims, parseMailPayload, totp } from './helpers.mjs';

test('base32Decode matches RFC 4648 test vectors', () => {
  assert.equal(base32Decode('MZXW6YTBOI======').toString(), 'foobar');
  assert.equal(base32Decode('mzxw6ytb').toString(), 'fooba');
  assert.equal(base32Decode('MY').toString(), 'f');
});

test('totp matches the RFC 6238 SHA-1 test vectors', () => {
  // RFC 6238 Appendix B: key = ASCII "12345678901234567890", 8 digits, 30 s steps.
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  const vectors = [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ];
  for (const [time, code] of vectors) assert.equal(totp(secret, time, { digits: 8 }), code, `T=${time}`);
  // The 6-digit code is the same truncation modulo 10^6 (what authenticator apps show).
  assert.equal(totp(secret, 59), '287082');
  assert.equal(totp(secret, 1111111109), '081804');
  assert.equal(totp(secret, 60), totp(secret, 89), 'one code per 30 s step');
  assert.notEqual(totp(secret, 59), totp(secret, 60));
});

test('jwtClaims decodes a base64url payload', () => {
  const payload = Buffer.from(JSON.stringify({ sub: 'u', aal: 'aal2', n: '>?>' })).toString('base64url');
  assert.deepEqual(jwtClaims(`e30.${payload}.sig`), { sub: 'u', aal: 'aal2', n: '>?>' });
  assert.throws(() => jwtClaims('not-a-jwt'));
});

test('parseMailPayload finds the OTP outside URLs and the link token hash', () => {
  const mail = parseMailPayload({
    to: 'a@example.com',
    template: 'recovery',
    subject: 'Reset your password',
    text:
      'Follow http://127.0.0.1:123456/auth/v1/verify?token=ab12cd345678ef&type=recovery&redirect_to=http%3A%2F%2Fx\n' +
      'or enter the code 042917.',
  });
  assert.equal(mail.otp, '042917');
  assert.equal(mail.tokenHash, 'ab12cd345678ef');
  assert.equal(mail.linkType, 'recovery');
  assert.equal(parseMailPayload({ text: 'no code here' }).otp, null);
});
