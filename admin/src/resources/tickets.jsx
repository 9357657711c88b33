// Tickets: filters, comments, assignment, the status lifecycle,
// attachments, edit form.
import { useState } from 'react';
import {
  AutocompleteInput, Create, Datagrid, DateField, Edit, EditButton, Form, NumberField,
  ReferenceField, ReferenceInput, ReferenceManyField, SelectArrayInput, SelectInput, SimpleForm,
  TabbedShowLayout, TextArrayInput, TextField, TextInput, TopToolbar, Pagination, required, useGetIdentity,
  usePermissions, useRecordContext, useDataProvider, useNotify, SaveButton, DeleteButton,
} from 'react-admin';
import { Box, Button as MuiButton, TextField as MuiTextField, Typography, Stack } from '@mui/material';
import {
  ActionButton, ChipField, FormToolbar, LiveGrid, LiveList, LiveShow, TagsField, CompanyInput, choices, useAction, useCan,
} from '../common.jsx';
import { isStaff } from '../roles.js';

const SHORT = { dateStyle: 'medium', timeStyle: 'short' };

export const PRIORITIES = choices('low', 'normal', 'high', 'urgent');
export const STATUSES = choices('open', 'in_progress', 'resolved', 'closed');

// The lifecycle (README "Resources"): each status and where it may go.
const NEXT = {
  open: [['in_progress', 'Start'], ['resolved', 'Resolve']],
  in_progress: [['resolved', 'Resolve'], ['open', 'Back to open']],
  resolved: [['closed', 'Close'], ['open', 'Reopen']],
  closed: [['open', 'Reopen']],
};

// Filters by role: staff also by assignee (a client reads no users), the
// superadmin also by company.
function ticketFilters(permissions) {
  const f = [
    <TextInput key="q" source="q" label="Search" alwaysOn />,
    <SelectArrayInput key="status" source="status" choices={STATUSES} alwaysOn />,
    <SelectArrayInput key="priority" source="priority" choices={PRIORITIES} />,
    <TextInput key="tags" source="tags" label="Tag" />,
  ];
  if (isStaff(permissions)) {
    f.push(
      <ReferenceInput key="assignee_id" source="assignee_id" reference="users">
        <AutocompleteInput optionText="username" label="Assignee" />
      </ReferenceInput>,
    );
  }
  if (permissions === 'superadmin') {
    f.push(
      <ReferenceInput key="company_id" source="company_id" reference="companies">
        <AutocompleteInput optionText="name" label="Company" />
      </ReferenceInput>,
    );
  }
  return f;
}

export const TicketList = () => {
  const { permissions } = usePermissions();
  return (
    <LiveList
      filters={ticketFilters(permissions)}
      sort={{ field: 'created_at', order: 'DESC' }}
    >
      <LiveGrid sx={{ '& .column-assignee_id, & .column-last_activity_at': { whiteSpace: 'nowrap' } }}>
        <TextField source="title" />
        <ChipField source="status" />
        <ChipField source="priority" />
        <TagsField source="tags" label="Tags" />
        {isStaff(permissions) && (
          <ReferenceField source="assignee_id" reference="users" emptyText="—" link={false}>
            <TextField source="username" />
          </ReferenceField>
        )}
        {permissions === 'superadmin' && (
          <ReferenceField source="company_id" reference="companies" link={false}>
            <TextField source="name" />
          </ReferenceField>
        )}
        <NumberField source="comment_count" label="Comments" />
        <DateField source="last_activity_at" label="Last activity" showTime options={SHORT} />
      </LiveGrid>
    </LiveList>
  );
};

/**
 * useMayChange tells whether the user may edit, assign and move the
 * ticket on: staff, but a content writer only when it is assigned to them.
 */
function useMayChange(record) {
  const { permissions } = usePermissions();
  const { identity } = useGetIdentity();
  if (!record || !isStaff(permissions)) return false;
  if (permissions !== 'content_writer') return true;
  return !!identity && record.assignee_id === identity.id;
}

/** StatusButtons offers the statuses the ticket may move to. */
export function StatusButtons() {
  const record = useRecordContext();
  if (!useMayChange(record)) return null;
  return (
    <>
      {(NEXT[record.status] ?? []).map(([status, label]) => (
        <ActionButton key={status} label={label} action="status" body={{ status }} resource="tickets" />
      ))}
    </>
  );
}

function AssignMe() {
  const record = useRecordContext();
  const { identity } = useGetIdentity();
  const may = useMayChange(record);
  if (!may || !identity || record.assignee_id === identity.id || record.status === 'closed') return null;
  return <ActionButton label="Assign to me" action="assign" body={{ assignee_id: identity.id }} resource="tickets" />;
}

const ShowActions = () => {
  const record = useRecordContext();
  const mayEditTickets = useCan('tickets', 'edit');
  const mayChange = useMayChange(record);
  // A closed ticket takes no edits until it is reopened.
  const mayEdit = mayEditTickets && mayChange && record?.status !== 'closed';
  return (
    <TopToolbar>
      <StatusButtons />
      <AssignMe />
      {mayEdit && <EditButton />}
    </TopToolbar>
  );
};

/** AssignForm assigns the ticket to a user of its company (or nobody). */
function AssignForm() {
  const record = useRecordContext();
  const may = useMayChange(record);
  const { mutate, isPending } = useAction(
    (dp, assignee_id) => dp.action('tickets', record.id, 'assign', { assignee_id: assignee_id || null }),
    { success: 'Assigned' },
  );
  if (!may || record.status === 'closed') return null;
  return (
    <Form record={{ assignee_id: record.assignee_id }} onSubmit={(v) => mutate(v.assignee_id)}>
      <Stack direction="row" spacing={2} alignItems="center">
        <ReferenceInput
          source="assignee_id"
          reference="users"
          filter={record.company_id ? { company_id: record.company_id, active: true } : { active: true }}
        >
          <AutocompleteInput optionText="username" label="Assignee" sx={{ minWidth: 260 }} helperText={false} />
        </ReferenceInput>
        <SaveButton label="Assign" disabled={isPending} alwaysEnable icon={<span />} />
      </Stack>
    </Form>
  );
}

/** CommentForm adds a comment: POST /api/tickets/{id}/comments {body}. */
function CommentForm() {
  const record = useRecordContext();
  const [body, setBody] = useState('');
  const { mutate, isPending } = useAction((dp, text) => dp.action('tickets', record.id, 'comments', { body: text }), {
    success: 'Comment added',
  });
  if (!record) return null;
  if (record.status === 'closed') {
    return <Typography variant="body2" color="text.secondary" sx={{ mt: 2 }}>Closed: reopen it to comment.</Typography>;
  }
  return (
    <Box sx={{ display: 'flex', gap: 1, alignItems: 'flex-start', mt: 2 }}>
      <MuiTextField
        label="Add a comment" multiline minRows={2} fullWidth value={body}
        onChange={(e) => setBody(e.target.value)}
        slotProps={{ htmlInput: { 'data-testid': 'comment-body' } }}
      />
      <MuiButton
        variant="contained" disabled={isPending || !body.trim()}
        onClick={() => mutate(body, { onSuccess: () => setBody('') })}
      >
        Comment
      </MuiButton>
    </Box>
  );
}

/** AttachmentUpload attaches a file: multipart POST /api/tickets/{id}/attachments. */
function AttachmentUpload() {
  const record = useRecordContext();
  const { mutate, isPending } = useAction(
    (dp, file) => dp.create('ticket_attachments', { data: { ticket_id: record.id, file: { rawFile: file } } }),
    { success: 'File attached' },
  );
  if (!record) return null;
  return (
    <MuiButton component="label" variant="outlined" size="small" disabled={isPending} sx={{ mt: 1 }}>
      Attach a file
      <input hidden type="file" onChange={(e) => e.target.files[0] && mutate(e.target.files[0])} />
    </MuiButton>
  );
}

/** DownloadButton saves the record's file (fetched with the bearer token). */
export function DownloadButton({ path, filenameSource = 'filename' }) {
  const record = useRecordContext();
  const notify = useNotify();
  const dataProvider = useDataProvider();
  if (!record) return null;
  const download = (e) => {
    e.stopPropagation();
    dataProvider.download(path(record), record[filenameSource]).catch((err) => notify(err.message, { type: 'error' }));
  };
  return <MuiButton size="small" onClick={download}>Download</MuiButton>;
}

export const TicketShow = () => {
  const { permissions } = usePermissions();
  return (
    <LiveShow actions={<ShowActions />} also={['comments', 'ticket_attachments']}>
      <TabbedShowLayout.Tab label="Ticket">
        <TextField source="title" variant="h6" label={false} />
        <Stack direction="row" spacing={1}>
          <ChipField source="status" />
          <ChipField source="priority" />
          <TagsField source="tags" />
        </Stack>
        <TextField source="description" sx={{ whiteSpace: 'pre-wrap' }} emptyText="—" />
        <ReferenceField source="requester_id" reference="users" link={isStaff(permissions) ? 'show' : false} emptyText="—">
          <TextField source="username" />
        </ReferenceField>
        <ReferenceField source="assignee_id" reference="users" link={isStaff(permissions) ? 'show' : false} emptyText="nobody">
          <TextField source="username" />
        </ReferenceField>
        {permissions === 'superadmin' && (
          <ReferenceField source="company_id" reference="companies"><TextField source="name" /></ReferenceField>
        )}
        <DateField source="created_at" showTime />
        <DateField source="last_activity_at" showTime />
        <NumberField source="revision" />
        <AssignForm />
        <Typography variant="h6" sx={{ mt: 2 }}>Comments</Typography>
        <ReferenceManyField
          reference="comments" target="ticket_id" label={false}
          sort={{ field: 'seq', order: 'ASC' }} perPage={50} pagination={<Pagination />}
        >
          <Datagrid bulkActionButtons={false} rowClick={false} empty={<Typography variant="body2">No comments yet.</Typography>}>
            <DateField source="created_at" showTime label="When" />
            <ReferenceField source="author_id" reference="users" link={false} label="Who" emptyText="—">
              <TextField source="username" />
            </ReferenceField>
            <TextField source="body" sx={{ whiteSpace: 'pre-wrap' }} />
          </Datagrid>
        </ReferenceManyField>
        <CommentForm />
      </TabbedShowLayout.Tab>
      <TabbedShowLayout.Tab label="Attachments" path="attachments">
        <ReferenceManyField reference="ticket_attachments" target="ticket_id" label={false}>
          <Datagrid bulkActionButtons={false} rowClick={false} empty={<Typography variant="body2">No files.</Typography>}>
            <TextField source="filename" />
            <TextField source="content_type" />
            <NumberField source="size" />
            <DateField source="created_at" showTime />
            <DownloadButton path={(r) => `/api/tickets/${r.ticket_id}/attachments/${r.id}/file`} />
            <DeleteButton mutationMode="pessimistic" redirect={false} />
          </Datagrid>
        </ReferenceManyField>
        <AttachmentUpload />
      </TabbedShowLayout.Tab>
    </LiveShow>
  );
};

function TicketForm({ edit }) {
  const { permissions } = usePermissions();
  return (
    <SimpleForm toolbar={edit ? <FormToolbar /> : undefined}>
      {!edit && <CompanyInput />}
      <TextInput source="title" validate={required()} fullWidth />
      <TextInput source="description" multiline minRows={3} fullWidth />
      <SelectInput source="priority" choices={PRIORITIES} defaultValue="normal" />
      <TextArrayInput source="tags" />
      {edit && isStaff(permissions) && <SelectInput source="status" choices={STATUSES} />}
    </SimpleForm>
  );
}

export const TicketCreate = () => (
  <Create redirect="show">
    <TicketForm />
  </Create>
);

export const TicketEdit = () => (
  <Edit mutationMode="pessimistic" redirect="show">
    <TicketForm edit />
  </Edit>
);
