// The agentdesk admin: resources by role (README "Roles"), operations for
// the superadmin.
import { Admin, CustomRoutes, Layout, Menu, Resource, usePermissions } from 'react-admin';
import { Route } from 'react-router-dom';
import BusinessIcon from '@mui/icons-material/Business';
import PeopleIcon from '@mui/icons-material/People';
import SmartToyIcon from '@mui/icons-material/SmartToy';
import ConfirmationNumberIcon from '@mui/icons-material/ConfirmationNumber';
import CampaignIcon from '@mui/icons-material/Campaign';
import DescriptionIcon from '@mui/icons-material/Description';
import NotesIcon from '@mui/icons-material/Notes';
import ForumIcon from '@mui/icons-material/Forum';
import NotificationsIcon from '@mui/icons-material/Notifications';
import DataUsageIcon from '@mui/icons-material/DataUsage';
import SyncIcon from '@mui/icons-material/Sync';
import HistoryIcon from '@mui/icons-material/History';
import SettingsIcon from '@mui/icons-material/Settings';
import { createDataProvider } from './dataProvider.js';
import { createAuthProvider } from './authProvider.js';
import { can } from './roles.js';
import { AppAppBar } from './appBar.jsx';
import { CompanyCreate, CompanyEdit, CompanyList, CompanyShow } from './resources/companies.jsx';
import { UserCreate, UserEdit, UserList, UserShow } from './resources/users.jsx';
import { AgentCreate, AgentEdit, AgentList, AgentShow } from './resources/agents.jsx';
import { TicketCreate, TicketEdit, TicketList, TicketShow } from './resources/tickets.jsx';
import { CampaignCreate, CampaignEdit, CampaignList, CampaignShow, ContentEdit, ContentShow } from './resources/campaigns.jsx';
import {
  ChunkCreate, ChunkEdit, ChunkList, ChunkShow, DocumentCreate, DocumentEdit, DocumentList, DocumentShow,
} from './resources/knowledge.jsx';
import { ConversationList, ConversationShow } from './resources/conversations.jsx';
import { NotificationList } from './resources/notifications.jsx';
import { UsageList } from './resources/usage.jsx';
import { SyncRunList } from './resources/sync_runs.jsx';
import { AuditList } from './resources/audit.jsx';
import { OperationsPage } from './resources/operations.jsx';
import { ProfilePage } from './profile.jsx';

const dataProvider = createDataProvider();
const authProvider = createAuthProvider(undefined, { onLogout: () => dataProvider.closeRealtime() });

// Each resource's views, registered only where the role may use them, so
// React Admin hides the Create and Edit buttons by itself.
const views = {
  tickets: { list: TicketList, show: TicketShow, create: TicketCreate, edit: TicketEdit, icon: ConfirmationNumberIcon },
  conversations: { list: ConversationList, show: ConversationShow, icon: ForumIcon },
  agents: { list: AgentList, show: AgentShow, create: AgentCreate, edit: AgentEdit, icon: SmartToyIcon },
  knowledge_documents: {
    list: DocumentList, show: DocumentShow, create: DocumentCreate, edit: DocumentEdit, icon: DescriptionIcon,
    label: 'Documents',
  },
  knowledge_chunks: { list: ChunkList, show: ChunkShow, create: ChunkCreate, edit: ChunkEdit, icon: NotesIcon, label: 'Knowledge' },
  sync_runs: { list: SyncRunList, icon: SyncIcon, label: 'Sync runs' },
  campaigns: { list: CampaignList, show: CampaignShow, create: CampaignCreate, edit: CampaignEdit, icon: CampaignIcon },
  notifications: { list: NotificationList, icon: NotificationsIcon },
  users: { list: UserList, show: UserShow, create: UserCreate, edit: UserEdit, icon: PeopleIcon },
  companies: { list: CompanyList, show: CompanyShow, create: CompanyCreate, edit: CompanyEdit, icon: BusinessIcon },
  usage: { list: UsageList, icon: DataUsageIcon, label: 'Usage' },
  audit_log: { list: AuditList, icon: HistoryIcon, label: 'Audit log' },
};

// Child resources: no menu entry, but registered so their references,
// edit pages and history work.
const childViews = {
  comments: {},
  ticket_attachments: {},
  conversation_messages: {},
  campaign_content: { show: ContentShow, edit: ContentEdit },
};

function resourcesFor(role) {
  const out = [];
  for (const [name, v] of Object.entries(views)) {
    if (!can(role, name, 'list')) continue;
    out.push(
      <Resource
        key={name}
        name={name}
        list={v.list}
        show={v.show && can(role, name, 'show') ? v.show : undefined}
        create={v.create && can(role, name, 'create') ? v.create : undefined}
        edit={v.edit && can(role, name, 'edit') ? v.edit : undefined}
        icon={v.icon}
        options={{ label: v.label }}
      />,
    );
  }
  for (const [name, v] of Object.entries(childViews)) {
    const parentOk = name === 'campaign_content' ? can(role, 'campaigns', 'list') : true;
    if (!parentOk) continue;
    out.push(
      <Resource
        key={name}
        name={name}
        show={v.show}
        edit={v.edit && can(role, name, 'edit') ? v.edit : undefined}
      />,
    );
  }
  out.push(
    <CustomRoutes key="custom">
      <Route path="/profile" element={<ProfilePage />} />
      {can(role, 'operations') && <Route path="/operations" element={<OperationsPage />} />}
    </CustomRoutes>,
  );
  return out;
}

function AppMenu() {
  const { permissions } = usePermissions();
  return (
    <Menu>
      <Menu.ResourceItems />
      {can(permissions, 'operations') && (
        <Menu.Item to="/operations" primaryText="Operations" leftIcon={<SettingsIcon />} />
      )}
    </Menu>
  );
}

const AppLayout = ({ children }) => (
  <Layout menu={AppMenu} appBar={AppAppBar}>
    {children}
  </Layout>
);

export function App() {
  return (
    <Admin
      title="agentdesk"
      dataProvider={dataProvider}
      authProvider={authProvider}
      layout={AppLayout}
      requireAuth
      disableTelemetry
    >
      {(role) => resourcesFor(role)}
    </Admin>
  );
}
