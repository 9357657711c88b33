// Campaigns: list/show/edit, the lifecycle, and their content items
// (campaign_content by campaign_id: add, approve, publish).
import { useState } from 'react';
import {
  AutocompleteInput, Create, Datagrid, DateField, DateTimeInput, Edit, EditButton, NumberField, ReferenceField,
  ReferenceInput, ReferenceManyField, SelectInput, SimpleForm, TabbedShowLayout, TextField, TextInput, TopToolbar,
  required, usePermissions, useRecordContext,
} from 'react-admin';
import { Box, Button as MuiButton, TextField as MuiTextField, Typography } from '@mui/material';
import { ActionButton, ChipField, FormToolbar, LiveGrid, LiveList, LiveShow, CompanyInput, choices, useAction, useCan } from '../common.jsx';

const CHANNELS = choices('email', 'social', 'blog', 'web');
const STATUSES = choices('draft', 'scheduled', 'active', 'paused', 'completed', 'archived');

// draft → scheduled → active ⇄ paused → completed → archived;
// also scheduled → draft and draft → archived.
const NEXT = {
  draft: [['scheduled', 'Schedule'], ['archived', 'Archive']],
  scheduled: [['active', 'Activate'], ['draft', 'Back to draft']],
  active: [['paused', 'Pause'], ['completed', 'Complete']],
  paused: [['active', 'Resume'], ['completed', 'Complete']],
  completed: [['archived', 'Archive']],
  archived: [],
};

const filters = [
  <TextInput key="q" source="q" label="Search" alwaysOn />,
  <SelectInput key="status" source="status" choices={STATUSES} />,
  <SelectInput key="channel" source="channel" choices={CHANNELS} />,
];

export const CampaignList = () => (
  <LiveList filters={filters} sort={{ field: 'created_at', order: 'DESC' }}>
    <LiveGrid>
      <TextField source="name" />
      <ChipField source="channel" />
      <ChipField source="status" />
      <ReferenceField source="agent_id" reference="agents" emptyText="—"><TextField source="name" /></ReferenceField>
      <NumberField source="content_count" label="Items" />
      <DateField source="starts_at" showTime />
      <DateField source="ends_at" showTime />
    </LiveGrid>
  </LiveList>
);

function Lifecycle() {
  const record = useRecordContext();
  const may = useCan('campaigns', 'edit');
  if (!record || !may) return null;
  return (
    <>
      {(NEXT[record.status] ?? []).map(([status, label]) => (
        <ActionButton key={status} label={label} action="status" body={{ status }} resource="campaigns" />
      ))}
    </>
  );
}

const ShowActions = () => {
  const mayEdit = useCan('campaigns', 'edit');
  return (
    <TopToolbar>
      <Lifecycle />
      {mayEdit && <EditButton />}
    </TopToolbar>
  );
};

function ContentActions() {
  const item = useRecordContext();
  const { permissions } = usePermissions();
  const { mutate, isPending } = useAction((dp, action) => dp.contentAction(item.campaign_id, item.id, action), {
    success: 'Done',
  });
  if (!item || !['superadmin', 'company_admin', 'content_manager'].includes(permissions)) return null;
  return (
    <Box sx={{ display: 'flex', gap: 1 }}>
      {item.status === 'draft' && (
        <MuiButton size="small" variant="outlined" disabled={isPending} onClick={(e) => { e.stopPropagation(); mutate('approve'); }}>Approve</MuiButton>
      )}
      {item.status === 'approved' && (
        <MuiButton size="small" variant="outlined" disabled={isPending} onClick={(e) => { e.stopPropagation(); mutate('publish'); }}>Publish</MuiButton>
      )}
    </Box>
  );
}

/** AddContent adds an item: POST /api/campaigns/{id}/content {title, body}. */
function AddContent() {
  const record = useRecordContext();
  const [title, setTitle] = useState('');
  const [body, setBody] = useState('');
  const { mutate, isPending } = useAction(
    (dp) => dp.post(`/api/campaigns/${record.id}/content`, { title, body }),
    { success: 'Content added' },
  );
  if (!record) return null;
  return (
    <Box sx={{ display: 'flex', flexDirection: 'column', gap: 1, mt: 2, maxWidth: 700 }}>
      <Typography variant="subtitle2">Add content</Typography>
      <MuiTextField size="small" label="Title" value={title} onChange={(e) => setTitle(e.target.value)} />
      <MuiTextField size="small" label="Body" multiline minRows={3} value={body} onChange={(e) => setBody(e.target.value)} />
      <Box>
        <MuiButton
          variant="contained" disabled={isPending || !title.trim()}
          onClick={() => mutate(undefined, { onSuccess: () => { setTitle(''); setBody(''); } })}
        >
          Add
        </MuiButton>
      </Box>
    </Box>
  );
}

export const CampaignShow = () => (
  <LiveShow actions={<ShowActions />} also={['campaign_content']}>
    <TabbedShowLayout.Tab label="Campaign">
      <TextField source="name" />
      <TextField source="description" emptyText="—" />
      <ChipField source="channel" />
      <ChipField source="status" />
      <ReferenceField source="agent_id" reference="agents" emptyText="—"><TextField source="name" /></ReferenceField>
      <DateField source="starts_at" showTime emptyText="—" />
      <DateField source="ends_at" showTime emptyText="—" />
      <NumberField source="revision" />
    </TabbedShowLayout.Tab>
    <TabbedShowLayout.Tab label="Content" path="content">
      <ReferenceManyField reference="campaign_content" target="campaign_id" label={false}>
        <Datagrid bulkActionButtons={false} rowClick="edit" empty={<Typography variant="body2">No content yet.</Typography>}>
          <TextField source="title" />
          <TextField source="body" />
          <ChipField source="status" />
          <DateField source="updated_at" showTime />
          <ContentActions />
        </Datagrid>
      </ReferenceManyField>
      <AddContent />
    </TabbedShowLayout.Tab>
  </LiveShow>
);

function CampaignForm({ edit }) {
  return (
    <SimpleForm toolbar={edit ? <FormToolbar /> : undefined}>
      {!edit && <CompanyInput />}
      <TextInput source="name" validate={required()} />
      <TextInput source="description" multiline fullWidth />
      <SelectInput source="channel" choices={CHANNELS} defaultValue="email" validate={required()} />
      <ReferenceInput source="agent_id" reference="agents">
        <AutocompleteInput optionText="name" />
      </ReferenceInput>
      <DateTimeInput source="starts_at" parse={(v) => (v ? new Date(v).toISOString() : null)} />
      <DateTimeInput source="ends_at" parse={(v) => (v ? new Date(v).toISOString() : null)} />
    </SimpleForm>
  );
}

export const CampaignCreate = () => (
  <Create redirect="show">
    <CampaignForm />
  </Create>
);

export const CampaignEdit = () => (
  <Edit mutationMode="pessimistic" redirect="show">
    <CampaignForm edit />
  </Edit>
);

// campaign_content: edited under its campaign (the dataProvider routes
// PUT and DELETE to /api/campaigns/{campaign_id}/content/{id}).
export const ContentEdit = () => (
  <Edit mutationMode="pessimistic" redirect={(_r, _id, data) => `campaigns/${data.campaign_id}/show/content`}>
    <SimpleForm toolbar={<FormToolbar />}>
      <TextInput source="title" validate={required()} fullWidth />
      <TextInput source="body" multiline minRows={4} fullWidth />
    </SimpleForm>
  </Edit>
);

export const ContentShow = () => (
  <LiveShow>
    <TabbedShowLayout.Tab label="Content">
      <ReferenceField source="campaign_id" reference="campaigns"><TextField source="name" /></ReferenceField>
      <TextField source="title" />
      <TextField source="body" sx={{ whiteSpace: 'pre-wrap' }} />
      <ChipField source="status" />
      <DateField source="updated_at" showTime />
    </TabbedShowLayout.Tab>
  </LiveShow>
);

