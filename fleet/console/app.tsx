/**
 * The page's frame: skip link, header (name, live indicator, who is signed in, Sign out),
 * the main navigation, and the page for the current hash route in <main>.
 */
import { useEffect, useRef } from 'preact/hooks';
import type { Route } from './logic/route.js';
import { hrefs } from './logic/route.js';
import { EventPage } from './pages/event-page.js';
import { EventsPage } from './pages/events-page.js';
import { GatewayPage } from './pages/gateway-page.js';
import { GatewaysPage } from './pages/gateways-page.js';
import { LearningPage } from './pages/learning-page.js';
import { LearningTaskPage } from './pages/learning-task-page.js';
import { OverviewPage } from './pages/overview-page.js';
import { ReleasesPage } from './pages/releases-page.js';
import { RolloutNewPage } from './pages/rollout-new-page.js';
import { RolloutPage } from './pages/rollout-page.js';
import { RolloutsPage } from './pages/rollouts-page.js';
import { SignInPage } from './pages/sign-in-page.js';
import { session, signOut } from './state/session.js';
import { useStore } from './state/store.js';
import { useRoute } from './state/use-route.js';

const NAV: readonly { label: string; href: string; pages: readonly Route['page'][] }[] = [
  { label: 'Overview', href: hrefs.overview, pages: ['overview'] },
  { label: 'Gateways', href: hrefs.gateways, pages: ['gateways', 'gateway'] },
  { label: 'Rollouts', href: hrefs.rollouts, pages: ['rollouts', 'rollout', 'rollout-new'] },
  { label: 'Alerts & events', href: hrefs.events, pages: ['events', 'event'] },
  { label: 'Learning', href: hrefs.learning, pages: ['learning', 'learning-task'] },
  { label: 'Releases', href: hrefs.releases, pages: ['releases'] },
];

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'overview':
      return <OverviewPage />;
    case 'gateways':
      return <GatewaysPage />;
    case 'gateway':
      return <GatewayPage id={route.id} />;
    case 'rollouts':
      return <RolloutsPage />;
    case 'rollout-new':
      return <RolloutNewPage />;
    case 'rollout':
      return <RolloutPage id={route.id} />;
    case 'events':
      return <EventsPage />;
    case 'event':
      return <EventPage gatewayId={route.gatewayId} recordId={route.recordId} />;
    case 'learning':
      return <LearningPage />;
    case 'learning-task':
      return <LearningTaskPage id={route.id} />;
    case 'releases':
      return <ReleasesPage />;
    case 'not-found':
      return (
        <>
          <h1>Page not found</h1>
          <p>
            There is no page at <code>#/{route.path}</code>. <a href={hrefs.overview}>Go to the overview</a>.
          </p>
        </>
      );
  }
}

export function App() {
  const phase = useStore(session, (s) => s.phase);
  const me = useStore(session, (s) => s.me);
  const live = useStore(session, (s) => s.live);
  const route = useRoute();
  const main = useRef<HTMLElement>(null);

  // A new page: its heading is what a screen reader user hears next, and the view starts at the top.
  useEffect(() => {
    window.scrollTo(0, 0);
  }, [route]);

  return (
    <>
      <a class="skip-link" href="#main" onClick={(e) => {
        e.preventDefault();
        main.current?.focus();
      }}>
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={hrefs.overview}>
          edgewise fleet
        </a>
        {phase === 'signed-in' ? (
          <div class="session">
            <span class={`live live-${live}`} data-testid="live-status" role="status">
              {live === 'live' ? 'live' : 'reconnecting'}
            </span>
            <span class="who">
              {me?.name} <span class="muted">({me?.role})</span>
            </span>
            <button type="button" onClick={() => signOut()}>
              Sign out
            </button>
          </div>
        ) : null}
      </header>
      {phase === 'signed-in' ? (
        <nav aria-label="Main" class="main-nav">
          <ul>
            {NAV.map((n) => (
              <li key={n.href}>
                <a href={n.href} aria-current={n.pages.includes(route.page) ? 'page' : undefined}>
                  {n.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      ) : null}
      <main id="main" ref={main} tabIndex={-1}>
        {phase === 'signed-in' ? <Page route={route} /> : phase === 'starting' ? <p class="muted">Starting…</p> : <SignInPage />}
      </main>
    </>
  );
}
