// Test harness for the admin's browser tests: starts the real agentdesk
// server on 127.0.0.1:0 with a fresh data dir, a Chromium from Debian's
// package, and talks to the API for setup. Not a test file itself.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const adminDir = resolve(here, '..');
export const repoDir = resolve(adminDir, '..');
export const distDir = join(adminDir, 'dist');

/**
 * startServer spawns `agentdesk serve` (AGENTDESK_BIN, else bin/agentdesk
 * of the repo) and resolves once it logs `msg="agentdesk listening"`.
 */
export async function startServer() {
  const dataDir = await mkdtemp(join(tmpdir(), 'agentdesk-e2e-'));
  const password = `Pw-${randomBytes(12).toString('hex')}`;
  const bin = process.env.AGENTDESK_BIN ?? join(repoDir, 'bin/agentdesk');
  const child = spawn(bin, ['serve'], {
    cwd: repoDir,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME ?? dataDir,
      DATA_DIR: dataDir,
      HTTP_ADDR: '127.0.0.1:0',
      ADMIN_PASSWORD: password,
      ADMIN_DIR: distDir,
      BCRYPT_COST: '4',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Should the test process die before stop(), the server dies with it.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  let log = '';
  const addr = await new Promise((resolveAddr, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in 30 s:\n${log}`)), 30_000);
    const onData = (chunk) => {
      log += chunk.toString();
      const line = log.split('\n').find((l) => l.includes('msg="agentdesk listening"'));
      if (line) {
        const m = line.match(/addr=(\S+)/);
        if (m) {
          clearTimeout(timer);
          resolveAddr(m[1]);
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}:\n${log}`));
    });
  });
  // Keep draining its output so it never blocks on a full pipe.
  child.stdout.on('data', () => {});
  child.stderr.on('data', () => {});
  const api = `http://${addr}`;
  const server = {
    api,
    password,
    dataDir,
    logs: () => log,
    async stop() {
      process.off('exit', killOnExit);
      child.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          r();
        }, 5000);
        child.once('exit', () => {
          clearTimeout(t);
          r();
        });
      });
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

/**
 * checkAdmin checks that the server serves the built app at /admin/
 * (ADMIN_DIR), beside the API on the same origin.
 */
export async function checkAdmin(api) {
  const res = await fetch(`${api}/admin/`);
  const body = await res.text();
  if (!res.ok || !body.includes('<div id="root">')) {
    throw new Error(`the server does not serve the admin app at /admin/ (${res.status}): run npm run build in admin/ first\n${body.slice(0, 200)}`);
  }
}

/** launchBrowser starts Debian's Chromium, headless. */
export function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_BIN ?? process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
}

/** Api is a small JSON client for test setup. */
export class Api {
  constructor(base, token) {
    this.base = base;
    this.token = token;
  }

  static async login(base, username, password) {
    const res = await fetch(`${base}/auth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username, password }),
    });
    const body = await res.json();
    if (!res.ok) throw new Error(`login ${username}: ${res.status} ${JSON.stringify(body)}`);
    return new Api(base, body.access_token);
  }

  async call(method, path, body) {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${this.token}`,
        ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    const json = text ? JSON.parse(text) : undefined;
    if (!res.ok) {
      const err = new Error(`${method} ${path}: ${res.status} ${text}`);
      err.status = res.status;
      throw err;
    }
    return json;
  }

  get(path) { return this.call('GET', path); }
  post(path, body) { return this.call('POST', path, body); }
  put(path, body) { return this.call('PUT', path, body); }
}
