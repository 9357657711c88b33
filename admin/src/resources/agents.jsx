// Agents: integrations (credentials write-only), activate/deactivate,
// a Sync button per integration, and a Chat panel.
import { createContext, useContext, useState } from 'react';
import {
  ArrayField, ArrayInput, AutocompleteInput, BooleanField, Create, Datagrid, DateField, Edit, EditButton,
  FormDataConsumer, NumberField, NumberInput, PasswordInput, ReferenceField, ReferenceInput, SelectInput,
  SimpleForm, SimpleFormIterator, TabbedShowLayout, TextField, TextInput, TopToolbar, required, usePermissions,
  useRecordContext, Link,
} from 'react-admin';
import { Alert, Box, Button as MuiButton, Paper, TextField as MuiTextField, Typography } from '@mui/material';
import { ActionButton, ChipField, FormToolbar, LiveGrid, LiveList, LiveShow, CompanyInput, choices, useAction, useCan } from '../common.jsx';

const filters = [
  <TextInput key="q" source="q" label="Search" alwaysOn />,
  <SelectInput key="status" source="status" choices={choices('active', 'inactive')} />,
  <TextInput key="model" source="model" />,
];

export const AgentList = () => (
  <LiveList filters={filters} sort={{ field: 'name', order: 'ASC' }}>
    <LiveGrid>
      <TextField source="name" />
      <TextField source="model" />
      <ChipField source="status" />
      <NumberField source="temperature" />
      <NumberField source="max_tokens" />
      <DateField source="updated_at" showTime />
    </LiveGrid>
  </LiveList>
);

function SyncButton() {
  const integration = useRecordContext();
  const agent = useAgent();
  const may = useCan('agents', 'edit');
  const { mutate, isPending } = useAction((dp) => dp.sync(agent.id, integration.type), {
    success: `Sync of ${integration?.type} started`,
  });
  if (!may || !agent || !integration) return null;
  return (
    <MuiButton size="small" variant="outlined" disabled={isPending} onClick={() => mutate()}>
      Sync
    </MuiButton>
  );
}

// The agent, seen from inside its integrations' ArrayField (whose record
// context is the integration).
const AgentContext = createContext(null);
const useAgent = () => useContext(AgentContext);
function ProvideAgent({ children }) {
  const record = useRecordContext();
  return <AgentContext.Provider value={record}>{children}</AgentContext.Provider>;
}

function Lifecycle() {
  const record = useRecordContext();
  const may = useCan('agents', 'edit');
  if (!record || !may) return null;
  return record.status === 'active'
    ? <ActionButton label="Deactivate" action="deactivate" color="error" />
    : <ActionButton label="Activate" action="activate" />;
}

const ShowActions = () => {
  const mayEdit = useCan('agents', 'edit');
  return (
    <TopToolbar>
      <Lifecycle />
      {mayEdit && <EditButton />}
    </TopToolbar>
  );
};

/** ChatPanel talks to the agent: POST /api/agents/{id}/chat. */
export function ChatPanel() {
  const agent = useRecordContext();
  const [message, setMessage] = useState('');
  const [conversation, setConversation] = useState(null);
  const [log, setLog] = useState([]);
  const { mutate, isPending, error } = useAction(
    (dp, msg) => dp.chat(agent.id, { message: msg, conversation_id: conversation }).then((r) => {
      setConversation(r.conversation_id);
      setLog((l) => [...l, { role: 'user', content: msg }, { role: 'assistant', ...r }]);
      return r;
    }),
    { success: 'Answered' },
  );
  if (!agent) return null;
  const send = () => {
    if (!message.trim()) return;
    mutate(message);
    setMessage('');
  };
  return (
    <Box data-testid="chat" sx={{ maxWidth: 800 }}>
      {conversation && (
        <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }}>
          Conversation <Link to={`/conversations/${conversation}/show`}>{conversation}</Link>
          {' '}<MuiButton size="small" onClick={() => { setConversation(null); setLog([]); }}>New conversation</MuiButton>
        </Typography>
      )}
      {log.map((m, i) => (
        <Paper key={i} variant="outlined" sx={{ p: 1.5, mb: 1, bgcolor: m.role === 'user' ? 'action.hover' : undefined }}>
          <Typography variant="caption" color="text.secondary">{m.role === 'user' ? 'You' : `Agent${m.model ? ` (${m.model})` : ''}`}</Typography>
          <Typography variant="body1" sx={{ whiteSpace: 'pre-wrap' }}>{m.content ?? m.reply}</Typography>
          {m.citations?.length > 0 && (
            <Typography variant="body2" sx={{ mt: 1 }}>
              Sources:{' '}
              {m.citations.map((c, j) => (
                <span key={c}>{j > 0 && ', '}<Link to={`/knowledge_chunks/${c}/show`}>{c.slice(0, 8)}</Link></span>
              ))}
            </Typography>
          )}
          {m.ticket_id && (
            <Typography variant="body2" sx={{ mt: 1 }}>
              Escalated: ticket <Link to={`/tickets/${m.ticket_id}/show`}>{m.ticket_id}</Link>
            </Typography>
          )}
        </Paper>
      ))}
      {error && <Alert severity="error" sx={{ mb: 1 }}>{error.message}</Alert>}
      <Box sx={{ display: 'flex', gap: 1 }}>
        <MuiTextField
          fullWidth size="small" label="Message" value={message}
          onChange={(e) => setMessage(e.target.value)}
          onKeyDown={(e) => { if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); send(); } }}
        />
        <MuiButton variant="contained" onClick={send} disabled={isPending || !message.trim()}>Send</MuiButton>
      </Box>
    </Box>
  );
}

export const AgentShow = () => {
  const { permissions } = usePermissions();
  return (
    <LiveShow actions={<ShowActions />}>
      <TabbedShowLayout.Tab label="Summary">
        <TextField source="id" />
        <TextField source="name" />
        <TextField source="description" />
        <TextField source="model" />
        <ChipField source="status" />
        <NumberField source="temperature" />
        <NumberField source="max_tokens" />
        <TextField source="system_prompt" sx={{ whiteSpace: 'pre-wrap' }} />
        {permissions === 'superadmin' && (
          <ReferenceField source="company_id" reference="companies"><TextField source="name" /></ReferenceField>
        )}
        <DateField source="updated_at" showTime />
      </TabbedShowLayout.Tab>
      <TabbedShowLayout.Tab label="Integrations" path="integrations">
        <ProvideAgent>
          <ArrayField source="integrations">
            <Datagrid bulkActionButtons={false} rowClick={false}>
              <ChipField source="type" />
              <TextField source="shop_domain" />
              <TextField source="api_version" />
              <TextField source="site_url" />
              <BooleanField source="credential_set" label="Credential" />
              <SyncButton />
            </Datagrid>
          </ArrayField>
        </ProvideAgent>
      </TabbedShowLayout.Tab>
      <TabbedShowLayout.Tab label="Chat" path="chat">
        <ChatPanel />
      </TabbedShowLayout.Tab>
    </LiveShow>
  );
};

function AgentForm({ edit }) {
  return (
    <SimpleForm toolbar={edit ? <FormToolbar /> : undefined}>
      {!edit && <CompanyInput />}
      <TextInput source="name" validate={required()} />
      <TextInput source="description" multiline fullWidth />
      <TextInput source="model" defaultValue="gpt-4o-mini" validate={required()} />
      <TextInput source="system_prompt" multiline fullWidth minRows={3} />
      <NumberInput source="temperature" min={0} max={2} step={0.1} defaultValue={0.7} />
      <NumberInput source="max_tokens" min={1} max={200000} defaultValue={1024} />
      {edit && <SelectInput source="status" choices={choices('active', 'inactive')} />}
      <ArrayInput source="integrations">
        <SimpleFormIterator inline>
          <SelectInput source="type" choices={choices('shopify', 'wordpress')} validate={required()} />
          <FormDataConsumer>
            {({ scopedFormData }) =>
              scopedFormData?.type === 'wordpress' ? (
                <TextInput source="site_url" label="Site URL" />
              ) : (
                <>
                  <TextInput source="shop_domain" label="Shop domain" />
                  <TextInput source="api_version" label="API version" />
                </>
              )
            }
          </FormDataConsumer>
          <PasswordInput
            source="credential"
            label="Credential"
            autoComplete="new-password"
            helperText={edit ? 'Empty keeps the stored one' : 'Write-only'}
          />
        </SimpleFormIterator>
      </ArrayInput>
    </SimpleForm>
  );
}

export const AgentCreate = () => (
  <Create redirect="show">
    <AgentForm />
  </Create>
);

export const AgentEdit = () => (
  <Edit mutationMode="pessimistic" redirect="show">
    <AgentForm edit />
  </Edit>
);
