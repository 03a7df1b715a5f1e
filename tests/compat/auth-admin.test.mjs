// supabase-js `auth.admin` (service_role key) against bizbase (reference §2.8, §1.3).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  admin,
  assertAuthError,
  assertNoError,
  client,
  createConfirmedUser,
  mailsTo,
  refreshWith,
  signedIn,
  strongPassword,
  uniqueEmail,
} from './helpers.mjs';

const T = { timeout: 60_000 };

test('admin.createUser makes a confirmed user who can sign in; duplicates are email_exists', T, async () => {
  const email = uniqueEmail('admin-create');
  const password = strongPassword();
  const { data, error } = await admin().auth.admin.createUser({
    email,
    password,
    email_confirm: true,
    user_metadata: { team: 'sales' },
  });
  assertNoError(error, 'admin.createUser');
  const { user } = data;
  assert.ok(user.id);
  assert.equal(user.email, email);
  assert.equal(user.aud, 'authenticated');
  assert.equal(user.role, 'authenticated');
  assert.ok(user.email_confirmed_at, 'email_confirm: true sets email_confirmed_at');
  assert.equal(user.user_metadata.team, 'sales');
  assert.equal(user.app_metadata.provider, 'email');
  assert.deepEqual(user.app_metadata.providers, ['email']);
  assert.equal(user.identities?.length, 1);

  const { session } = await signedIn(email, password);
  assert.equal(session.user.id, user.id);
  assert.deepEqual(await mailsTo(email), [], 'admin.createUser sends no e-mail');

  const dup = await admin().auth.admin.createUser({ email, password: strongPassword(), email_confirm: true });
  assertAuthError(dup.error, { code: 'email_exists', status: 422 }, 'creating the same address twice');
});

test('admin.createUser keeps an imported id; a malformed page is a readable validation_failed', T, async () => {
  const id = crypto.randomUUID();
  const email = uniqueEmail('admin-id');
  const { data, error } = await admin().auth.admin.createUser({ id, email, password: strongPassword(), email_confirm: true });
  assertNoError(error, 'admin.createUser({id})');
  assert.equal(data.user.id, id);
  const again = await admin().auth.admin.createUser({ id, email: uniqueEmail('admin-id2'), email_confirm: true });
  assertAuthError(again.error, { code: 'user_already_exists', status: 422 }, 'a taken id');

  // Node's fetch asks for gzip: the rejection must arrive as JSON it can read, not as a network error.
  const bad = await admin().auth.admin.listUsers({ page: 'abc' });
  assertAuthError(bad.error, { code: 'validation_failed', status: 400 }, 'listUsers({page: "abc"})');
});

test('admin.listUsers paginates: perPage is honoured and total/nextPage come from the headers', T, async () => {
  for (let i = 0; i < 3; i++) await createConfirmedUser({ email: uniqueEmail(`list${i}`) });

  const { data, error } = await admin().auth.admin.listUsers({ page: 1, perPage: 2 });
  assertNoError(error, 'admin.listUsers');
  assert.ok(Array.isArray(data.users), 'users is an array');
  assert.equal(data.users.length, 2, 'at least 3 users exist, so page 1 of size 2 is full');
  assert.ok(data.users.every((u) => u.id && u.email !== undefined), 'users are User objects');
  assert.ok(data.total >= 3, `total (X-Total-Count) = ${data.total}`);
  assert.equal(data.nextPage, 2, 'Link header rel="next" points at page 2');
  assert.ok(data.lastPage >= 2, `lastPage = ${data.lastPage}`);

  const page2 = await admin().auth.admin.listUsers({ page: 2, perPage: 2 });
  assertNoError(page2.error, 'admin.listUsers page 2');
  const firstIds = new Set(data.users.map((u) => u.id));
  assert.ok(page2.data.users.length > 0, 'page 2 has users');
  assert.ok(page2.data.users.every((u) => !firstIds.has(u.id)), 'pages do not overlap');
});

test('admin.getUserById and updateUserById', T, async () => {
  const created = await createConfirmedUser({ user_metadata: { a: 1 } });

  const got = await admin().auth.admin.getUserById(created.id);
  assertNoError(got.error, 'admin.getUserById');
  assert.equal(got.data.user.id, created.id);
  assert.equal(got.data.user.email, created.email);
  assert.equal(got.data.user.user_metadata.a, 1);

  const updated = await admin().auth.admin.updateUserById(created.id, { user_metadata: { plan: 'pro' } });
  assertNoError(updated.error, 'admin.updateUserById');
  assert.equal(updated.data.user.user_metadata.plan, 'pro');

  const reread = await admin().auth.admin.getUserById(created.id);
  assertNoError(reread.error, 'admin.getUserById after the update');
  assert.equal(reread.data.user.user_metadata.plan, 'pro', 'the update is stored');
});

test('admin.updateUserById({password}) signs the user out on every device; the new password signs in', T, async () => {
  const created = await createConfirmedUser();
  const laptop = await signedIn(created.email, created.password);
  const phone = await signedIn(created.email, created.password);

  const password = strongPassword();
  const updated = await admin().auth.admin.updateUserById(created.id, { password });
  assertNoError(updated.error, 'admin.updateUserById({password})');

  for (const [name, device] of [['laptop', laptop], ['phone', phone]]) {
    // supabase-js reports the server's 403 session_not_found as a code-less AuthSessionMissingError.
    const user = await device.sb.auth.getUser(device.session.access_token);
    assert.equal(user.error?.name, 'AuthSessionMissingError', `getUser on the ${name}: ${user.error}`);
    assert.equal(user.data.user, null);
    const refreshed = await refreshWith(device.session.refresh_token);
    assertAuthError(refreshed.error, { code: 'refresh_token_not_found', status: 400 }, `refreshSession on the ${name}`);
  }
  const old = await client().auth.signInWithPassword({ email: created.email, password: created.password });
  assertAuthError(old.error, { code: 'invalid_credentials', status: 400 }, 'the old password');
  await signedIn(created.email, password);
});

test('admin.deleteUser removes the user', T, async () => {
  const created = await createConfirmedUser();
  const deleted = await admin().auth.admin.deleteUser(created.id);
  assertNoError(deleted.error, 'admin.deleteUser');

  const got = await admin().auth.admin.getUserById(created.id);
  assertAuthError(got.error, { code: 'user_not_found', status: 404 }, 'getUserById after deleteUser');
  const signIn = await client().auth.signInWithPassword({ email: created.email, password: created.password });
  assertAuthError(signIn.error, { code: 'invalid_credentials', status: 400 }, 'signing in as a deleted user');
});

test('admin methods with the anon key are 403 not_admin', T, async () => {
  const anon = client().auth.admin;
  const listed = await anon.listUsers({ page: 1, perPage: 1 });
  assertAuthError(listed.error, { code: 'not_admin', status: 403 }, 'listUsers with the anon key');

  const email = uniqueEmail('not-admin');
  const password = strongPassword();
  const created = await anon.createUser({ email, password, email_confirm: true });
  assertAuthError(created.error, { code: 'not_admin', status: 403 }, 'createUser with the anon key');
  const signIn = await client().auth.signInWithPassword({ email, password });
  assertAuthError(signIn.error, { code: 'invalid_credentials' }, 'signing in as the user the refused call would have made');
});
