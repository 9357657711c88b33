// The app bar: a bell with the count of the user's unread notifications
// (kept live by the event stream), the theme toggle and the loading
// indicator.
import { AppBar, LoadingIndicator, ToggleThemeButton, useGetList } from 'react-admin';
import { useNavigate } from 'react-router-dom';
import { Badge, IconButton, Tooltip } from '@mui/material';
import NotificationsIcon from '@mui/icons-material/Notifications';
import { useLiveList } from './useLiveRefresh.js';
import { AppUserMenu } from './profile.jsx';

function Bell() {
  const navigate = useNavigate();
  useLiveList('notifications');
  const { total } = useGetList('notifications', {
    filter: { read: false },
    pagination: { page: 1, perPage: 1 },
    sort: { field: 'created_at', order: 'DESC' },
  });
  return (
    <Tooltip title="Unread notifications">
      <IconButton color="inherit" onClick={() => navigate('/notifications')} aria-label="Unread notifications">
        <Badge badgeContent={total ?? 0} color="error" max={99} data-testid="unread">
          <NotificationsIcon />
        </Badge>
      </IconButton>
    </Tooltip>
  );
}

export const AppAppBar = () => (
  <AppBar
    userMenu={<AppUserMenu />}
    toolbar={
      <>
        <Bell />
        <ToggleThemeButton />
        <LoadingIndicator />
      </>
    }
  />
);
