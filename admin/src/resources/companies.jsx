// Companies: the superadmin lists, creates, edits, suspends and
// reactivates them; a company admin sees their own.
import {
  Create, DateField, Edit, NumberField, NumberInput, SimpleForm, TabbedShowLayout, TextField, TextInput,
  TopToolbar, EditButton, SelectInput, required, useRecordContext,
} from 'react-admin';
import { ActionButton, ChipField, FormToolbar, LiveGrid, LiveList, LiveShow, choices, useCan } from '../common.jsx';

const filters = [
  <TextInput key="q" source="q" label="Search" alwaysOn />,
  <SelectInput key="status" source="status" choices={choices('active', 'suspended')} />,
];

export const CompanyList = () => (
  <LiveList filters={filters} sort={{ field: 'name', order: 'ASC' }}>
    <LiveGrid>
      <TextField source="name" />
      <ChipField source="status" />
      <NumberField source="monthly_token_quota" label="Token quota" emptyText="default" />
      <DateField source="created_at" showTime />
    </LiveGrid>
  </LiveList>
);

function Lifecycle() {
  const record = useRecordContext();
  const may = useCan('companies', 'edit');
  if (!record || !may) return null;
  return record.status === 'suspended'
    ? <ActionButton label="Reactivate" action="reactivate" />
    : <ActionButton label="Suspend" action="suspend" color="error" />;
}

const ShowActions = () => {
  const mayEdit = useCan('companies', 'edit');
  return (
    <TopToolbar>
      <Lifecycle />
      {mayEdit && <EditButton />}
    </TopToolbar>
  );
};

export const CompanyShow = () => (
  <LiveShow actions={<ShowActions />}>
    <TabbedShowLayout.Tab label="Summary">
      <TextField source="id" />
      <TextField source="name" />
      <ChipField source="status" />
      <NumberField source="monthly_token_quota" label="Monthly token quota" emptyText="default (LLM_MONTHLY_TOKEN_QUOTA)" />
      <DateField source="created_at" showTime />
      <DateField source="updated_at" showTime />
      <NumberField source="revision" />
    </TabbedShowLayout.Tab>
  </LiveShow>
);

export const CompanyCreate = () => (
  <Create redirect="show">
    <SimpleForm>
      <TextInput source="name" validate={required()} />
    </SimpleForm>
  </Create>
);

export const CompanyEdit = () => (
  <Edit mutationMode="pessimistic" redirect="show">
    <SimpleForm toolbar={<FormToolbar />}>
      <TextInput source="name" validate={required()} />
      <NumberInput source="monthly_token_quota" helperText="Tokens a UTC month; 0 for none; empty for the default" />
    </SimpleForm>
  </Edit>
);
