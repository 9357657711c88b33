// Knowledge sync runs (read only; started from an agent's integrations).
import {
  AutocompleteInput, DateField, NumberField, ReferenceField, ReferenceInput, SelectInput, TextField,
} from 'react-admin';
import { ChipField, LiveGrid, LiveList, choices } from '../common.jsx';

const filters = [
  <ReferenceInput key="agent_id" source="agent_id" reference="agents" alwaysOn>
    <AutocompleteInput optionText="name" label="Agent" />
  </ReferenceInput>,
  <SelectInput key="status" source="status" choices={choices('running', 'finished', 'failed')} />,
  <SelectInput key="type" source="type" choices={choices('shopify', 'wordpress')} />,
];

export const SyncRunList = () => (
  <LiveList filters={filters} sort={{ field: 'started_at', order: 'DESC' }}>
    <LiveGrid rowClick={false}>
      <ReferenceField source="agent_id" reference="agents"><TextField source="name" /></ReferenceField>
      <ChipField source="type" />
      <ChipField source="status" />
      <NumberField source="added" />
      <NumberField source="updated" />
      <NumberField source="removed" />
      <TextField source="error" emptyText="" />
      <DateField source="started_at" showTime />
      <DateField source="finished_at" showTime emptyText="—" />
    </LiveGrid>
  </LiveList>
);
