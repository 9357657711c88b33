// Usage: tokens spent per company, day and agent (read only).
import { DateField, NumberField, ReferenceField, TextField, TextInput, usePermissions } from 'react-admin';
import { LiveGrid, LiveList } from '../common.jsx';

const filters = [
  <TextInput key="month" source="month" label="Month (YYYY-MM)" alwaysOn />,
  <TextInput key="day_gte" source="day_gte" label="From day" />,
  <TextInput key="day_lte" source="day_lte" label="To day" />,
];

export const UsageList = () => {
  const { permissions } = usePermissions();
  return (
    <LiveList filters={filters} sort={{ field: 'day', order: 'DESC' }}>
      <LiveGrid rowClick={false} bulkActionButtons={false}>
        <TextField source="day" />
        {permissions === 'superadmin' && (
          <ReferenceField source="company_id" reference="companies" emptyText="platform"><TextField source="name" /></ReferenceField>
        )}
        <ReferenceField source="agent_id" reference="agents" emptyText="completions"><TextField source="name" /></ReferenceField>
        <NumberField source="prompt_tokens" />
        <NumberField source="completion_tokens" />
        <NumberField source="total_tokens" />
        <NumberField source="requests" />
        <DateField source="updated_at" showTime />
      </LiveGrid>
    </LiveList>
  );
};
