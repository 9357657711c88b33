/*
 * What each role may do in the UI, after README "Roles". The server is
 * the authority (it answers 403 or 404 whatever the UI shows); this only
 * hides menus and buttons a role cannot use.
 *
 *   can(role, resource, action)  action: 'list' | 'show' | 'create' | 'edit' | 'delete'
 */
const ALL = ['list', 'show', 'create', 'edit', 'delete'];
const READ = ['list', 'show'];

const table = {
  companies: { superadmin: ALL, company_admin: READ },
  users: { superadmin: ALL, company_admin: ALL, content_manager: READ },
  agents: {
    superadmin: ALL, company_admin: ALL, content_manager: ALL, content_writer: READ, client: READ,
  },
  tickets: {
    superadmin: ALL, company_admin: ALL, content_manager: ALL,
    content_writer: ['list', 'show', 'create', 'edit'], client: ['list', 'show', 'create'],
  },
  campaigns: { superadmin: ALL, company_admin: ALL, content_manager: ALL, content_writer: READ },
  campaign_content: {
    superadmin: ALL, company_admin: ALL, content_manager: ALL, content_writer: ['list', 'show', 'create', 'edit'],
  },
  knowledge_chunks: {
    superadmin: ALL, company_admin: ALL, content_manager: ALL, content_writer: ['list', 'show', 'create', 'edit'],
  },
  knowledge_documents: {
    superadmin: ALL, company_admin: ALL, content_manager: ALL, content_writer: ['list', 'show', 'create', 'edit'],
  },
  sync_runs: { superadmin: READ, company_admin: READ, content_manager: READ, content_writer: READ },
  conversations: {
    superadmin: READ, company_admin: READ, content_manager: READ, content_writer: READ, client: READ,
  },
  notifications: {
    superadmin: READ, company_admin: READ, content_manager: READ, content_writer: READ, client: READ,
  },
  usage: { superadmin: READ, company_admin: READ, content_manager: READ },
  audit_log: { superadmin: READ, company_admin: READ },
  operations: { superadmin: READ },
};

export function can(role, resource, action = 'list') {
  const r = table[resource];
  return !!(r && r[role] && r[role].includes(action));
}

/** staff: roles that manage a company's tickets (status, assignment). */
export const isStaff = (role) => ['superadmin', 'company_admin', 'content_manager', 'content_writer'].includes(role);
