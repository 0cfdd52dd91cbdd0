import { useState } from 'preact/hooks';
import { session, signIn } from '../state/session.js';
import { useStore } from '../state/store.js';

export function SignInPage() {
  const error = useStore(session, (s) => s.signInError);
  const busy = useStore(session, (s) => s.phase === 'signing-in');
  const [token, setToken] = useState('');
  return (
    <section class="sign-in">
      <h1>Sign in</h1>
      <p>Sign in with an operator token. The fleet prints where its first one is when it starts; more come from <code>edgewise fleet token create</code>.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void signIn(token);
        }}
      >
        <label for="token">Operator token</label>
        <input id="token" type="password" autoComplete="off" spellcheck={false} value={token} onInput={(e) => setToken((e.currentTarget as HTMLInputElement).value)} />
        <button type="submit" class="primary" disabled={busy}>
          Sign in
        </button>
      </form>
      {error === null ? null : (
        <p role="alert" class="notice error">
          {error}
        </p>
      )}
    </section>
  );
}
