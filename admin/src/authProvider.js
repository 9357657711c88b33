/*
 * authProvider for the agentdesk API, for React Admin 5.
 *
 * Usage:
 *
 *   import { createAuthProvider } from './authProvider';
 *   const authProvider = createAuthProvider();   // API on this origin
 *   <Admin authProvider={authProvider} dataProvider={dataProvider}>…</Admin>
 *
 * - login({username, password}): POST /auth/token (JSON) → stores
 *   access_token in localStorage ('agentdesk.token'), where
 *   dataProvider.js reads it for every request.
 * - getIdentity / getPermissions: GET /auth/me, cached in localStorage
 *   until the next login or logout. Permissions are the user's role:
 *   'superadmin', 'company_admin', 'content_manager', 'content_writer' or
 *   'client' (see roles.js for what each may do).
 * - checkError: only a 401 logs out (the token expired, the user was
 *   deactivated or their company suspended). A 403 is a refusal of one
 *   action: React Admin shows it as a notification and the user stays.
 * - checkAuth: a token is stored. logout: forgets the token and the user.
 */
import { defaultApiUrl, IDENTITY_KEY, TOKEN_KEY } from './dataProvider.js';

export function createAuthProvider(apiUrl = defaultApiUrl(), { onLogout } = {}) {
  const base = apiUrl.replace(/\/$/, '');
  let identity = null;

  async function me() {
    if (identity) return identity;
    const cached = localStorage.getItem(IDENTITY_KEY);
    if (cached) {
      try {
        identity = JSON.parse(cached);
        return identity;
      } catch {
        localStorage.removeItem(IDENTITY_KEY);
      }
    }
    const token = localStorage.getItem(TOKEN_KEY);
    if (!token) throw new Error('not signed in');
    const res = await fetch(`${base}/auth/me`, {
      headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' },
    });
    if (res.status === 401) {
      forget();
      const err = new Error('Your session has ended: sign in again');
      err.status = 401;
      throw err;
    }
    if (!res.ok) throw new Error(`auth/me: HTTP ${res.status}`);
    identity = await res.json();
    localStorage.setItem(IDENTITY_KEY, JSON.stringify(identity));
    return identity;
  }

  function forget() {
    identity = null;
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(IDENTITY_KEY);
  }

  return {
    async login({ username, password }) {
      const res = await fetch(`${base}/auth/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
        body: JSON.stringify({ username, password }),
      });
      let body = {};
      try {
        body = await res.json();
      } catch {
        /* not JSON */
      }
      if (!res.ok) throw new Error(body.detail || body.message || `Sign-in failed (HTTP ${res.status})`);
      forget();
      localStorage.setItem(TOKEN_KEY, body.access_token);
      await me();
    },
    async logout() {
      forget();
      if (onLogout) onLogout();
    },
    async checkAuth() {
      if (!localStorage.getItem(TOKEN_KEY)) throw new Error('not signed in');
    },
    async checkError(error) {
      if (error && error.status === 401) {
        forget();
        if (onLogout) onLogout();
        throw new Error('Your session has ended: sign in again');
      }
      // 403 and everything else: a notification, not a logout.
    },
    async getIdentity() {
      const u = await me();
      return { ...u, fullName: u.full_name || u.username };
    },
    async getPermissions() {
      if (!localStorage.getItem(TOKEN_KEY)) return undefined;
      const u = await me();
      return u.role;
    },
  };
}
