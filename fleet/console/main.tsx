/** The console's entry: renders the app into #app and restores a session kept in this tab. */
import { render } from 'preact';
import { App } from './app.js';
import { restoreSession } from './state/session.js';
import './styles.css';

const root = document.getElementById('app');
if (root !== null) {
  render(<App />, root);
  void restoreSession();
}
