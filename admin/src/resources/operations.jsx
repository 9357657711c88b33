// Operations (superadmin): projections and reactions, with their parked
// events and messages. GET /api/admin/projections, /api/admin/reactions,
// /api/admin/projections/parked, /api/admin/reactions/parked.
import {
  Datagrid, DateField, List, NumberField, TextField, Title, useRecordContext, TopToolbar,
} from 'react-admin';
import { Box, Button as MuiButton, Card, Tab, Tabs, Typography } from '@mui/material';
import { useState } from 'react';
import { ChipField, useAction } from '../common.jsx';

function ProjectionButtons() {
  const r = useRecordContext();
  const { mutate, isPending } = useAction((dp, action) => dp.post(`/api/admin/projections/${r.id}/${action}`), {
    success: 'Requested',
  });
  if (!r || r.kind === 'reaction') return null;
  return (
    <Box sx={{ display: 'flex', gap: 1 }}>
      <MuiButton size="small" variant="outlined" disabled={isPending || r.state === 'rebuilding'} onClick={() => mutate('rebuild')}>
        Rebuild
      </MuiButton>
      {r.state === 'halted' && (
        <MuiButton size="small" variant="outlined" disabled={isPending} onClick={() => mutate('resume')}>Resume</MuiButton>
      )}
    </Box>
  );
}

function Lag() {
  const r = useRecordContext();
  if (!r) return null;
  const events = r.lag_events ?? r.lag;
  return (
    <span style={{ whiteSpace: 'nowrap' }}>
      {events ?? '—'} ev{r.lag_seconds ? `, ${r.lag_seconds}s` : ''}
    </span>
  );
}

// A projection's last failure (error, error_position) or a reaction's (last_error).
function LastError() {
  const r = useRecordContext();
  const error = r?.error || r?.last_error;
  if (!error) return <span>—</span>;
  return <Typography variant="body2" color="error">{error}{r.error_position ? ` (at ${r.error_position})` : ''}</Typography>;
}

function Rebuild() {
  const r = useRecordContext();
  if (!r?.rebuild) return null;
  const { done, total } = r.rebuild;
  return <Typography variant="caption">rebuild {done ?? '?'} / {total ?? '?'}</Typography>;
}

function ReplayButton() {
  const r = useRecordContext();
  const { mutate, isPending } = useAction((dp) => dp.post(`/api/admin/reactions/parked/${encodeURIComponent(r.id)}/replay`), {
    success: 'Replayed',
  });
  if (!r) return null;
  return <MuiButton size="small" variant="outlined" disabled={isPending} onClick={() => mutate()}>Replay</MuiButton>;
}

const refetchInterval = 5000;
const none = <TopToolbar />;

function Projections() {
  return (
    <List resource="admin/projections" disableSyncWithLocation perPage={100} actions={none} title=" "
      sort={{ field: 'id', order: 'ASC' }} pagination={false} queryOptions={{ refetchInterval }} storeKey={false}>
      <Datagrid bulkActionButtons={false} rowClick={false} data-testid="projections">
        <TextField source="name" />
        <TextField source="kind" />
        <NumberField source="version" />
        <NumberField source="generation" />
        <TextField source="checkpoint" sx={{ fontFamily: 'monospace', fontSize: 12 }} />
        <Lag label="Lag" />
        <ChipField source="state" label="State" />
        <Rebuild label="" />
        <LastError label="Last error" />
        <ProjectionButtons label="" />
      </Datagrid>
    </List>
  );
}

function ParkedEvents() {
  return (
    <List resource="admin/projections/parked" disableSyncWithLocation actions={none} title=" " storeKey={false}>
      <Datagrid bulkActionButtons={false} rowClick={false} empty={<Typography sx={{ p: 2 }}>No parked events.</Typography>}>
        <TextField source="projection" />
        <TextField source="event_type" />
        <TextField source="stream_id" />
        <TextField source="position" />
        <TextField source="error" />
        <DateField source="parked_at" showTime />
      </Datagrid>
    </List>
  );
}

function Reactions() {
  return (
    <List resource="admin/reactions" disableSyncWithLocation actions={none} title=" " pagination={false} perPage={100}
      queryOptions={{ refetchInterval }} storeKey={false} sort={{ field: 'id', order: 'ASC' }}>
      <Datagrid bulkActionButtons={false} rowClick={false}>
        <TextField source="name" />
        <TextField source="checkpoint" />
        <TextField source="caught_up" />
        <NumberField source="lag" emptyText="—" />
        <NumberField source="lag_seconds" />
        <NumberField source="handled" />
        <NumberField source="parked" />
        <LastError label="Last error" />
      </Datagrid>
    </List>
  );
}

function ParkedMessages() {
  return (
    <List resource="admin/reactions/parked" disableSyncWithLocation actions={none} title=" " storeKey={false}>
      <Datagrid bulkActionButtons={false} rowClick={false} empty={<Typography sx={{ p: 2 }}>No parked messages.</Typography>}>
        <TextField source="reaction" />
        <TextField source="event_type" />
        <TextField source="stream_id" />
        <TextField source="error" />
        <NumberField source="replays" />
        <DateField source="parked_at" showTime />
        <ReplayButton />
      </Datagrid>
    </List>
  );
}

export function OperationsPage() {
  const [tab, setTab] = useState(0);
  return (
    <Box sx={{ mt: 1 }}>
      <Title title="Operations" />
      <Card>
        <Tabs value={tab} onChange={(_e, v) => setTab(v)}>
          <Tab label="Projections" />
          <Tab label="Parked events" />
          <Tab label="Reactions" />
          <Tab label="Parked messages" />
        </Tabs>
      </Card>
      {tab === 0 && <Projections />}
      {tab === 1 && <ParkedEvents />}
      {tab === 2 && <Reactions />}
      {tab === 3 && <ParkedMessages />}
    </Box>
  );
}
