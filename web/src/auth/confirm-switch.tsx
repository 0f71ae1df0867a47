// A link (`#token=...`) that would sign a signed-in user in as someone else: both identities,
// as the service names them (/v1/me), and a choice. Staying is the first and main button:
// a link from a stranger must not quietly make the user type into the stranger's account.
import type { Me, Role } from '@chatbot/api-types';

const ROLE_NAMES: Record<Role, string> = {
  user: 'user',
  tenant_admin: 'tenant admin',
  platform_admin: 'platform administrator',
};

function Identity(props: { title: string; me: Me }) {
  const { title, me } = props;
  return (
    <section className="identity" aria-label={title}>
      <h2>{title}</h2>
      <dl>
        <dt>User</dt>
        <dd>{me.sub}</dd>
        <dt>Role</dt>
        <dd>{ROLE_NAMES[me.role]}</dd>
        <dt>Tenant</dt>
        <dd>{me.tenant === null ? 'none' : `${me.tenant.name} (${me.tenant.slug})`}</dd>
      </dl>
    </section>
  );
}

export function ConfirmSwitch(props: {
  current: Me;
  incoming: Me;
  onStay: () => void;
  onSwitch: () => void;
}) {
  const { current, incoming, onStay, onSwitch } = props;
  return (
    <main className="sign-in">
      <div className="card sign-in-card" role="dialog" aria-modal="true" aria-labelledby="switch-title">
        <h1 id="switch-title">Switch account?</h1>
        <p>
          The link you opened signs in as someone else. Switch only if you expected it: everything you do next
          would be done as that account.
        </p>
        <Identity title="Signed in now" me={current} />
        <Identity title="The link signs in as" me={incoming} />
        <div className="button-row">
          <button type="button" className="primary" onClick={onStay}>
            Stay signed in as {current.sub}
          </button>
          <button type="button" onClick={onSwitch}>
            Switch to {incoming.sub}
          </button>
        </div>
      </div>
    </main>
  );
}
