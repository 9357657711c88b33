// Notifications: the user's own; mark one read, or all.
import {
  BooleanField, BooleanInput, DateField, Datagrid, List, SelectInput, TextField, TopToolbar, useRecordContext,
  Link,
} from 'react-admin';
import { Button as MuiButton } from '@mui/material';
import { ActionButton, useAction } from '../common.jsx';
import { useLiveList } from '../useLiveRefresh.js';

function MarkAllRead() {
  const { mutate, isPending } = useAction((dp) => dp.markAllRead(), { success: 'All marked read' });
  return <MuiButton size="small" disabled={isPending} onClick={() => mutate()}>Mark all read</MuiButton>;
}

function ReadButton() {
  const record = useRecordContext();
  if (!record || record.read) return null;
  return <ActionButton label="Mark read" action="read" resource="notifications" variant="text" />;
}

function Subject() {
  const record = useRecordContext();
  if (!record?.subject || !record?.subject_id) return null;
  return <Link to={`/${record.subject}/${record.subject_id}/show`}>{record.subject}</Link>;
}

const filters = [
  <BooleanInput key="read" source="read" alwaysOn />,
  <SelectInput key="kind" source="kind" choices={[
    { id: 'ticket_assigned', name: 'ticket assigned' },
    { id: 'ticket_resolved', name: 'ticket resolved' },
    { id: 'ticket_commented', name: 'ticket commented' },
  ]} />,
];

export const NotificationList = () => {
  useLiveList('notifications');
  return (
    <List
      filters={filters}
      filterDefaultValues={{ read: false }}
      actions={<TopToolbar><MarkAllRead /></TopToolbar>}
      sort={{ field: 'created_at', order: 'DESC' }}
    >
      <Datagrid bulkActionButtons={false} rowClick={false}>
        <TextField source="title" />
        <TextField source="kind" />
        <Subject label="About" />
        <BooleanField source="read" />
        <DateField source="created_at" showTime />
        <ReadButton />
      </Datagrid>
    </List>
  );
};
