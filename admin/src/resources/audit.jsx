// The audit trail: one line per event of the log (read only). A
// superadmin reads one company at a time (none picked: the platform's own).
import {
  AutocompleteInput, Datagrid, DateField, DateTimeInput, List, ReferenceField, ReferenceInput, SelectInput,
  TextField, TextInput, TopToolbar, FilterButton, useListContext, usePermissions, useRecordContext, Link,
  useNotify, useDataProvider,
} from 'react-admin';
import { Button as MuiButton } from '@mui/material';

const RESOURCES = [
  'companies', 'users', 'agents', 'tickets', 'campaigns', 'knowledge_chunks', 'knowledge_documents', 'conversations',
  'notifications', 'sync_runs', 'usage',
].map((r) => ({ id: r, name: r }));

function useFilters() {
  const { permissions } = usePermissions();
  const f = [
    <SelectInput key="resource" source="resource" choices={RESOURCES} alwaysOn />,
    <TextInput key="type" source="type" label="Event type" />,
    <TextInput key="entity_id" source="entity_id" label="Record id" />,
    <ReferenceInput key="actor_id" source="actor_id" reference="users">
      <AutocompleteInput optionText="username" label="Actor" />
    </ReferenceInput>,
    <TextInput key="correlation_id" source="correlation_id" label="Correlation id" />,
    <DateTimeInput key="recorded_at_gte" source="recorded_at_gte" label="From" />,
    <DateTimeInput key="recorded_at_lte" source="recorded_at_lte" label="To" />,
  ];
  if (permissions === 'superadmin') {
    f.unshift(
      <ReferenceInput key="company_id" source="company_id" reference="companies" alwaysOn>
        <AutocompleteInput optionText="name" label="Company (empty: platform)" />
      </ReferenceInput>,
    );
  }
  return f;
}

function Entity() {
  const r = useRecordContext();
  if (!r?.entity_id) return null;
  const linkable = !['usage', 'sync_runs', 'notifications'].includes(r.resource);
  return linkable
    ? <Link to={`/${r.resource}/${r.entity_id}/show`} onClick={(e) => e.stopPropagation()}>{r.entity_id.slice(0, 8)}</Link>
    : <span>{r.entity_id.slice(0, 8)}</span>;
}

/** ExportNdjson downloads GET /api/audit/export (JSON lines) for the company. */
function ExportNdjson() {
  const { filterValues } = useListContext();
  const notify = useNotify();
  const dataProvider = useDataProvider();
  const { permissions } = usePermissions();
  const run = () => {
    const params = new URLSearchParams();
    if (permissions === 'superadmin') {
      if (!filterValues.company_id) {
        notify('Pick a company to export', { type: 'warning' });
        return;
      }
      params.set('company_id', filterValues.company_id);
    }
    dataProvider.download(`/api/audit/export?${params}`, 'audit.ndjson')
      .catch((err) => notify(err.message, { type: 'error' }));
  };
  return <MuiButton size="small" onClick={run}>Export (NDJSON)</MuiButton>;
}

export const AuditList = () => {
  const { permissions } = usePermissions();
  return (
    <List
      filters={useFilters()}
      sort={{ field: 'recorded_at', order: 'DESC' }}
      actions={<TopToolbar><FilterButton /><ExportNdjson /></TopToolbar>}
      title="Audit log"
    >
      <Datagrid bulkActionButtons={false} rowClick={false}>
        <DateField source="recorded_at" showTime />
        <TextField source="type" />
        <TextField source="resource" />
        <Entity label="Record" />
        <ReferenceField source="actor_id" reference="users" link={false} emptyText="—" label="Actor">
          <TextField source="username" />
        </ReferenceField>
        <TextField source="actor_role" />
        <TextField source="revision" />
        {permissions === 'superadmin' && (
          <ReferenceField source="company_id" reference="companies" emptyText="platform"><TextField source="name" /></ReferenceField>
        )}
      </Datagrid>
    </List>
  );
};
