// The sign-in helper: logs in with the demo account and puts the bearer token in the headers editor.
import { useEditorContext } from '@graphiql/react';
import { useState } from 'react';
import { postGraphQL } from './gateway.js';

const LOGIN = `mutation Login($u: String!, $p: String!) {
  login(username: $u, password: $p) { token user { username } }
}`;

/** Sets `Authorization` in the headers editor's JSON, keeping any other headers. */
function withAuthorization(text, value) {
  let headers = {};
  try {
    headers = JSON.parse(text || '{}') ?? {};
  } catch {
    // Not valid JSON: replaced by a fresh object.
  }
  for (const key of Object.keys(headers)) if (key.toLowerCase() === 'authorization') delete headers[key];
  return JSON.stringify({ ...headers, Authorization: value }, null, 2);
}

export function SignIn() {
  const { headerEditor } = useEditorContext({ nonNull: true });
  const [username, setUsername] = useState('ada');
  const [password, setPassword] = useState('mosaic-demo');
  const [status, setStatus] = useState('Not signed in');

  async function signIn(event) {
    event.preventDefault();
    setStatus('Signing in…');
    try {
      const { data, errors } = await postGraphQL({ query: LOGIN, variables: { u: username, p: password } });
      if (!data?.login) throw new Error(errors?.[0]?.message ?? 'login failed');
      headerEditor?.setValue(withAuthorization(headerEditor.getValue(), `Bearer ${data.login.token}`));
      setStatus(`Signed in as ${data.login.user.username}`);
    } catch (error) {
      setStatus(`Sign-in failed: ${error.message}`);
    }
  }

  return (
    <form className="mosaic-signin" onSubmit={signIn}>
      <strong>Mosaic</strong>
      <input id="signin-username" data-testid="signin-username" aria-label="Username" autoComplete="username"
        value={username} onChange={(e) => setUsername(e.target.value)} />
      <input id="signin-password" data-testid="signin-password" aria-label="Password" type="password"
        autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} />
      <button id="signin-button" data-testid="signin-button" type="submit">Sign in</button>
      <span id="signin-status" data-testid="signin-status" role="status">{status}</span>
    </form>
  );
}
