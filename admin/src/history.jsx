// History and the past of any record (README "History and the past"):
// a History tab listing GET /api/{resource}/{id}/history, and an "As of"
// tab replaying GET /api/{resource}/{id}?as_of=<RFC 3339>.
import { useState } from 'react';
import { useDataProvider, useRecordContext, useResourceContext, Loading } from 'react-admin';
import { useQuery } from '@tanstack/react-query';
import {
  Alert, Box, Button, Chip, Table, TableBody, TableCell, TableHead, TableRow, TextField, Typography,
} from '@mui/material';

// Fields every event changes: not worth a line in the changes column.
const NOISE = new Set(['revision', 'updated_at', 'last_activity_at', 'position']);

function fmt(v) {
  if (v === null || v === undefined) return '∅';
  if (typeof v === 'string') return v.length > 60 ? `${v.slice(0, 57)}…` : v;
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

function Changes({ changes }) {
  const entries = Object.entries(changes ?? {}).filter(
    ([k, c]) => !NOISE.has(k) && JSON.stringify(c?.before) !== JSON.stringify(c?.after),
  );
  if (!entries.length) return <Typography variant="body2" color="text.secondary">—</Typography>;
  return (
    <Box component="ul" sx={{ m: 0, pl: 2 }}>
      {entries.map(([k, c]) => (
        <li key={k}>
          <Typography variant="body2" component="span">
            <b>{k}</b>: {fmt(c.before)} → {fmt(c.after)}
          </Typography>
        </li>
      ))}
    </Box>
  );
}

/** HistoryPanel lists the record's events, newest first. */
export function HistoryPanel({ resource: resourceProp, id: idProp }) {
  const record = useRecordContext();
  const ctxResource = useResourceContext();
  const resource = resourceProp ?? ctxResource;
  const id = idProp ?? record?.id;
  const dataProvider = useDataProvider();
  const { data, isPending, error } = useQuery({
    queryKey: [resource, 'history', { id: String(id), revision: record?.revision }],
    queryFn: () => dataProvider.history(resource, id, { limit: 100 }),
    enabled: !!id,
  });
  if (isPending) return <Loading />;
  if (error) return <Alert severity="error">{error.message}</Alert>;
  return (
    <Box data-testid="history">
      <Typography variant="body2" color="text.secondary" sx={{ mb: 1 }}>
        {data.total} event{data.total === 1 ? '' : 's'}, newest first
      </Typography>
      <Table size="small">
        <TableHead>
          <TableRow>
            <TableCell>Time</TableCell>
            <TableCell>Event</TableCell>
            <TableCell>Rev.</TableCell>
            <TableCell>Who</TableCell>
            <TableCell>Changes</TableCell>
          </TableRow>
        </TableHead>
        <TableBody>
          {data.data.map((e) => (
            <TableRow key={e.id}>
              <TableCell sx={{ whiteSpace: 'nowrap' }}>{new Date(e.time).toLocaleString()}</TableCell>
              <TableCell><Chip size="small" label={e.type} /></TableCell>
              <TableCell>{e.revision}</TableCell>
              <TableCell>
                {e.actor?.username ?? e.actor?.id ?? '—'}
                {e.actor?.role ? <Typography variant="caption" color="text.secondary"> ({e.actor.role})</Typography> : null}
              </TableCell>
              <TableCell><Changes changes={e.changes} /></TableCell>
            </TableRow>
          ))}
        </TableBody>
      </Table>
    </Box>
  );
}

// A datetime-local value ("2026-11-30T10:30") in the browser's zone → RFC 3339 UTC.
const toRFC3339 = (local) => new Date(local).toISOString();
const nowLocal = () => {
  const d = new Date();
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
  return d.toISOString().slice(0, 19);
};

/** AsOfPanel shows the record as it was at a chosen time. */
export function AsOfPanel({ resource: resourceProp }) {
  const record = useRecordContext();
  const ctxResource = useResourceContext();
  const resource = resourceProp ?? ctxResource;
  const dataProvider = useDataProvider();
  const [when, setWhen] = useState(nowLocal);
  const [touched, setTouched] = useState(false); // untouched: "now", to the millisecond
  const [state, setState] = useState({});
  if (!record) return null;
  const load = async () => {
    setState({ loading: true });
    try {
      const asOf = touched ? toRFC3339(when) : new Date().toISOString();
      const rec = await dataProvider.getOneAsOf(resource, record.id, asOf);
      setState({ record: rec, asOf });
    } catch (err) {
      setState({ error: err.status === 404 ? 'It did not exist then.' : err.message });
    }
  };
  return (
    <Box data-testid="as-of">
      <Box sx={{ display: 'flex', gap: 2, alignItems: 'center', mb: 2 }}>
        <TextField
          label="As of"
          type="datetime-local"
          size="small"
          value={when}
          onChange={(e) => {
            setWhen(e.target.value);
            setTouched(true);
          }}
          slotProps={{ inputLabel: { shrink: true }, htmlInput: { step: 1 } }}
        />
        <Button variant="contained" onClick={load} disabled={!when || state.loading}>Show</Button>
      </Box>
      {state.error && <Alert severity="info">{state.error}</Alert>}
      {state.record && (
        <>
          <Typography variant="body2" color="text.secondary">
            As of {state.asOf}, revision {state.record.revision}
          </Typography>
          <Box component="pre" sx={{ bgcolor: 'action.hover', p: 2, borderRadius: 1, overflow: 'auto', fontSize: 13 }}>
            {JSON.stringify(state.record, null, 2)}
          </Box>
        </>
      )}
    </Box>
  );
}
