// End-to-end tests of the admin in a real browser (Debian's Chromium via
// playwright-core) against the real server, started here on 127.0.0.1:0.
//
//   cd admin && npm run build && cd .. && node --test admin/e2e/
//
// AGENTDESK_BIN names the server binary (default bin/agentdesk of the
// repo); SCREENSHOT=1 saves the tickets list to admin/e2e/screenshot.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminDir, Api, checkAdmin, launchBrowser, startServer } from './harness.mjs';

const STALE = 'This record was changed by someone else: reload it';
const T = 15_000; // the longest any one step may wait

let server;
let browser;
let root; // the superadmin, over the API
let acme; // the company
let adminApi; // acme's company admin, over the API
let adminPage; // acme's company admin, in the browser
let ticketId;

const ADMIN_USER = 'acme-admin';
const ADMIN_PW = 'Acme-admin-pw-2026';

async function signIn(page, username, password) {
  await page.goto(`${server.api}/admin/#/login`);
  await page.locator('input[name="username"]').fill(username, { timeout: T });
  await page.locator('input[name="password"]').fill(password);
  await page.locator('button[type="submit"]').click();
  // Signed in: the user menu shows the username.
  await page.getByRole('button', { name: /profile|account|user/i }).or(page.getByText(username, { exact: true })).first()
    .waitFor({ timeout: T });
}

const go = (page, hash) => page.goto(`${server.api}/admin/#${hash}`);

// A notification (React Admin's snackbar) with this text.
const notification = (page, text) => page.locator('.MuiSnackbar-root').getByText(text);

before(async () => {
  server = await startServer();
  await checkAdmin(server.api);
  browser = await launchBrowser();
  root = await Api.login(server.api, 'admin', server.password);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

test('the superadmin signs in through the form and sees operations', async () => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  await signIn(page, 'admin', server.password);
  await page.getByRole('menuitem', { name: 'Operations' }).waitFor({ timeout: T });

  // The operations page lists the projections with their state.
  await page.getByRole('menuitem', { name: 'Operations' }).click();
  const grid = page.locator('[data-testid="projections"], table').first();
  await grid.getByText('ticket_comments').waitFor({ timeout: T });
  await grid.getByText('running').first().waitFor({ timeout: T });

  // A company, created in the form.
  await go(page, '/companies/create');
  await page.locator('input[name="name"]').fill('Acme', { timeout: T });
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Acme').first().waitFor({ timeout: T });
  const { data } = await root.get(`/api/companies?filter=${encodeURIComponent(JSON.stringify({ q: 'Acme' }))}`);
  assert.equal(data.length, 1, 'one company Acme');
  acme = data[0];

  // Its admin, created in the form.
  await go(page, '/users/create');
  const company = page.getByRole('combobox', { name: 'Company' });
  await company.click({ timeout: T });
  await company.fill('Acme');
  await page.getByRole('option', { name: 'Acme' }).click({ timeout: T });
  await page.locator('input[name="username"]').fill(ADMIN_USER);
  await page.locator('input[name="password"]').fill(ADMIN_PW);
  await page.getByRole('combobox', { name: 'Role' }).click();
  await page.getByRole('option', { name: 'company admin' }).click({ timeout: T });
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('tab', { name: 'History' }).waitFor({ timeout: T });
  adminApi = await Api.login(server.api, ADMIN_USER, ADMIN_PW);
  const me = await adminApi.get('/auth/me');
  assert.equal(me.role, 'company_admin');
  assert.equal(me.company_id, acme.id);
  await ctx.close();
});

test('the company admin opens a ticket, comments, moves it on and reads its history', async () => {
  assert.ok(adminApi, 'the company admin exists');
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  adminPage = await ctx.newPage();
  const page = adminPage;
  await signIn(page, ADMIN_USER, ADMIN_PW);
  // No operations for a company admin.
  await page.getByRole('menuitem', { name: 'Tickets' }).waitFor({ timeout: T });
  assert.equal(await page.getByRole('menuitem', { name: 'Operations' }).count(), 0);

  await go(page, '/tickets/create');
  await page.locator('input[name="title"]').fill('Printer on fire', { timeout: T });
  await page.locator('textarea[name="description"]').fill('Third floor, next to the kitchen.');
  await page.getByRole('combobox', { name: 'Priority' }).click();
  await page.getByRole('option', { name: 'urgent' }).click({ timeout: T });
  const tags = page.getByRole('combobox', { name: 'Tags' });
  await tags.fill('hardware');
  await tags.press('Enter');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByRole('tab', { name: 'History' }).waitFor({ timeout: T });
  ticketId = decodeURIComponent(page.url().match(/tickets\/([^/]+)\/show/)[1]);

  // In the list.
  await go(page, '/tickets');
  await page.getByRole('cell', { name: 'Printer on fire' }).waitFor({ timeout: T });

  // A comment.
  await page.getByRole('cell', { name: 'Printer on fire' }).click();
  await page.locator('[data-testid="comment-body"]').fill('On my way with an extinguisher', { timeout: T });
  await page.getByRole('button', { name: 'Comment', exact: true }).click();
  await page.getByRole('cell', { name: 'On my way with an extinguisher' }).waitFor({ timeout: T });

  // Status by button: open → in progress.
  await page.getByRole('button', { name: 'Start' }).click();
  await page.getByText('in progress', { exact: true }).first().waitFor({ timeout: T });
  const t = await adminApi.get(`/api/tickets/${ticketId}`);
  assert.equal(t.status, 'in_progress');
  assert.equal(t.comment_count, 1);
  assert.deepEqual(t.tags, ['hardware']);
  assert.equal(t.priority, 'urgent');

  // History tab.
  await page.getByRole('tab', { name: 'History' }).click();
  const history = page.locator('[data-testid="history"]');
  await history.getByText('ticket.status_changed').waitFor({ timeout: T });
  await history.getByText('ticket.opened').waitFor({ timeout: T });
  await history.getByText('ticket.commented').waitFor({ timeout: T });

  // As of: now, the record as it is.
  await page.getByRole('tab', { name: 'As of' }).click();
  await page.getByRole('button', { name: 'Show' }).click();
  await page.locator('[data-testid="as-of"] pre').getByText('"in_progress"').waitFor({ timeout: T });
});

test('a stale edit says the record was changed by someone else', async () => {
  assert.ok(ticketId, 'the ticket exists');
  const page = adminPage;
  await go(page, `/tickets/${ticketId}`);
  const title = page.locator('input[name="title"]');
  await title.waitFor({ timeout: T });
  assert.equal(await title.inputValue(), 'Printer on fire');

  // Someone else edits it behind the page.
  const t = await adminApi.get(`/api/tickets/${ticketId}`);
  await adminApi.put(`/api/tickets/${ticketId}`, { ...t, title: 'Printer on fire (3rd floor)' });

  await title.fill('Printer on fire!');
  await page.getByRole('button', { name: 'Save' }).click();
  await notification(page, STALE).waitFor({ timeout: T });
  const now = await adminApi.get(`/api/tickets/${ticketId}`);
  assert.equal(now.title, 'Printer on fire (3rd floor)', 'the other change stands');
});

test('a forbidden action is a notification, not a logout', async () => {
  assert.ok(adminApi && ticketId);
  await adminApi.post('/api/users', { username: 'wanda', password: 'Wanda-writer-pw-1', role: 'content_writer' });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  await signIn(page, 'wanda', 'Wanda-writer-pw-1');
  // A writer may edit only the tickets assigned to them: the page offers
  // no Edit button here, but a link to the form still leads there.
  await go(page, `/tickets/${ticketId}/show`);
  await page.getByRole('button', { name: 'Comment', exact: true }).waitFor({ timeout: T });
  assert.equal(await page.getByRole('link', { name: 'Edit' }).count(), 0, 'no Edit button');
  assert.equal(await page.getByRole('button', { name: 'Resolve' }).count(), 0, 'no status buttons');
  await go(page, `/tickets/${ticketId}`);
  const title = page.locator('input[name="title"]');
  await title.waitFor({ timeout: T });
  await title.fill('Not mine to rename');
  await page.getByRole('button', { name: 'Save' }).click();
  await notification(page, 'forbidden').waitFor({ timeout: T });
  await page.waitForTimeout(500);
  assert.match(page.url(), /\/tickets\//, 'still on the ticket');
  assert.equal(await page.locator('input[name="password"]').count(), 0, 'not sent to the login page');
  // Still signed in: the next page loads as wanda.
  await go(page, '/tickets');
  await page.getByRole('cell', { name: 'Printer on fire (3rd floor)' }).waitFor({ timeout: T });
  assert.ok(await page.evaluate(() => !!localStorage.getItem('agentdesk.token')), 'the token is kept');
  await ctx.close();
});

test('the company admin uploads a knowledge document and chats with an agent', async () => {
  assert.ok(adminApi);
  const page = adminPage;
  const agent = await adminApi.post('/api/agents', { name: 'Returns bot', model: 'gpt-4o-mini' });
  const dir = await mkdtemp(join(tmpdir(), 'agentdesk-doc-'));
  const file = join(dir, 'returns.md');
  await writeFile(file, '# Returns guide\n\nYou have 30 days.\n\n## Refunds\n\nFull refund within 14 days.\n');

  await go(page, '/knowledge_documents/create');
  await page.getByRole('combobox', { name: 'Agent' }).click({ timeout: T });
  await page.getByRole('option', { name: 'Returns bot' }).click({ timeout: T });
  await page.locator('input[name="title"]').fill('Returns guide');
  await page.locator('input[type="file"]').setInputFiles(file);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('ingested', { exact: true }).waitFor({ timeout: T });
  const { data } = await adminApi.get(`/api/knowledge_documents?filter=${encodeURIComponent(JSON.stringify({ agent_id: agent.id }))}`);
  assert.equal(data.length, 1);
  assert.equal(data[0].title, 'Returns guide');
  assert.ok(data[0].chunk_count >= 1, `chunks: ${data[0].chunk_count}`);
  await rm(dir, { recursive: true, force: true });

  // Asking for a person needs no model: the agent opens a ticket.
  await go(page, `/agents/${agent.id}/show/chat`);
  await page.getByLabel('Message').fill('Can I talk to a human?', { timeout: T });
  await page.getByRole('button', { name: 'Send' }).click();
  const chat = page.locator('[data-testid="chat"]');
  await chat.getByText(/I have opened ticket/).waitFor({ timeout: T });
  await chat.getByText('Escalated: ticket').waitFor({ timeout: T });
  await chat.getByRole('link').first().waitFor({ timeout: T }); // the conversation
});

test('a client sees tickets, agents, conversations and notifications only', async () => {
  assert.ok(adminApi);
  await adminApi.post('/api/users', { username: 'carla', password: 'Carla-client-pw-1', role: 'client' });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await ctx.newPage();
  await signIn(page, 'carla', 'Carla-client-pw-1');
  await page.getByRole('menuitem', { name: 'Tickets' }).waitFor({ timeout: T });
  const menu = (await page.getByRole('menuitem').allInnerTexts()).map((t) => t.trim()).sort();
  assert.deepEqual(menu, ['Agents', 'Conversations', 'Notifications', 'Tickets']);
  // Their own requests only: the company admin's tickets are not listed.
  await go(page, '/tickets');
  await page.getByText(/No Tickets yet/i).waitFor({ timeout: T });
  await ctx.close();
});

test('the tickets list shows a ticket created elsewhere without a reload', async () => {
  assert.ok(adminApi);
  const page = adminPage;
  const streams = [];
  page.on('request', (r) => {
    if (r.url().includes('/api/events?')) streams.push(r.url());
  });
  await go(page, '/tickets');
  await page.getByRole('cell', { name: 'Printer on fire (3rd floor)' }).waitFor({ timeout: T });
  // Let the list subscribe to the stream.
  await page.waitForTimeout(1500);
  // A reload would lose this mark.
  await page.evaluate(() => { window.__noReload = true; });
  const reloaded = async () => !(await page.evaluate(() => window.__noReload === true));
  await adminApi.post('/api/tickets', { title: 'VPN drops every hour', priority: 'high', tags: ['network'] });
  await page.getByRole('cell', { name: 'VPN drops every hour' }).waitFor({ timeout: T });
  assert.equal(await reloaded(), false, 'no reload');
  assert.ok(streams.length <= 1, `one event stream for the tab, got ${streams.length}`);

  // An open record follows too: its status changed elsewhere shows.
  await page.getByRole('cell', { name: 'VPN drops every hour' }).click();
  await page.getByRole('button', { name: 'Start' }).waitFor({ timeout: T });
  const vpn = (await adminApi.get(`/api/tickets?filter=${encodeURIComponent(JSON.stringify({ q: 'VPN' }))}`)).data[0];
  await adminApi.post(`/api/tickets/${vpn.id}/status`, { status: 'resolved' });
  await page.getByRole('button', { name: 'Reopen' }).waitFor({ timeout: T });
  await page.getByText('resolved', { exact: true }).first().waitFor({ timeout: T });
  assert.equal(await reloaded(), false, 'no reload');

  // A notification for the admin (someone else assigned them) rings the bell.
  const me = await adminApi.get('/auth/me');
  await root.post(`/api/tickets/${vpn.id}/status`, { status: 'open' });
  await root.post(`/api/tickets/${vpn.id}/assign`, { assignee_id: me.id });
  await page.locator('[data-testid="unread"] .MuiBadge-badge').getByText('1', { exact: true }).waitFor({ timeout: T });
  assert.equal(await reloaded(), false, 'no reload');
  await go(page, '/tickets');

  if (process.env.SCREENSHOT === '1') {
    // A list worth looking at: a few more tickets, at several stages.
    const me = await adminApi.get('/auth/me');
    const more = [
      ['New laptop for Sam', 'normal', ['onboarding'], null],
      ['Invoice export shows the wrong VAT rate', 'high', ['billing'], 'resolved'],
      ['Shopify sync misses the new collection', 'normal', ['integrations', 'shopify'], 'in_progress'],
      ['Password reset email never arrives', 'urgent', ['auth', 'email'], 'in_progress'],
      ['Add French answers to the returns bot', 'low', ['knowledge'], null],
      ['Meeting room screen flickers', 'low', ['hardware'], 'closed'],
    ];
    for (const [title, priority, tags, status] of more) {
      const t = await adminApi.post('/api/tickets', { title, priority, tags });
      if (status) await adminApi.post(`/api/tickets/${t.id}/assign`, { assignee_id: me.id });
      await adminApi.post(`/api/tickets/${t.id}/comments`, { body: 'Looking into it.' });
      if (status === 'resolved' || status === 'closed') {
        await adminApi.post(`/api/tickets/${t.id}/status`, { status: 'resolved' });
        if (status === 'closed') await adminApi.post(`/api/tickets/${t.id}/status`, { status: 'closed' });
      } else if (status) {
        await adminApi.post(`/api/tickets/${t.id}/status`, { status });
      }
    }
    await page.getByRole('cell', { name: 'Meeting room screen flickers' }).waitFor({ timeout: T });
    await page.setViewportSize({ width: 1280, height: 640 });
    await page.mouse.move(640, 635); // no row hovered
    await page.waitForTimeout(1000);
    await page.screenshot({ path: join(adminDir, 'e2e', 'screenshot.png') });
  }
});
