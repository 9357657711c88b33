// Building blocks shared by the resources: live lists and shows (with the
// History and As of tabs every record has), action buttons, chips.
import {
  AutocompleteInput, Button, Datagrid, DeleteButton, List, ReferenceInput, SaveButton, Show, TabbedShowLayout, Toolbar,
  required, useDataProvider, useNotify, usePermissions, useRecordContext, useRefresh, useResourceContext,
} from 'react-admin';
import { useMutation } from '@tanstack/react-query';
import { Box, Chip } from '@mui/material';
import { useLiveList, useLiveRecord } from './useLiveRefresh.js';
import { AsOfPanel, HistoryPanel } from './history.jsx';
import { can } from './roles.js';

/**
 * LiveList is React Admin's List, refreshed when its resource changes.
 * (Create and Edit buttons show only where App.jsx registered a create or
 * edit view for the role.)
 */
export function LiveList({ children, ...props }) {
  const resource = useResourceContext(props);
  useLiveList(resource);
  return <List {...props}>{children}</List>;
}

/** useCan(resource, action) tells whether the signed-in role may. */
export function useCan(resource, action) {
  const { permissions } = usePermissions();
  return can(permissions, resource, action);
}

/** LiveGrid is a Datagrid whose bulk delete shows only where the role may delete. */
export function LiveGrid({ children, ...props }) {
  const resource = useResourceContext(props);
  const mayDelete = useCan(resource, 'delete');
  return (
    <Datagrid rowClick="show" bulkActionButtons={mayDelete ? undefined : false} {...props}>
      {children}
    </Datagrid>
  );
}

/** FormToolbar is Save, and Delete only where the role may delete. */
export function FormToolbar(props) {
  const resource = useResourceContext(props);
  const mayDelete = useCan(resource, 'delete');
  return (
    <Toolbar {...props} sx={{ display: 'flex', justifyContent: 'space-between' }}>
      <SaveButton />
      {mayDelete ? <DeleteButton mutationMode="pessimistic" /> : null}
    </Toolbar>
  );
}

function LiveRecord({ also }) {
  const record = useRecordContext();
  const resource = useResourceContext();
  useLiveRecord(resource, record?.id);
  // Children shown on the page (comments of a ticket…) refresh too.
  useLiveList(also);
  return null;
}

/**
 * LiveShow is React Admin's Show with tabs: the given ones, then History
 * and As of; the record (and the child resources named in `also`)
 * refresh when they change.
 */
export function LiveShow({ children, also, actions, title, ...props }) {
  return (
    <Show actions={actions} title={title} {...props}>
      <LiveRecord also={also} />
      <TabbedShowLayout>
        {children}
        <TabbedShowLayout.Tab label="History" path="history">
          <HistoryPanel />
        </TabbedShowLayout.Tab>
        <TabbedShowLayout.Tab label="As of" path="as-of">
          <AsOfPanel />
        </TabbedShowLayout.Tab>
      </TabbedShowLayout>
    </Show>
  );
}

/**
 * useAction returns a mutation calling fn(dataProvider), notifying the
 * outcome and refreshing what is on screen.
 */
export function useAction(fn, { success = 'Done' } = {}) {
  const dataProvider = useDataProvider();
  const notify = useNotify();
  const refresh = useRefresh(); // invalidates every query: what is on screen is read again
  return useMutation({
    mutationFn: (arg) => fn(dataProvider, arg),
    onSuccess: () => {
      notify(success, { type: 'success' });
      refresh();
    },
    onError: (err) => notify(err.message || 'The request failed', { type: 'error' }),
  });
}

/**
 * ActionButton posts /api/{resource}/{id}/{action} with body for the
 * record in context.
 */
export function ActionButton({ label, action, body, resource: resourceProp, icon, variant = 'outlined', ...rest }) {
  const record = useRecordContext();
  const resource = useResourceContext({ resource: resourceProp });
  const { mutate, isPending } = useAction((dp) => dp.action(resource, record.id, action, body), {
    success: `${label}: done`,
  });
  if (!record) return null;
  return (
    <Button
      label={label}
      variant={variant}
      size="small"
      disabled={isPending}
      onClick={(e) => {
        e.stopPropagation();
        mutate();
      }}
      {...rest}
    >
      {icon}
    </Button>
  );
}

/** StatusChip shows an enum value as a coloured chip. */
const colours = {
  open: 'info', in_progress: 'warning', resolved: 'success', closed: 'default',
  active: 'success', inactive: 'default', suspended: 'error',
  draft: 'default', scheduled: 'info', paused: 'warning', completed: 'success', archived: 'default',
  approved: 'info', published: 'success',
  urgent: 'error', high: 'warning', normal: 'info', low: 'default',
  running: 'info', finished: 'success', failed: 'error', halted: 'error', rebuilding: 'warning',
  uploaded: 'info', ingested: 'success', escalated: 'warning',
};
export function ChipField({ source }) {
  const record = useRecordContext();
  const v = record?.[source];
  if (v === undefined || v === null || v === '') return null;
  return <Chip size="small" label={String(v).replace('_', ' ')} color={colours[v] ?? 'default'} />;
}

/** TagsField shows a string array as chips. */
export function TagsField({ source }) {
  const record = useRecordContext();
  const v = record?.[source] ?? [];
  return (
    <Box sx={{ display: 'flex', gap: 0.5, flexWrap: 'wrap' }}>
      {v.map((t) => <Chip key={t} size="small" variant="outlined" label={t} />)}
    </Box>
  );
}

/**
 * CompanyInput lets a superadmin name the company a new record belongs
 * to; everyone else's records go to their own company, so it shows
 * nothing for them.
 */
export function CompanyInput() {
  const { permissions } = usePermissions();
  if (permissions !== 'superadmin') return null;
  return (
    <ReferenceInput source="company_id" reference="companies">
      <AutocompleteInput optionText="name" validate={required()} />
    </ReferenceInput>
  );
}

export const choices = (...values) => values.map((v) => ({ id: v, name: v.replace('_', ' ') }));
