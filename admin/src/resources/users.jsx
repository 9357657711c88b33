// Users: admins manage their company's; role select, deactivate/reactivate.
import {
  BooleanField, Create, DateField, Edit, EditButton, PasswordInput, ReferenceField, ReferenceInput,
  AutocompleteInput, SelectInput, SimpleForm, TabbedShowLayout, TextField, TextInput, TopToolbar, NumberField,
  BooleanInput, required, usePermissions, useRecordContext,
} from 'react-admin';
import { ActionButton, ChipField, FormToolbar, LiveGrid, LiveList, LiveShow, choices, useCan } from '../common.jsx';

export const ROLES = choices('superadmin', 'company_admin', 'content_manager', 'content_writer', 'client');

const roleChoices = (permissions) =>
  permissions === 'superadmin' ? ROLES : ROLES.filter((r) => r.id !== 'superadmin');

function useFilters() {
  const { permissions } = usePermissions();
  const f = [
    <TextInput key="q" source="q" label="Search" alwaysOn />,
    <SelectInput key="role" source="role" choices={ROLES} />,
    <BooleanInput key="active" source="active" />,
  ];
  if (permissions === 'superadmin') {
    f.push(
      <ReferenceInput key="company_id" source="company_id" reference="companies">
        <AutocompleteInput optionText="name" />
      </ReferenceInput>,
    );
  }
  return f;
}

export const UserList = () => {
  const { permissions } = usePermissions();
  return (
    <LiveList filters={useFilters()} sort={{ field: 'username', order: 'ASC' }}>
      <LiveGrid>
        <TextField source="username" />
        <TextField source="full_name" />
        <TextField source="email" />
        <ChipField source="role" />
        <BooleanField source="active" />
        {permissions === 'superadmin' && (
          <ReferenceField source="company_id" reference="companies" emptyText="platform">
            <TextField source="name" />
          </ReferenceField>
        )}
        <DateField source="created_at" />
      </LiveGrid>
    </LiveList>
  );
};

function Lifecycle() {
  const record = useRecordContext();
  const may = useCan('users', 'edit');
  if (!record || !may) return null;
  return record.active
    ? <ActionButton label="Deactivate" action="deactivate" color="error" />
    : <ActionButton label="Reactivate" action="reactivate" />;
}

const ShowActions = () => {
  const mayEdit = useCan('users', 'edit');
  return (
    <TopToolbar>
      <Lifecycle />
      {mayEdit && <EditButton />}
    </TopToolbar>
  );
};

export const UserShow = () => (
  <LiveShow actions={<ShowActions />}>
    <TabbedShowLayout.Tab label="Summary">
      <TextField source="id" />
      <TextField source="username" />
      <TextField source="full_name" />
      <TextField source="email" />
      <ChipField source="role" />
      <BooleanField source="active" />
      <ReferenceField source="company_id" reference="companies" emptyText="platform">
        <TextField source="name" />
      </ReferenceField>
      <DateField source="created_at" showTime />
      <DateField source="updated_at" showTime />
      <NumberField source="revision" />
    </TabbedShowLayout.Tab>
  </LiveShow>
);

export const UserCreate = () => {
  const { permissions } = usePermissions();
  return (
    <Create redirect="show">
      <SimpleForm>
        {permissions === 'superadmin' && (
          <ReferenceInput source="company_id" reference="companies">
            <AutocompleteInput optionText="name" helperText="Empty for a platform user" />
          </ReferenceInput>
        )}
        <TextInput source="username" validate={required()} />
        <PasswordInput source="password" validate={required()} helperText="8 to 72 bytes, not trivially guessable" />
        <SelectInput source="role" choices={roleChoices(permissions)} validate={required()} defaultValue="client" />
        <TextInput source="full_name" />
        <TextInput source="email" type="email" />
      </SimpleForm>
    </Create>
  );
};

export const UserEdit = () => {
  const { permissions } = usePermissions();
  return (
    <Edit mutationMode="pessimistic" redirect="show">
      <SimpleForm toolbar={<FormToolbar />}>
        <TextInput source="username" disabled />
        <SelectInput source="role" choices={roleChoices(permissions)} validate={required()} />
        <TextInput source="full_name" />
        <TextInput source="email" type="email" />
        <PasswordInput source="password" helperText="Leave empty to keep the password" />
      </SimpleForm>
    </Edit>
  );
};
