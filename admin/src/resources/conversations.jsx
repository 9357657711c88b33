// Conversations with agents, and their messages with citations.
import {
  AutocompleteInput, Datagrid, DateField, NumberField, ReferenceField, ReferenceInput, ReferenceManyField,
  SelectInput, TabbedShowLayout, TextField, TextInput, Link, useRecordContext, usePermissions, Pagination,
} from 'react-admin';
import { Typography } from '@mui/material';
import { ChipField, LiveGrid, LiveList, LiveShow, choices } from '../common.jsx';
import { isStaff } from '../roles.js';

const filters = [
  <TextInput key="q" source="q" label="Search" alwaysOn />,
  <ReferenceInput key="agent_id" source="agent_id" reference="agents">
    <AutocompleteInput optionText="name" label="Agent" />
  </ReferenceInput>,
  <SelectInput key="status" source="status" choices={choices('open', 'escalated')} />,
];

export const ConversationList = () => {
  const { permissions } = usePermissions();
  return (
    <LiveList filters={filters} sort={{ field: 'last_message_at', order: 'DESC' }}>
      <LiveGrid>
        <TextField source="title" />
        <ReferenceField source="agent_id" reference="agents" link={false}><TextField source="name" /></ReferenceField>
        {isStaff(permissions) && (
          <ReferenceField source="user_id" reference="users" link={false}><TextField source="username" /></ReferenceField>
        )}
        <ChipField source="status" />
        <NumberField source="message_count" label="Messages" />
        <DateField source="last_message_at" showTime label="Last message" />
      </LiveGrid>
    </LiveList>
  );
};

function Citations() {
  const record = useRecordContext();
  const c = record?.citations ?? [];
  if (!c.length) return null;
  return (
    <span>
      {c.map((id, i) => (
        <span key={id}>{i > 0 && ', '}<Link to={`/knowledge_chunks/${id}/show`} onClick={(e) => e.stopPropagation()}>{id.slice(0, 8)}</Link></span>
      ))}
    </span>
  );
}

export const ConversationShow = () => (
  <LiveShow also={['conversation_messages']}>
    <TabbedShowLayout.Tab label="Conversation">
      <TextField source="title" />
      <ReferenceField source="agent_id" reference="agents"><TextField source="name" /></ReferenceField>
      <ReferenceField source="user_id" reference="users" link={false}><TextField source="username" /></ReferenceField>
      <ChipField source="status" />
      <ReferenceField source="ticket_id" reference="tickets" emptyText="—"><TextField source="title" /></ReferenceField>
      <Typography variant="h6" sx={{ mt: 2 }}>Messages</Typography>
      <ReferenceManyField
        reference="conversation_messages" target="conversation_id" label={false}
        sort={{ field: 'seq', order: 'ASC' }} perPage={50} pagination={<Pagination />}
      >
        <Datagrid bulkActionButtons={false} rowClick={false}>
          <ChipField source="role" />
          <TextField source="content" sx={{ whiteSpace: 'pre-wrap' }} />
          <Citations label="Citations" />
          <TextField source="model" emptyText="" />
          <DateField source="created_at" showTime />
        </Datagrid>
      </ReferenceManyField>
    </TabbedShowLayout.Tab>
  </LiveShow>
);
