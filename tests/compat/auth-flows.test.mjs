// supabase-js auth flows not covered by the other auth*.test.mjs files (reference §2.6–§2.9):
// mfa.challengeAndVerify and the assurance level, the admin factor API, invitations, admin
// generated links, resend and reauthentication, the onAuthStateChange sequence, admin bans,
// null-deletes in admin metadata updates, and getUser with a key instead of a user's JWT.
// The server runs with BIZBASE_AUTH_AUTOCONFIRM=false and a mail frequency of 60 s per user and
// kind (BIZBASE_AUTH_MAIL_FREQUENCY_SECS default). Every test makes its own users.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';

import {
  admin,
  anonKey,
  assertAuthError,
  assertNoError,
  assertSession,
  baseUrl,
  client,
  createConfirmedUser,
  jwtClaims,
  latestMail,
  mailsTo,
  refreshWith,
  signedIn,
  sql,
  strongPassword,
  totp,
  uniqueEmail,
} from './helpers.mjs';

const T = { timeout: 60_000 };

/** GoTrue's `hashed_token` of an e-mailed OTP: hex(sha224(address ‖ otp)) (§2.7 "Verify"). */
const tokenHash = (email, otp) => createHash('sha224').update(`${email}${otp}`).digest('hex');

/** A 6-digit code that is not `code`. */
const otherCode = (code) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

async function aal(sb, what, jwt) {
  const { data, error } = await sb.auth.mfa.getAuthenticatorAssuranceLevel(jwt);
  assertNoError(error, `getAuthenticatorAssuranceLevel ${what}`);
  return data;
}

/** A confirmed user signed in on `sb`, with a verified TOTP factor (the session is aal2). */
async function userWithVerifiedTotp(friendlyName = 'Authenticator') {
  const user = await createConfirmedUser();
  const { sb } = await signedIn(user.email, user.password);
  const enrolled = await sb.auth.mfa.enroll({ factorType: 'totp', friendlyName });
  assertNoError(enrolled.error, 'mfa.enroll');
  const verified = await sb.auth.mfa.challengeAndVerify({ factorId: enrolled.data.id, code: totp(enrolled.data.totp.secret) });
  assertNoError(verified.error, 'mfa.challengeAndVerify');
  assert.equal(jwtClaims(verified.data.access_token).aal, 'aal2');
  return { user, sb, factorId: enrolled.data.id, secret: enrolled.data.totp.secret };
}

describe('auth-flows', () => {
  // ---------------------------------------------------------------------------------------------
  // 1. MFA: challengeAndVerify and the assurance level.

  test('mfa.challengeAndVerify reaches aal2; getAuthenticatorAssuranceLevel before and after', T, async () => {
    const user = await createConfirmedUser();
    const { sb } = await signedIn(user.email, user.password);
    const events = [];
    sb.auth.onAuthStateChange((event) => events.push(event));

    const start = await aal(sb, 'before enrolling');
    assert.equal(start.currentLevel, 'aal1');
    assert.equal(start.nextLevel, 'aal1', 'no verified factor yet: nothing to step up to');
    assert.ok(start.currentAuthenticationMethods.some((m) => m.method === 'password'), JSON.stringify(start));

    const { data: factor, error } = await sb.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'Phone' });
    assertNoError(error, 'mfa.enroll');
    const enrolled = await aal(sb, 'with an unverified factor');
    assert.equal(enrolled.currentLevel, 'aal1');
    assert.equal(enrolled.nextLevel, 'aal1', 'an unverified factor does not raise nextLevel');

    // An unknown factor fails in the challenge step, and challengeAndVerify passes that error on.
    const unknown = await sb.auth.mfa.challengeAndVerify({ factorId: crypto.randomUUID(), code: '123456' });
    assertAuthError(unknown.error, { code: 'mfa_factor_not_found', status: 404 }, 'challengeAndVerify with an unknown factor');
    assert.equal(unknown.data, null);

    const { data, error: verifyError } = await sb.auth.mfa.challengeAndVerify({ factorId: factor.id, code: totp(factor.totp.secret) });
    assertNoError(verifyError, 'mfa.challengeAndVerify');
    const claims = assertSession(data, { email: user.email, userId: user.id });
    assert.equal(claims.aal, 'aal2');
    assert.ok(claims.amr.some((m) => m.method === 'totp'), `amr ${JSON.stringify(claims.amr)} has totp`);
    assert.ok(events.includes('MFA_CHALLENGE_VERIFIED'), `events: ${events}`);
    const { data: stored } = await sb.auth.getSession();
    assert.equal(stored.session?.access_token, data.access_token, 'the client keeps the aal2 session');

    const after = await aal(sb, 'after challengeAndVerify');
    assert.equal(after.currentLevel, 'aal2');
    assert.equal(after.nextLevel, 'aal2');
    const methods = after.currentAuthenticationMethods.map((m) => m.method);
    assert.ok(methods.includes('totp') && methods.includes('password'), `amr methods ${methods}`);
    assert.equal(methods[0], 'totp', 'amr is most recent first');

    // A new password sign-in, asked by its JWT (getAuthenticatorAssuranceLevel(jwt) reads GET /user).
    const { sb: other, session } = await signedIn(user.email, user.password);
    const byJwt = await aal(other, 'of a new password sign-in, by JWT', session.access_token);
    assert.equal(byJwt.currentLevel, 'aal1');
    assert.equal(byJwt.nextLevel, 'aal2', 'the user now has a verified factor');

    // A wrong code leaves that session at aal1.
    const now = Date.now() / 1000;
    const valid = new Set([-1, 0, 1].map((step) => totp(factor.totp.secret, now + 30 * step)));
    const wrong = ['000000', '123456', '999999'].find((c) => !valid.has(c));
    const failed = await other.auth.mfa.challengeAndVerify({ factorId: factor.id, code: wrong });
    assertAuthError(failed.error, { code: 'mfa_verification_failed', status: 422 }, 'challengeAndVerify with a wrong code');
    assert.equal((await aal(other, 'after a failed step-up')).currentLevel, 'aal1');
  });

  // ---------------------------------------------------------------------------------------------
  // 2. Admin factor API.

  test('admin.mfa.listFactors lists the factors; admin.mfa.deleteFactor removes one and the session refreshes at aal1', T, async () => {
    const { user, sb, factorId } = await userWithVerifiedTotp('Work phone');
    const spare = await sb.auth.mfa.enroll({ factorType: 'totp', friendlyName: 'Spare' });
    assertNoError(spare.error, 'mfa.enroll of a second (unverified) factor from the aal2 session');

    const mfa = admin().auth.admin.mfa;
    const listed = await mfa.listFactors({ userId: user.id });
    assertNoError(listed.error, 'admin.mfa.listFactors');
    assert.ok(Array.isArray(listed.data.factors), `factors is an array: ${JSON.stringify(listed.data)}`);
    const byId = new Map(listed.data.factors.map((f) => [f.id, f]));
    assert.deepEqual([...byId.keys()].sort(), [factorId, spare.data.id].sort());
    const verified = byId.get(factorId);
    assert.equal(verified.factor_type, 'totp');
    assert.equal(verified.status, 'verified');
    assert.equal(verified.friendly_name, 'Work phone');
    assert.ok(verified.created_at && verified.updated_at, JSON.stringify(verified));
    assert.equal(byId.get(spare.data.id).status, 'unverified');

    const missing = await mfa.deleteFactor({ userId: user.id, id: crypto.randomUUID() });
    assertAuthError(missing.error, { code: 'mfa_factor_not_found', status: 404 }, 'deleteFactor of an unknown factor');

    const deleted = await mfa.deleteFactor({ userId: user.id, id: factorId });
    assertNoError(deleted.error, 'admin.mfa.deleteFactor');
    // supabase-js 2.119.1 wraps the answer twice ({data: {data: factor, error: null}}, typed as
    // {data: {id}}): a client quirk, the same against GoTrue. Unwrap either shape.
    const gone = deleted.data?.data ?? deleted.data;
    assert.equal(gone.id, factorId, `the deleted factor is returned: ${JSON.stringify(deleted.data)}`);
    assert.equal(gone.factor_type, 'totp');
    assert.equal(gone.status, 'verified');

    const relisted = await mfa.listFactors({ userId: user.id });
    assertNoError(relisted.error, 'admin.mfa.listFactors after the deletion');
    assert.deepEqual(relisted.data.factors.map((f) => f.id), [spare.data.id]);

    // The user's aal2 session is downgraded: its next access token is aal1, and nothing asks for aal2.
    const refreshed = await sb.auth.refreshSession();
    assertNoError(refreshed.error, 'refreshSession after the factor was deleted');
    const claims = assertSession(refreshed.data.session, { userId: user.id });
    assert.equal(claims.aal, 'aal1', 'the session drops back to aal1');
    const level = await aal(sb, 'after the deletion');
    assert.equal(level.currentLevel, 'aal1');
    assert.equal(level.nextLevel, 'aal1', 'no verified factor is left');

    const unknownUser = await mfa.listFactors({ userId: crypto.randomUUID() });
    assertAuthError(unknownUser.error, { code: 'user_not_found', status: 404 }, 'listFactors of an unknown user');
  });

  // ---------------------------------------------------------------------------------------------
  // 3. Invitations.

  test('admin.inviteUserByEmail → verifyOtp(invite) gives a session; the user sets a password and signs in', T, async () => {
    const email = uniqueEmail('invited');
    const { data, error } = await admin().auth.admin.inviteUserByEmail(email, { data: { team: 'support' } });
    assertNoError(error, 'admin.inviteUserByEmail');
    const invited = data.user;
    assert.ok(invited?.id, 'the invited user is returned');
    assert.equal(invited.email, email);
    assert.ok(invited.invited_at, `invited_at is set: ${JSON.stringify(invited)}`);
    assert.ok(invited.confirmation_sent_at, `confirmation_sent_at is set: ${JSON.stringify(invited)}`);
    assert.ok(!invited.email_confirmed_at, 'not confirmed before the invitation is accepted');
    assert.equal(invited.user_metadata.team, 'support');

    const mail = await latestMail(email, 'invite');
    assert.ok(mail.otp, `the invitation carries a 6-digit code:\n${mail.text}`);
    assert.equal(mail.linkType, 'invite', `the invitation has a verify link of type invite:\n${mail.text}`);
    assert.equal(mail.tokenHash, tokenHash(email, mail.otp), 'the link carries sha224(email ‖ otp)');

    // A second invitation of a pending address is allowed; of a confirmed one it is email_exists (below).
    const sb = client();
    const verified = await sb.auth.verifyOtp({ email, token: mail.otp, type: 'invite' });
    assertNoError(verified.error, 'verifyOtp(invite)');
    assertSession(verified.data.session, { email, userId: invited.id });
    assert.ok(verified.data.user.email_confirmed_at, 'accepting the invitation confirms the address');
    assert.equal(verified.data.user.user_metadata.team, 'support');

    const password = strongPassword();
    const updated = await sb.auth.updateUser({ password });
    assertNoError(updated.error, 'updateUser(password) with the invitation session');
    const { session } = await signedIn(email, password);
    assert.equal(session.user.id, invited.id);

    const again = await admin().auth.admin.inviteUserByEmail(email);
    assertAuthError(again.error, { code: 'email_exists', status: 422 }, 'inviting a confirmed user');
  });

  // ---------------------------------------------------------------------------------------------
  // 4. Admin generated links.

  /** Asserts the `properties` of a generated link for `email`; returns them. */
  function assertLinkProperties(result, { what, email, verificationType, linkType = verificationType, redirectTo }) {
    assertNoError(result.error, `admin.generateLink(${what})`);
    const { properties, user } = result.data;
    assert.ok(properties && user, `generateLink splits the answer into {properties, user}: ${JSON.stringify(result.data)}`);
    assert.equal(properties.verification_type, verificationType, `${what}: verification_type`);
    assert.match(properties.email_otp, /^\d{6}$/, `${what}: email_otp`);
    assert.match(properties.hashed_token, /^[0-9a-f]{56}$/, `${what}: hashed_token is hex sha224`);
    assert.equal(properties.hashed_token, tokenHash(email, properties.email_otp), `${what}: hashed_token = sha224(email ‖ otp)`);
    assert.equal(properties.redirect_to, redirectTo, `${what}: redirect_to`);
    const link = new URL(properties.action_link);
    assert.equal(link.origin, baseUrl(), `${what}: action_link ${properties.action_link}`);
    assert.equal(link.pathname, '/auth/v1/verify', `${what}: action_link ${properties.action_link}`);
    assert.equal(link.searchParams.get('token'), properties.hashed_token, `${what}: the link carries the hashed token`);
    assert.equal(link.searchParams.get('type'), linkType, `${what}: the link's type`);
    assert.equal(link.searchParams.get('redirect_to'), redirectTo, `${what}: the link's redirect_to`);
    // The user fields are not left in properties, nor the link fields in user.
    assert.equal(user.action_link, undefined);
    assert.equal(properties.id, undefined);
    return properties;
  }

  test('admin.generateLink signup/magiclink/recovery/invite: properties, and the hashed_token verifies', T, async () => {
    const gen = admin().auth.admin;
    const redirectTo = `${baseUrl()}/welcome`;

    // signup: creates an unconfirmed user with the password; no mail is sent.
    const email = uniqueEmail('gl-signup');
    const password = strongPassword();
    const signup = await gen.generateLink({ type: 'signup', email, password, options: { data: { from: 'link' }, redirectTo } });
    const signupProps = assertLinkProperties(signup, { what: 'signup', email, verificationType: 'signup', redirectTo });
    assert.equal(signup.data.user.email, email);
    assert.ok(!signup.data.user.email_confirmed_at, 'a signup link does not confirm by itself');
    assert.equal(signup.data.user.user_metadata.from, 'link');
    assert.deepEqual(await mailsTo(email), [], 'generateLink sends no e-mail');
    const confirmed = await client().auth.verifyOtp({ token_hash: signupProps.hashed_token, type: 'signup' });
    assertNoError(confirmed.error, 'verifyOtp({token_hash, type: signup})');
    assertSession(confirmed.data.session, { email, userId: signup.data.user.id });
    assert.ok(confirmed.data.user.email_confirmed_at);
    await signedIn(email, password);
    const dup = await gen.generateLink({ type: 'signup', email, password: strongPassword() });
    assertAuthError(dup.error, { code: 'email_exists', status: 422 }, 'a signup link for a registered address');
    assert.equal(dup.data.properties, null);

    // magiclink of a confirmed user; a disallowed redirectTo falls back to the site URL.
    const user = await createConfirmedUser();
    const magic = await gen.generateLink({ type: 'magiclink', email: user.email, options: { redirectTo: 'https://evil.example/steal' } });
    const magicProps = assertLinkProperties(magic, { what: 'magiclink', email: user.email, verificationType: 'magiclink', redirectTo: magic.data.properties?.redirect_to });
    assert.ok(!magicProps.redirect_to.startsWith('https://evil.example'), `redirect_to ${magicProps.redirect_to} is not the disallowed URL`);
    assert.equal(new URL(magicProps.redirect_to).origin, baseUrl(), 'it falls back to the site URL');
    const magicSession = await client().auth.verifyOtp({ token_hash: magicProps.hashed_token, type: 'magiclink' });
    assertNoError(magicSession.error, 'verifyOtp({token_hash, type: magiclink})');
    assertSession(magicSession.data.session, { email: user.email, userId: user.id });
    const spent = await client().auth.verifyOtp({ token_hash: magicProps.hashed_token, type: 'magiclink' });
    assertAuthError(spent.error, { code: 'otp_expired', status: 403 }, 'verifying a generated link twice');

    // magiclink for an unknown address creates the user as a signup (GoTrue: verification_type signup).
    const fresh = uniqueEmail('gl-magic-new');
    const magicNew = await gen.generateLink({ type: 'magiclink', email: fresh });
    assertLinkProperties(magicNew, { what: 'magiclink (unknown address)', email: fresh, verificationType: 'signup', redirectTo: magicNew.data.properties?.redirect_to });
    assert.equal(magicNew.data.user.email, fresh);

    // recovery: a session that may set a new password.
    const recovery = await gen.generateLink({ type: 'recovery', email: user.email, options: { redirectTo } });
    const recoveryProps = assertLinkProperties(recovery, { what: 'recovery', email: user.email, verificationType: 'recovery', redirectTo });
    const rsb = client();
    const events = [];
    rsb.auth.onAuthStateChange((event) => events.push(event));
    const recovered = await rsb.auth.verifyOtp({ token_hash: recoveryProps.hashed_token, type: 'recovery' });
    assertNoError(recovered.error, 'verifyOtp({token_hash, type: recovery})');
    assertSession(recovered.data.session, { email: user.email, userId: user.id });
    assert.ok(events.includes('PASSWORD_RECOVERY'), `events: ${events}`);
    const newPassword = strongPassword();
    assertNoError((await rsb.auth.updateUser({ password: newPassword })).error, 'updateUser(password) after a recovery link');
    await signedIn(user.email, newPassword);
    const noUser = await gen.generateLink({ type: 'recovery', email: uniqueEmail('gl-nobody') });
    assertAuthError(noUser.error, { code: 'user_not_found', status: 404 }, 'a recovery link for an unknown address');

    // invite: creates the user with invited_at; the email_otp verifies too.
    const guest = uniqueEmail('gl-invite');
    const invite = await gen.generateLink({ type: 'invite', email: guest, options: { data: { team: 'ops' }, redirectTo } });
    const inviteProps = assertLinkProperties(invite, { what: 'invite', email: guest, verificationType: 'invite', redirectTo });
    assert.ok(invite.data.user.invited_at, `invited_at is set: ${JSON.stringify(invite.data.user)}`);
    assert.equal(invite.data.user.user_metadata.team, 'ops');
    assert.deepEqual(await mailsTo(guest), [], 'generateLink(invite) sends no e-mail');
    const accepted = await client().auth.verifyOtp({ token_hash: inviteProps.hashed_token, type: 'invite' });
    assertNoError(accepted.error, 'verifyOtp({token_hash, type: invite})');
    assertSession(accepted.data.session, { email: guest, userId: invite.data.user.id });
    assert.ok(accepted.data.user.email_confirmed_at, 'the invitation confirmed the address');
  });

  test('admin.generateLink email_change_current/email_change_new: the requested leg is the verification_type; both legs change the address', T, async () => {
    const user = await createConfirmedUser();
    const next = uniqueEmail('gl-moved');
    const gen = admin().auth.admin;

    const current = await gen.generateLink({ type: 'email_change_current', email: user.email, newEmail: next });
    const currentProps = assertLinkProperties(current, {
      what: 'email_change_current',
      email: user.email,
      verificationType: 'email_change_current',
      linkType: 'email_change',
      redirectTo: current.data.properties?.redirect_to,
    });
    assert.equal(current.data.user.new_email, next, 'the user shows the pending address');

    const fresh = await gen.generateLink({ type: 'email_change_new', email: user.email, newEmail: next });
    const newProps = assertLinkProperties(fresh, {
      what: 'email_change_new',
      email: next,
      verificationType: 'email_change_new',
      linkType: 'email_change',
      redirectTo: fresh.data.properties?.redirect_to,
    });
    assert.deepEqual(await mailsTo(next), [], 'generateLink sends no e-mail to the new address');
    assert.deepEqual(await mailsTo(user.email), [], 'nor to the current one');

    const taken = await gen.generateLink({ type: 'email_change_new', email: user.email, newEmail: (await createConfirmedUser()).email });
    assertAuthError(taken.error, { code: 'email_exists', status: 422 }, 'an e-mail change link to a taken address');

    // Secure e-mail change: the first leg is accepted without a session, the second completes it.
    const first = await client().auth.verifyOtp({ token_hash: newProps.hashed_token, type: 'email_change' });
    assertNoError(first.error, 'verifyOtp({token_hash, type: email_change}) of the new address');
    assert.equal(first.data.session, null, 'no session after the first leg');
    const second = await client().auth.verifyOtp({ token_hash: currentProps.hashed_token, type: 'email_change' });
    assertNoError(second.error, 'verifyOtp({token_hash, type: email_change}) of the current address');
    assertSession(second.data.session, { email: next, userId: user.id });
    await signedIn(next, user.password);
  });

  // ---------------------------------------------------------------------------------------------
  // 5. resend and reauthenticate.

  test('resend(signup) within the mail frequency is over_email_send_rate_limit; later it sends a new confirmation that confirms', T, async () => {
    const email = uniqueEmail('resend');
    const password = strongPassword();
    const signUp = await client().auth.signUp({ email, password });
    assertNoError(signUp.error, 'signUp');
    const firstMail = await latestMail(email, 'confirmation');

    const tooSoon = await client().auth.resend({ type: 'signup', email });
    assertAuthError(tooSoon.error, { code: 'over_email_send_rate_limit', status: 429 }, 'resend right after signUp');
    assert.match(tooSoon.error.message, /after \d+ seconds/, tooSoon.error.message);
    assert.equal((await mailsTo(email, 'confirmation')).length, 1, 'the refused resend sent nothing');

    // Let the minute pass (the server's per-user mail frequency, BIZBASE_AUTH_MAIL_FREQUENCY_SECS=60).
    await sql("update auth.users set confirmation_sent_at = now() - interval '2 minutes' where email = $1", [email]);
    const resent = await client().auth.resend({ type: 'signup', email });
    assertNoError(resent.error, 'resend(signup)');
    assert.deepEqual(resent.data, { user: null, session: null });
    const mails = await mailsTo(email, 'confirmation');
    assert.equal(mails.length, 2, 'a second confirmation mail');
    const secondMail = mails[1];
    assert.ok(secondMail.otp, `the resent mail carries a code:\n${secondMail.text}`);

    if (firstMail.otp !== secondMail.otp) {
      const old = await client().auth.verifyOtp({ email, token: firstMail.otp, type: 'signup' });
      assertAuthError(old.error, { code: 'otp_expired', status: 403 }, 'the first confirmation code after a resend');
    }
    const verified = await client().auth.verifyOtp({ email, token: secondMail.otp, type: 'signup' });
    assertNoError(verified.error, 'verifyOtp(signup) with the resent code');
    assertSession(verified.data.session, { email, userId: signUp.data.user.id });
    await signedIn(email, password);

    // Nothing to resend for an unknown address, and no error that would reveal it.
    const stranger = uniqueEmail('resend-nobody');
    const unknown = await client().auth.resend({ type: 'signup', email: stranger });
    assertNoError(unknown.error, 'resend for an unknown address');
    assert.deepEqual(await mailsTo(stranger), []);
  });

  test('reauthenticate mails a nonce: updateUser({password, nonce}) with a wrong nonce is reauthentication_not_valid, with the right one it changes the password once', T, async () => {
    const user = await createConfirmedUser();
    const { sb } = await signedIn(user.email, user.password);

    const sent = await sb.auth.reauthenticate();
    assertNoError(sent.error, 'reauthenticate');
    assert.deepEqual(sent.data, { user: null, session: null });
    const mail = await latestMail(user.email, 'reauthentication');
    assert.ok(mail.otp, `the reauthentication mail carries a nonce:\n${mail.text}`);
    const { data: me } = await sb.auth.getUser();
    assert.ok(me.user.reauthentication_sent_at, 'reauthentication_sent_at is set');

    const again = await sb.auth.reauthenticate();
    assertAuthError(again.error, { code: 'over_email_send_rate_limit', status: 429 }, 'a second reauthenticate within the mail frequency');

    const newPassword = strongPassword();
    // 400 as the reference (§2.11) lists it; current GoTrue answers 422. supabase-js reads the code.
    const wrong = await sb.auth.updateUser({ password: newPassword, nonce: otherCode(mail.otp) });
    assertAuthError(wrong.error, { code: 'reauthentication_not_valid', status: 400 }, 'updateUser with a wrong nonce');
    await signedIn(user.email, user.password); // unchanged

    const ok = await sb.auth.updateUser({ password: newPassword, nonce: mail.otp });
    assertNoError(ok.error, 'updateUser({password, nonce})');
    assert.equal(ok.data.user.id, user.id);
    await signedIn(user.email, newPassword);

    const reused = await sb.auth.updateUser({ password: strongPassword(), nonce: mail.otp });
    assertAuthError(reused.error, { code: 'reauthentication_not_valid' }, 'reusing a spent nonce');
    await signedIn(user.email, newPassword);
  });

  // ---------------------------------------------------------------------------------------------
  // 6. onAuthStateChange.

  test('onAuthStateChange: INITIAL_SESSION, SIGNED_IN, TOKEN_REFRESHED, USER_UPDATED, SIGNED_OUT in order', T, async () => {
    const user = await createConfirmedUser();
    const sb = client();
    const events = [];
    let initial;
    const gotInitial = new Promise((resolve) => (initial = resolve));
    const { data: { subscription } } = sb.auth.onAuthStateChange((event, session) => {
      events.push({ event, session });
      if (event === 'INITIAL_SESSION') initial();
    });
    await gotInitial;
    assert.equal(events[0].session, null, 'no session at first');

    const signIn = await sb.auth.signInWithPassword({ email: user.email, password: user.password });
    assertNoError(signIn.error, 'signInWithPassword');
    const refreshed = await sb.auth.refreshSession();
    assertNoError(refreshed.error, 'refreshSession');
    const updated = await sb.auth.updateUser({ data: { nickname: 'flow' } });
    assertNoError(updated.error, 'updateUser(data)');
    assertNoError((await sb.auth.signOut()).error, 'signOut');
    subscription.unsubscribe();

    assert.deepEqual(
      events.map((e) => e.event),
      ['INITIAL_SESSION', 'SIGNED_IN', 'TOKEN_REFRESHED', 'USER_UPDATED', 'SIGNED_OUT'],
    );
    const [, signedInEv, refreshedEv, updatedEv, signedOutEv] = events;
    assert.equal(signedInEv.session.access_token, signIn.data.session.access_token);
    assert.equal(signedInEv.session.user.id, user.id);
    assert.equal(refreshedEv.session.refresh_token, refreshed.data.session.refresh_token);
    assert.notEqual(refreshedEv.session.refresh_token, signIn.data.session.refresh_token, 'a rotated refresh token');
    assert.equal(updatedEv.session.user.user_metadata.nickname, 'flow', 'USER_UPDATED carries the updated user');
    assert.equal(updatedEv.session.refresh_token, refreshed.data.session.refresh_token, 'updateUser keeps the session');
    assert.equal(signedOutEv.session, null);
    assert.equal((await sb.auth.getSession()).data.session, null, 'signed out locally');
    const gone = await refreshWith(refreshed.data.session.refresh_token);
    assert.ok(gone.error, 'the session ended on the server as well');
  });

  // ---------------------------------------------------------------------------------------------
  // 7. Admin ban.

  test('a ban keeps the sessions: refresh and getUser answer user_banned, and the session works again once unbanned', T, async () => {
    const user = await createConfirmedUser();
    const { sb, session } = await signedIn(user.email, user.password);
    const users = admin().auth.admin;

    const banned = await users.updateUserById(user.id, { ban_duration: '1h' });
    assertNoError(banned.error, 'updateUserById({ban_duration: "1h"})');
    const until = Date.parse(banned.data.user.banned_until);
    assert.ok(until > Date.now() + 50 * 60_000 && until < Date.now() + 70 * 60_000, `banned_until ${banned.data.user.banned_until} is ~1 h away`);

    const refresh = await sb.auth.refreshSession();
    assertAuthError(refresh.error, { code: 'user_banned', status: 400 }, 'refreshSession of a banned user');
    assert.equal(refresh.data.session, null);
    const got = await sb.auth.getUser(session.access_token);
    assertAuthError(got.error, { code: 'user_banned', status: 403 }, 'getUser(jwt) of a banned user');
    const login = await client().auth.signInWithPassword({ email: user.email, password: user.password });
    assertAuthError(login.error, { code: 'user_banned', status: 400 }, 'signInWithPassword of a banned user');

    const unbanned = await users.updateUserById(user.id, { ban_duration: 'none' });
    assertNoError(unbanned.error, 'updateUserById({ban_duration: "none"})');
    assert.equal(unbanned.data.user.banned_until, undefined, `banned_until is omitted once unbanned (§2.4): ${unbanned.data.user.banned_until}`);

    // The same session (its refresh token was not rotated by the refused refresh) works again. A new
    // client: supabase-js caches a failed refresh of one token for a while.
    const again = await refreshWith(session.refresh_token);
    assertNoError(again.error, 'refreshing the session from before the ban');
    const claims = assertSession(again.data.session, { userId: user.id });
    assert.equal(claims.session_id, jwtClaims(session.access_token).session_id, 'the same session');
    const gotAgain = await client().auth.getUser(session.access_token);
    assertNoError(gotAgain.error, 'getUser(jwt) after the ban was lifted');
    assert.equal(gotAgain.data.user.id, user.id);
  });

  // ---------------------------------------------------------------------------------------------
  // 8. Admin metadata updates: null deletes a key.

  test('admin.updateUserById with {a: null} / {k: null} removes those metadata keys and keeps the others', T, async () => {
    const created = await createConfirmedUser({ user_metadata: { a: 1, b: 'two' }, app_metadata: { k: 'v', plan: 'pro' } });
    assert.equal(created.user.app_metadata.k, 'v');

    const users = admin().auth.admin;
    const { data, error } = await users.updateUserById(created.id, { user_metadata: { a: null, c: 3 }, app_metadata: { k: null } });
    assertNoError(error, 'updateUserById with null metadata values');
    const check = (user, what) => {
      assert.deepEqual(user.user_metadata, { ...userMetadataExtras(user), b: 'two', c: 3 }, `${what}: user_metadata ${JSON.stringify(user.user_metadata)}`);
      assert.equal('a' in user.user_metadata, false, `${what}: user_metadata.a is removed, not null`);
      assert.equal('k' in user.app_metadata, false, `${what}: app_metadata.k is removed, not null: ${JSON.stringify(user.app_metadata)}`);
      assert.equal(user.app_metadata.plan, 'pro', `${what}: other app_metadata keys stay`);
      assert.equal(user.app_metadata.provider, 'email', `${what}: provider stays`);
      assert.deepEqual(user.app_metadata.providers, ['email'], `${what}: providers stay`);
    };
    check(data.user, 'the answer');
    const reread = await users.getUserById(created.id);
    assertNoError(reread.error, 'getUserById');
    check(reread.data.user, 'getUserById');
    const { session } = await signedIn(created.email, created.password);
    const claims = jwtClaims(session.access_token);
    assert.equal('a' in claims.user_metadata, false, `JWT user_metadata ${JSON.stringify(claims.user_metadata)}`);
    assert.equal('k' in claims.app_metadata, false, `JWT app_metadata ${JSON.stringify(claims.app_metadata)}`);
  });

  // ---------------------------------------------------------------------------------------------
  // 9. A key is not a user's JWT.

  test('getUser(anon key) is bad_jwt "invalid claim: missing sub claim"', T, async () => {
    const { data, error } = await client().auth.getUser(anonKey());
    assertAuthError(error, { code: 'bad_jwt', status: 403 }, 'getUser with the anon key as the JWT');
    assert.equal(error.message, 'invalid claim: missing sub claim');
    assert.equal(data.user, null);
  });
});

/** Keys a server may add to user_metadata on its own (GoTrue adds e.g. email_verified for e-mail users). */
function userMetadataExtras(user) {
  const extras = {};
  for (const key of ['email', 'email_verified', 'phone_verified', 'sub']) {
    if (key in user.user_metadata) extras[key] = user.user_metadata[key];
  }
  return extras;
}
