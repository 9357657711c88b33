// The signed-in user's own profile and password (README "Roles": everyone
// may change their own profile and password, not their own role). A
// password change ends every earlier token, so the app signs in again
// with the new password right after it.
import {
  Edit, Loading, Logout, PasswordInput, SaveButton, SimpleForm, TextInput, Toolbar, UserMenu, useAuthProvider,
  useGetIdentity, useNotify, useRefresh, useUserMenu,
} from 'react-admin';
import { Link } from 'react-router-dom';
import { ListItemIcon, ListItemText, MenuItem } from '@mui/material';
import PersonIcon from '@mui/icons-material/Person';

const ProfileToolbar = () => (
  <Toolbar>
    <SaveButton />
  </Toolbar>
);

// The new password must be given twice; the old one is needed to change it.
const validate = (values) => {
  const errors = {};
  if (values.password && values.password !== values.password_again) errors.password_again = 'Not the same password';
  if (values.password && !values.old_password) errors.old_password = 'Needed to change your password';
  return errors;
};

export function ProfilePage() {
  const { identity, isPending } = useGetIdentity();
  const authProvider = useAuthProvider();
  const notify = useNotify();
  const refresh = useRefresh();
  if (isPending || !identity) return <Loading />;
  const transform = ({ password, old_password, password_again: _again, ...rest }) =>
    password ? { ...rest, password, old_password } : rest;
  return (
    <Edit
      resource="users"
      id={identity.id}
      title="My profile"
      redirect={false}
      mutationMode="pessimistic"
      transform={transform}
      actions={false}
      mutationOptions={{
        onSuccess: async (_data, variables) => {
          const password = variables?.data?.password;
          if (password) await authProvider.login({ username: identity.username, password });
          notify(password ? 'Password changed' : 'Profile saved', { type: 'success' });
          refresh();
        },
      }}
    >
      <SimpleForm toolbar={<ProfileToolbar />} validate={validate}>
        <TextInput source="username" disabled />
        <TextInput source="role" disabled />
        <TextInput source="full_name" />
        <TextInput source="email" type="email" />
        <PasswordInput source="old_password" label="Current password" autoComplete="current-password" />
        <PasswordInput source="password" label="New password" autoComplete="new-password" />
        <PasswordInput source="password_again" label="New password again" autoComplete="new-password" />
      </SimpleForm>
    </Edit>
  );
}

// The user menu's entry: a link that closes the menu.
function ProfileItem() {
  const userMenu = useUserMenu();
  return (
    <MenuItem component={Link} to="/profile" onClick={() => userMenu?.onClose()}>
      <ListItemIcon><PersonIcon fontSize="small" /></ListItemIcon>
      <ListItemText>My profile</ListItemText>
    </MenuItem>
  );
}

export const AppUserMenu = () => (
  <UserMenu>
    <ProfileItem />
    <Logout />
  </UserMenu>
);
