// The query-plan plugin: runs the current operation with `x-mosaic-query-plan: true` and
// draws `extensions.queryPlan` (the gateway returns it only when started with plans exposed).
import { useEditorContext } from '@graphiql/react';
import { useState } from 'react';
import { postGraphQL } from './gateway.js';

/** Parses an editor's JSON text; empty means `{}`. */
function parseJson(text, what) {
  try {
    return text?.trim() ? JSON.parse(text) : {};
  } catch {
    throw new Error(`The ${what} are not valid JSON`);
  }
}

/** One plan node as nested boxes: Sequence/Parallel/Flatten/Batch/Condition wrap their children, Fetch shows its operation. */
function PlanNode({ node }) {
  switch (node.kind) {
    case 'Sequence':
    case 'Parallel':
      return (
        <div className={`plan-node plan-${node.kind.toLowerCase()}`}>
          <div className="plan-label">{node.kind}</div>
          {node.nodes.map((child, i) => <PlanNode key={i} node={child} />)}
        </div>
      );
    case 'Flatten':
      return (
        <div className="plan-node plan-flatten">
          <div className="plan-label">Flatten <code>{node.path.join('.')}</code></div>
          <PlanNode node={node.node} />
        </div>
      );
    case 'Batch':
      return (
        <div className="plan-node plan-flatten">
          <div className="plan-label">Batch</div>
          <ul className="plan-inputs">
            {node.inputs.map((input, i) => (
              <li key={i}><code>{input.path.join('.')}</code> as <code>{input.requires?.typeName}</code></li>
            ))}
          </ul>
          <PlanNode node={node.node} />
        </div>
      );
    case 'Condition':
      return (
        <div className="plan-node plan-flatten">
          <div className="plan-label">
            {node.ifClause ? 'Include' : 'Skip'} if <code>${node.condition}</code>
          </div>
          <PlanNode node={node.ifClause ?? node.elseClause} />
        </div>
      );
    case 'Fetch':
      return (
        <div className="plan-node plan-fetch" data-service={node.serviceName}>
          <div className="plan-label">
            Fetch from <span className="plan-service">{node.serviceName}</span>
            {node.requires && <> · entities of <code>{node.requires.typeName}</code></>}
          </div>
          <pre>{node.operation}</pre>
        </div>
      );
    default:
      return <pre>{JSON.stringify(node, null, 2)}</pre>;
  }
}

function PlanResult({ result }) {
  const plan = result.extensions?.queryPlan;
  if (!plan && result.errors) return <pre className="plan-errors">{JSON.stringify(result.errors, null, 2)}</pre>;
  if (!plan) return <p className="plan-absent">The gateway does not expose plans.</p>;
  return (
    <>
      {plan.node ? <PlanNode node={plan.node} /> : <p>Nothing to fetch from subgraphs.</p>}
      <h4>Plan text</h4>
      <pre className="plan-text">{plan.text}</pre>
    </>
  );
}

function PlanPanel() {
  const { queryEditor, variableEditor, headerEditor } = useEditorContext({ nonNull: true });
  const [state, setState] = useState({ status: 'idle' });

  async function showPlan() {
    setState({ status: 'loading' });
    try {
      const body = {
        query: queryEditor?.getValue() ?? '',
        variables: parseJson(variableEditor?.getValue(), 'variables'),
        operationName: queryEditor?.operationName ?? undefined,
      };
      const headers = { ...parseJson(headerEditor?.getValue(), 'headers'), 'x-mosaic-query-plan': 'true' };
      setState({ status: 'done', result: await postGraphQL(body, headers) });
    } catch (error) {
      setState({ status: 'error', message: error.message });
    }
  }

  return (
    <div className="plan-panel">
      <div className="graphiql-doc-explorer-title">Query plan</div>
      <p className="plan-hint">Runs the current operation (mutations too) and shows how the gateway split it.</p>
      <button id="plan-button" data-testid="plan-button" className="graphiql-button" type="button"
        onClick={showPlan} disabled={state.status === 'loading'}>
        {state.status === 'loading' ? 'Planning…' : 'Show plan'}
      </button>
      <div id="plan-view" data-testid="plan-view" data-status={state.status}>
        {state.status === 'error' && <p className="plan-errors">{state.message}</p>}
        {state.status === 'done' && <PlanResult result={state.result} />}
      </div>
    </div>
  );
}

function PlanIcon() {
  return (
    <svg viewBox="0 0 24 24" fill="none" stroke="currentColor" strokeWidth="1.5" aria-hidden="true">
      <rect x="9" y="2.5" width="6" height="5" rx="1" />
      <rect x="2.5" y="16.5" width="6" height="5" rx="1" />
      <rect x="15.5" y="16.5" width="6" height="5" rx="1" />
      <path d="M12 7.5v4.5M5.5 16.5V12h13v4.5" />
    </svg>
  );
}

export const planPlugin = { title: 'Query Plan', icon: PlanIcon, content: PlanPanel };
