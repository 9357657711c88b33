// Knowledge: documents (multipart uploads split into chunks) and chunks.
import {
  AutocompleteInput, Create, DateField, Edit, FileField, FileInput, NumberField, ReferenceField, ReferenceInput,
  ReferenceManyField, Datagrid, SelectInput, SimpleForm, TabbedShowLayout, TextArrayInput, TextField, TextInput,
  required, TopToolbar, EditButton,
} from 'react-admin';
import { Typography } from '@mui/material';
import { ChipField, CompanyInput, FormToolbar, LiveGrid, LiveList, LiveShow, TagsField, choices, useCan } from '../common.jsx';
import { DownloadButton } from './tickets.jsx';

const SOURCES = choices('manual', 'upload', 'shopify', 'wordpress', 'url');

const agentFilter = (
  <ReferenceInput key="agent_id" source="agent_id" reference="agents">
    <AutocompleteInput optionText="name" label="Agent" />
  </ReferenceInput>
);

// Documents.

const docFilters = [
  <TextInput key="q" source="q" label="Search" alwaysOn />,
  agentFilter,
  <SelectInput key="status" source="status" choices={choices('uploaded', 'ingested', 'failed')} />,
];

export const DocumentList = () => (
  <LiveList filters={docFilters}>
    <LiveGrid>
      <TextField source="title" />
      <TextField source="filename" />
      <ReferenceField source="agent_id" reference="agents"><TextField source="name" /></ReferenceField>
      <ChipField source="status" />
      <NumberField source="chunk_count" label="Chunks" />
      <NumberField source="size" />
      <DateField source="updated_at" showTime />
    </LiveGrid>
  </LiveList>
);

const DocShowActions = () => {
  const mayEdit = useCan('knowledge_documents', 'edit');
  return <TopToolbar>{mayEdit && <EditButton label="New version" />}</TopToolbar>;
};

export const DocumentShow = () => (
  <LiveShow actions={<DocShowActions />} also={['knowledge_chunks']}>
    <TabbedShowLayout.Tab label="Document">
      <TextField source="title" />
      <TextField source="filename" />
      <TextField source="content_type" />
      <NumberField source="size" />
      <ReferenceField source="agent_id" reference="agents"><TextField source="name" /></ReferenceField>
      <ChipField source="status" />
      <TextField source="error" emptyText="—" />
      <NumberField source="chunk_count" />
      <TextField source="sha256" />
      <DownloadButton path={(r) => `/api/knowledge_documents/${r.id}/file`} />
    </TabbedShowLayout.Tab>
    <TabbedShowLayout.Tab label="Chunks" path="chunks">
      <ReferenceManyField reference="knowledge_chunks" target="document_id" label={false}>
        <Datagrid bulkActionButtons={false} rowClick={(id) => `/knowledge_chunks/${id}/show`}
          empty={<Typography variant="body2">No chunks.</Typography>}>
          <TextField source="title" />
          <NumberField source="token_count" />
          <DateField source="updated_at" showTime />
        </Datagrid>
      </ReferenceManyField>
    </TabbedShowLayout.Tab>
  </LiveShow>
);

export const DocumentCreate = () => (
  <Create redirect="show">
    <SimpleForm>
      <CompanyInput />
      <ReferenceInput source="agent_id" reference="agents">
        <AutocompleteInput optionText="name" validate={required()} />
      </ReferenceInput>
      <TextInput source="title" helperText="Defaults to the file's name" />
      <FileInput source="file" validate={required()} accept={{
        'text/plain': ['.txt'], 'text/markdown': ['.md'], 'text/html': ['.html', '.htm'], 'application/pdf': ['.pdf'],
      }}
      >
        <FileField source="src" title="title" />
      </FileInput>
    </SimpleForm>
  </Create>
);

export const DocumentEdit = () => (
  <Edit mutationMode="pessimistic" redirect="show">
    <SimpleForm toolbar={<FormToolbar />}>
      <TextInput source="title" />
      <FileInput source="file" validate={required()} label="New version of the file">
        <FileField source="src" title="title" />
      </FileInput>
    </SimpleForm>
  </Edit>
);

// Chunks.

const chunkFilters = [
  <TextInput key="q" source="q" label="Search" alwaysOn />,
  agentFilter,
  <SelectInput key="source" source="source" choices={SOURCES} />,
  <TextInput key="tags" source="tags" label="Tag" />,
];

export const ChunkList = () => (
  <LiveList filters={chunkFilters}>
    <LiveGrid>
      <TextField source="title" />
      <ReferenceField source="agent_id" reference="agents"><TextField source="name" /></ReferenceField>
      <ChipField source="source" />
      <TagsField source="tags" label="Tags" />
      <NumberField source="token_count" label="Tokens" />
      <DateField source="updated_at" showTime />
    </LiveGrid>
  </LiveList>
);

const ChunkShowActions = () => {
  const mayEdit = useCan('knowledge_chunks', 'edit');
  return <TopToolbar>{mayEdit && <EditButton />}</TopToolbar>;
};

export const ChunkShow = () => (
  <LiveShow actions={<ChunkShowActions />}>
    <TabbedShowLayout.Tab label="Chunk">
      <TextField source="id" />
      <TextField source="title" />
      <ReferenceField source="agent_id" reference="agents"><TextField source="name" /></ReferenceField>
      <ChipField source="source" />
      <TagsField source="tags" />
      <TextField source="content" sx={{ whiteSpace: 'pre-wrap' }} />
      <NumberField source="token_count" />
      <TextField source="remote_id" emptyText="—" />
      <ReferenceField source="document_id" reference="knowledge_documents" emptyText="—">
        <TextField source="title" />
      </ReferenceField>
      <DateField source="updated_at" showTime />
    </TabbedShowLayout.Tab>
  </LiveShow>
);

function ChunkForm({ edit }) {
  return (
    <SimpleForm toolbar={edit ? <FormToolbar /> : undefined}>
      <ReferenceInput source="agent_id" reference="agents">
        <AutocompleteInput optionText="name" validate={required()} />
      </ReferenceInput>
      <TextInput source="title" validate={required()} fullWidth />
      <TextInput source="content" multiline minRows={6} fullWidth validate={required()} />
      <SelectInput source="source" choices={SOURCES} defaultValue="manual" />
      <TextArrayInput source="tags" />
    </SimpleForm>
  );
}

export const ChunkCreate = () => (
  <Create redirect="show">
    <ChunkForm />
  </Create>
);

export const ChunkEdit = () => (
  <Edit mutationMode="pessimistic" redirect="show">
    <ChunkForm edit />
  </Edit>
);
