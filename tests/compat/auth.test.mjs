// supabase-js auth flows against bizbase: sign-up with e-mail confirmation, password sign-in,
// the user endpoints, password recovery and magic links (reference §2.3–§2.7, §2.11).
// The server runs with BIZBASE_AUTH_AUTOCONFIRM=false, so sign-ups need the OTP from the outbox.
// Every test makes its own users; none depends on another.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { isAuthWeakPasswordError } from '@supabase/supabase-js';

import {
  assertAuthError,
  assertNoError,
  assertSession,
  client,
  createConfirmedUser,
  jwtClaims,
  latestMail,
  mailsTo,
  signedIn,
  sql,
  strongPassword,
  uniqueEmail,
} from './helpers.mjs';

const T = { timeout: 60_000 };

async function signInFails(email, password, code = 'invalid_credentials') {
  const { data, error } = await client().auth.signInWithPassword({ email, password });
  assertAuthError(error, { code, status: 400 }, `signInWithPassword(${email})`);
  assert.equal(data.session, null);
}

test('signUp (confirmations on) → confirm with the OTP → password sign-in; repeat sign-up is enumeration-safe', T, async () => {
  const email = uniqueEmail('signup');
  const password = strongPassword();

  const { data, error } = await client().auth.signUp({ email, password, options: { data: { plan: 'free' } } });
  assertNoError(error, 'signUp');
  assert.equal(data.session, null, 'no session before the e-mail is confirmed');
  assert.ok(data.user?.id, 'signUp returns the user');
  assert.equal(data.user.email, email);
  assert.equal(data.user.aud, 'authenticated');
  assert.ok(!data.user.email_confirmed_at, 'email_confirmed_at must be absent before confirmation');
  assert.ok(data.user.confirmation_sent_at, 'confirmation_sent_at is set');
  assert.equal(data.user.user_metadata.plan, 'free');
  assert.equal(data.user.identities?.length, 1, 'one e-mail identity');
  assert.equal(data.user.identities[0].provider, 'email');
  assert.equal(data.user.identities[0].user_id, data.user.id);

  // The right password is not enough before confirmation.
  await signInFails(email, password, 'email_not_confirmed');

  const mail = await latestMail(email, 'confirmation');
  assert.ok(mail.otp, `the confirmation mail carries a 6-digit code:\n${mail.text}`);
  const verified = await client().auth.verifyOtp({ email, token: mail.otp, type: 'signup' });
  assertNoError(verified.error, 'verifyOtp(signup)');
  assertSession(verified.data.session, { email, userId: data.user.id });
  assert.ok(verified.data.user.email_confirmed_at, 'email_confirmed_at is set after verification');

  const signIn = await client().auth.signInWithPassword({ email, password });
  assertNoError(signIn.error, 'signInWithPassword');
  const claims = assertSession(signIn.data.session, { email, userId: data.user.id });
  assert.equal(claims.aal, 'aal1');
  assert.equal(claims.email, email);
  assert.ok(claims.amr.some((m) => m.method === 'password'), `amr ${JSON.stringify(claims.amr)} has password`);

  await signInFails(email, `${password}-wrong`);

  // Signing up a confirmed address again: no error, no session, an obfuscated user without identities.
  const again = await client().auth.signUp({ email, password: strongPassword() });
  assertNoError(again.error, 'second signUp');
  assert.equal(again.data.session, null);
  assert.ok(again.data.user, 'a (fake) user is returned');
  assert.deepEqual(again.data.user.identities, [], 'identities: [] tells the app the address is taken');
  assert.notEqual(again.data.user.id, data.user.id, 'the real user id is not disclosed');
});

test('a second signUp of an unconfirmed address with another password keeps neither; the confirmation signs in and a password is set', T, async () => {
  // Someone may have signed up with another person's address: nothing tells which sign-up is the
  // owner's, so no password survives (beyond GoTrue, which keeps the first).
  const email = uniqueEmail('dispute');
  const [first, second, chosen] = [strongPassword(), strongPassword(), strongPassword()];
  const a = await client().auth.signUp({ email, password: first });
  assertNoError(a.error, 'first signUp');
  // A confirmation is re-sent at most once a minute: let that minute pass.
  await sql("update auth.users set confirmation_sent_at = now() - interval '2 minutes' where email = $1", [email]);

  const b = await client().auth.signUp({ email, password: second });

  assertNoError(b.error, 'second signUp');
  assert.equal(b.data.user.id, a.data.user.id);
  assert.equal((await mailsTo(email, 'confirmation')).length, 2);
  const mail = await latestMail(email, 'confirmation');
  const verified = await client().auth.verifyOtp({ email, token: mail.otp, type: 'signup' });
  assertNoError(verified.error, 'verifyOtp(signup)');
  assertSession(verified.data.session, { email, userId: a.data.user.id });
  await signInFails(email, first);
  await signInFails(email, second);
  const sb = client();
  assertNoError((await sb.auth.setSession(verified.data.session)).error, 'setSession');
  assertNoError((await sb.auth.updateUser({ password: chosen })).error, 'updateUser(password)');
  await signedIn(email, chosen);
});

test('signUp with a 3-character password fails with weak_password (reasons include length)', T, async () => {
  const email = uniqueEmail('weak');
  const { data, error } = await client().auth.signUp({ email, password: 'abc' });
  assertAuthError(error, { code: 'weak_password', status: 422 }, 'signUp with a weak password');
  assert.ok(isAuthWeakPasswordError(error), `AuthWeakPasswordError expected, got ${error.name}`);
  assert.ok(error.reasons.includes('length'), `reasons ${JSON.stringify(error.reasons)} include "length"`);
  assert.equal(data.user, null);
  assert.deepEqual(await mailsTo(email), [], 'no confirmation mail for a rejected sign-up');
});

test('getUser returns the signed-in user; updateUser changes metadata and password', T, async () => {
  const user = await createConfirmedUser();
  const { sb } = await signedIn(user.email, user.password);

  const got = await sb.auth.getUser();
  assertNoError(got.error, 'getUser');
  assert.equal(got.data.user.id, user.id);
  assert.equal(got.data.user.email, user.email);

  const meta = await sb.auth.updateUser({ data: { full_name: 'X' } });
  assertNoError(meta.error, 'updateUser(data)');
  assert.equal(meta.data.user.user_metadata.full_name, 'X');
  const reread = await sb.auth.getUser();
  assertNoError(reread.error, 'getUser after updateUser');
  assert.equal(reread.data.user.user_metadata.full_name, 'X', 'the metadata change is stored');

  const newPassword = strongPassword();
  const pw = await sb.auth.updateUser({ password: newPassword });
  assertNoError(pw.error, 'updateUser(password)');
  assert.equal(pw.data.user.id, user.id);
  await signedIn(user.email, newPassword);
  await signInFails(user.email, user.password);
});

test('resetPasswordForEmail is enumeration-safe; the recovery OTP gives a session that can set a new password', T, async () => {
  const user = await createConfirmedUser();
  const stranger = uniqueEmail('nobody');

  const unknown = await client().auth.resetPasswordForEmail(stranger);
  assertNoError(unknown.error, 'resetPasswordForEmail(unknown address)');
  assert.deepEqual(unknown.data, {});

  const known = await client().auth.resetPasswordForEmail(user.email);
  assertNoError(known.error, 'resetPasswordForEmail');
  assert.deepEqual(known.data, {});

  const mail = await latestMail(user.email, 'recovery');
  // Both requests were answered after their transactions committed, so the stranger's mail would be there.
  assert.deepEqual(await mailsTo(stranger), [], 'no mail is sent to an unknown address');
  assert.ok(mail.otp, `the recovery mail carries a 6-digit code:\n${mail.text}`);

  const sb = client();
  const verified = await sb.auth.verifyOtp({ email: user.email, token: mail.otp, type: 'recovery' });
  assertNoError(verified.error, 'verifyOtp(recovery)');
  assertSession(verified.data.session, { email: user.email, userId: user.id });

  const newPassword = strongPassword();
  const updated = await sb.auth.updateUser({ password: newPassword });
  assertNoError(updated.error, 'updateUser(password) with the recovery session');
  await signedIn(user.email, newPassword);
  await signInFails(user.email, user.password);
});

test('the token hash in the recovery link verifies with verifyOtp({token_hash})', T, async () => {
  const user = await createConfirmedUser();
  assertNoError((await client().auth.resetPasswordForEmail(user.email)).error, 'resetPasswordForEmail');
  const mail = await latestMail(user.email, 'recovery');
  assert.ok(mail.tokenHash, `the recovery mail has a link with token=…&type=…:\n${mail.text}`);
  assert.equal(mail.linkType, 'recovery');

  const verified = await client().auth.verifyOtp({ token_hash: mail.tokenHash, type: 'recovery' });
  assertNoError(verified.error, 'verifyOtp(token_hash)');
  assertSession(verified.data.session, { email: user.email, userId: user.id });
});

test('magic link: signInWithOtp(shouldCreateUser: false) mails an OTP that verifies once as type email', T, async () => {
  const user = await createConfirmedUser();
  const sent = await client().auth.signInWithOtp({ email: user.email, options: { shouldCreateUser: false } });
  assertNoError(sent.error, 'signInWithOtp');

  const mail = await latestMail(user.email, 'magiclink');
  assert.ok(mail.otp, `the magic-link mail carries a 6-digit code:\n${mail.text}`);

  const verified = await client().auth.verifyOtp({ email: user.email, token: mail.otp, type: 'email' });
  assertNoError(verified.error, 'verifyOtp(email)');
  assertSession(verified.data.session, { email: user.email, userId: user.id });

  const replay = await client().auth.verifyOtp({ email: user.email, token: mail.otp, type: 'email' });
  assertAuthError(replay.error, { code: 'otp_expired', status: 403 }, 'verifying the same OTP twice');
  assert.equal(replay.data.session, null);
});

test('getUserIdentities lists the e-mail identity; unlinkIdentity answers manual_linking_disabled', T, async () => {
  const user = await createConfirmedUser();
  const { sb } = await signedIn(user.email, user.password);

  const { data, error } = await sb.auth.getUserIdentities();
  assertNoError(error, 'getUserIdentities');
  assert.equal(data.identities.length, 1);
  assert.equal(data.identities[0].provider, 'email');

  const unlinked = await sb.auth.unlinkIdentity(data.identities[0]);
  assertAuthError(unlinked.error, { code: 'manual_linking_disabled', status: 404 }, 'unlinkIdentity');
  assert.equal((await sb.auth.getUserIdentities()).data.identities.length, 1);
});

test('signInAnonymously gives an anonymous session; confirming an e-mail via updateUser makes the user permanent', T, async () => {
  const sb = client();
  const { data, error } = await sb.auth.signInAnonymously({ options: { data: { cart: 'c-1' } } });
  assertNoError(error, 'signInAnonymously');
  assert.equal(data.user.is_anonymous, true);
  assert.equal(data.user.user_metadata.cart, 'c-1');
  assert.equal(jwtClaims(data.session.access_token).is_anonymous, true);

  const email = uniqueEmail('anon');
  const password = strongPassword();
  const updated = await sb.auth.updateUser({ email, password });
  assertNoError(updated.error, 'updateUser({email, password}) of an anonymous user');
  assert.equal(updated.data.user.is_anonymous, true, 'still anonymous until the address is confirmed');

  const mail = await latestMail(email, 'email_change');
  const verified = await sb.auth.verifyOtp({ email, token: mail.otp, type: 'email_change' });
  assertNoError(verified.error, 'verifyOtp(email_change)');
  assert.equal(verified.data.user.is_anonymous, false);
  assert.equal(verified.data.user.id, data.user.id, 'the same user, now permanent');
  assert.equal(jwtClaims(verified.data.session.access_token).is_anonymous, false);
  await signedIn(email, password);
});

test('secure e-mail change: updateUser({email}) is confirmed from the new and the current address', T, async () => {
  const user = await createConfirmedUser();
  const { sb } = await signedIn(user.email, user.password);
  const next = uniqueEmail('moved');

  const updated = await sb.auth.updateUser({ email: next });
  assertNoError(updated.error, 'updateUser({email})');
  assert.equal(updated.data.user.new_email, next);

  const toNew = await latestMail(next, 'email_change');
  const toCurrent = await latestMail(user.email, 'email_change');
  const first = await client().auth.verifyOtp({ email: next, token: toNew.otp, type: 'email_change' });
  assertNoError(first.error, 'verifyOtp(email_change) from the new address');
  assert.equal(first.data.session, null, 'no session after the first leg');
  assert.equal(first.data.user, null);

  const second = await client().auth.verifyOtp({ email: user.email, token: toCurrent.otp, type: 'email_change' });
  assertNoError(second.error, 'verifyOtp(email_change) from the current address');
  assertSession(second.data.session, { email: next, userId: user.id });
  await signedIn(next, user.password);
});
