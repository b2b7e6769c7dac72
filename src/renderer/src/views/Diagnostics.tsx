/** Diagnostics: a netcheck report of this network, and ping to a peer. */
import { useState } from 'react';
import type { AppState } from '../../../shared/schema/ipc.js';
import type { NetcheckReport, PingResponse } from '../../../shared/schema/localapi.js';
import { portMappingProtocols } from '../../../shared/schema/netcheck.js';
import { Section } from '../components/controls.js';
import { latency } from '../format.js';
import { useUi } from '../store.js';

function natLabel(r: NetcheckReport): string {
  if (!r.udp) return 'UDP blocked: only relays work';
  if (r.mappingVariesByDest === null) return 'unknown (one STUN server answered)';
  return r.mappingVariesByDest
    ? 'hard (varies per destination): direct paths are less likely'
    : 'easy (endpoint-independent)';
}

function portMappingLabel(r: NetcheckReport): string {
  if (r.portMapping === null) return 'not checked';
  const spoken = portMappingProtocols(r.portMapping);
  if (spoken.length === 0) return 'your router offers none (UPnP, NAT-PMP, PCP)';
  return `${spoken.join(', ')}${r.portMapped ? `: mapped ${r.portMapped}` : ': no mapping yet'}`;
}

function Netcheck() {
  const ipc = useUi((s) => s.ipc);
  const run = useUi((s) => s.run);
  const [report, setReport] = useState<NetcheckReport | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <Section
      title="Network check"
      actions={
        <button
          type="button"
          disabled={!ipc || busy}
          onClick={async () => {
            if (!ipc) return;
            setBusy(true);
            const r = await run('Network check', () => ipc.client.diagnostics.netcheck());
            setBusy(false);
            if (r) setReport(r);
          }}
        >
          {busy ? 'Checking…' : 'Run network check'}
        </button>
      }
    >
      {report ? (
        <dl className="facts" aria-label="Network check report">
          <dt>UDP</dt>
          <dd>{report.udp ? 'works' : 'blocked'}</dd>
          <dt>IPv4</dt>
          <dd>{report.ipv4 ? `yes, public ${report.globalV4 ?? 'unknown'}` : 'no'}</dd>
          <dt>IPv6</dt>
          <dd>{report.ipv6 ? `yes, public ${report.globalV6 ?? 'unknown'}` : 'no'}</dd>
          <dt>NAT</dt>
          <dd>{natLabel(report)}</dd>
          <dt>Port mapping</dt>
          <dd>{portMappingLabel(report)}</dd>
          <dt>Nearest relay</dt>
          <dd>
            {report.preferredRegion === null
              ? 'none reachable'
              : `region ${report.preferredRegion}`}
          </dd>
          <dt>Relay latency</dt>
          <dd>
            {Object.entries(report.regionLatencies)
              .map(([region, ms]) => `region ${region}: ${latency(ms)}`)
              .join(', ') || '—'}
          </dd>
          <dt>Measured</dt>
          <dd>{new Date(report.measuredAt).toLocaleString()}</dd>
        </dl>
      ) : (
        <p className="muted">
          Checks UDP, your public addresses, the kind of NAT, and relay latencies.
        </p>
      )}
    </Section>
  );
}

function Ping({ app }: { readonly app: AppState }) {
  const ipc = useUi((s) => s.ipc);
  const run = useUi((s) => s.run);
  const [peer, setPeer] = useState('');
  const [result, setResult] = useState<PingResponse | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <Section title="Ping a peer">
      <form
        className="inline-form"
        onSubmit={async (e) => {
          e.preventDefault();
          if (!ipc || peer.trim() === '') return;
          setBusy(true);
          const r = await run('Ping', () =>
            ipc.client.diagnostics.ping({ peer: peer.trim(), count: 4, timeoutMs: 2000 }),
          );
          setBusy(false);
          setResult(r);
        }}
      >
        <label htmlFor="ping-peer">Peer</label>
        <input
          id="ping-peer"
          list="ping-peers"
          placeholder="name or IP"
          value={peer}
          onChange={(e) => setPeer(e.target.value)}
        />
        <datalist id="ping-peers">
          {app.peers.slice(0, 200).map((p) => (
            <option key={p.id} value={p.name} />
          ))}
        </datalist>
        <button type="submit" disabled={!ipc || busy || peer.trim() === ''}>
          {busy ? 'Pinging…' : 'Ping'}
        </button>
      </form>
      {result && (
        <ol className="plain" aria-label={`Ping results for ${result.peerName}`}>
          {result.results.map((a) => (
            <li key={a.seq}>
              {a.outcome === 'pong'
                ? `pong from ${result.peerName} via ${a.path.type === 'direct' ? `direct ${a.path.endpoint}` : `relay region ${a.path.region}`} in ${latency(a.latencyMs)}`
                : `no answer (attempt ${a.seq + 1})`}
            </li>
          ))}
        </ol>
      )}
    </Section>
  );
}

export function Diagnostics({ app }: { readonly app: AppState }) {
  return (
    <>
      <Netcheck />
      <Ping app={app} />
    </>
  );
}
