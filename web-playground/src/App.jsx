import { GraphiQLInterface, GraphiQLProvider } from 'graphiql';
import { fetcher } from './gateway.js';
import { planPlugin } from './PlanView.jsx';
import { SignIn } from './SignIn.jsx';

const plugins = [planPlugin];

const defaultQuery = `# Mosaic playground: the schema is in the docs explorer.
# Sign in above for mutations and subscriptions.
{
  topProducts(first: 3) {
    name
    price
    reviews { body author { username } }
  }
}
`;

/** GraphiQL under a sign-in bar; both share GraphiQL's editor context. */
export function App() {
  return (
    <GraphiQLProvider fetcher={fetcher} plugins={plugins} defaultQuery={defaultQuery}>
      <div className="mosaic-playground">
        <SignIn />
        <GraphiQLInterface showPersistHeadersSettings />
      </div>
    </GraphiQLProvider>
  );
}
