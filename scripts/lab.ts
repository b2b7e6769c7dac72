/**
 * `npm run lab`: builds the mesh lab (e2e/lab/mesh.ts: control and two relay regions in an
 * "internet" namespace, one site per NAT kind with one device each, every device running its own
 * trellisd, signed in with a pre-auth key), prints how to enter every namespace and use each
 * device's `trellis` CLI, and keeps it running until Ctrl-C (or SIGTERM), when everything is torn
 * down. Needs root, iproute2, nftables, conntrack and wireguard-go. See docs/lab.md.
 *
 *   npm run lab              build and wait
 *   npm run lab -- --check   also probe every device's NAT with STUN from both regions
 */
import { parseArgs } from 'node:util';
import type { DemoLab } from '../e2e/lab/demo.js';
import { buildMeshLab, type MeshLab } from '../e2e/lab/mesh.js';
import { NAT_KINDS } from '../e2e/lab/nat.js';
import { formatHostPort } from '../e2e/lab/script-output.js';
import { stunProbe } from '../e2e/lab/stun.js';
import type { Device } from '../e2e/lab/topology.js';

const HELP = `usage: npm run lab [-- --check]

Builds a network-namespace lab: an internet with trellis-control and two relay regions, and one
site per NAT kind (none, easy, hard, double, blocked) with one device each running trellisd,
signed in and meshed. Ctrl-C tears it down.

  --check   probe each device's NAT with STUN from both regions and print the mapped addresses
`;

const NAT_LABEL = {
  none: 'no NAT',
  easy: 'easy NAT (endpoint-independent)',
  hard: 'hard NAT (symmetric, random ports)',
  double: 'double NAT (easy behind easy)',
  blocked: 'UDP blocked (TCP only)',
} as const;

const enter = (ns: string): string => `ip netns exec ${ns} bash`;

function describe(demo: DemoLab): string {
  const { lab, control, regions, web } = demo;
  const out: string[] = [];
  out.push(`Trellis lab ${lab.prefix} is up; every namespace is named ${lab.prefix}-*.`, '');
  out.push('Internet', `  router       ${enter(lab.internet.ns)}`);
  out.push(`  control      ${control.url}   ${enter(control.service.ns)}`);
  if (control.owner) {
    out.push(`               sign in as ${control.owner.email} / ${control.owner.password}`);
  }
  for (const r of regions) {
    out.push(`  region ${r.id}     STUN ${formatHostPort(r.stun)}, relay ${r.relayUrl}`);
  }
  out.push(
    `  web          ${web.service.address} (TCP echo on ${web.echo.port})   ${enter(web.service.ns)}`,
  );
  out.push('', 'Sites');
  for (const site of demo.sites) {
    const seenAs =
      site.nat === 'none'
        ? `devices use their own addresses in ${site.router.lanCidr}`
        : `seen from the internet as ${site.publicAddress}`;
    out.push(`  ${site.name} — ${NAT_LABEL[site.nat]}, ${seenAs}`);
    if (site.outer) out.push(`    isp router   ${enter(site.outer.ns)}`);
    out.push(`    router       ${enter(site.router.ns)}`);
    for (const d of site.devices()) {
      out.push(`    ${d.name.padEnd(12)} ${d.lanAddress.padEnd(15)} ${enter(d.ns)}`);
    }
  }
  return out.join('\n');
}

/** How to use each device's helper, and the path each device has to every other right now. */
async function describeMesh(mesh: MeshLab): Promise<string> {
  const out: string[] = ['Devices (each runs trellisd; use its CLI from the host):'];
  for (const d of mesh.devices) {
    out.push(
      `  ${d.name.padEnd(8)} TRELLIS_SOCKET=${d.daemon.socket} node --import tsx src/helper/trellis.ts status`,
    );
  }
  out.push('', 'Disco ping from each device to every other (path taken, latency):');
  for (const from of mesh.devices) {
    const cells = await Promise.all(
      mesh.devices
        .filter((to) => to !== from)
        .map(async (to) => {
          const r = await from.daemon.ping(to.name, 3).catch((e: Error) => e);
          if (r instanceof Error) return `${to.name}: error (${r.message})`;
          const last = r.results.filter((a) => a.outcome === 'pong').at(-1);
          if (!last || last.outcome !== 'pong') return `${to.name}: no answer`;
          const via =
            last.path.type === 'direct'
              ? `direct ${last.path.endpoint}`
              : `relay ${last.path.region}`;
          return `${to.name}: ${via} ${last.latencyMs.toFixed(1)} ms`;
        }),
    );
    out.push(`  ${from.name.padEnd(8)} ${cells.join(', ')}`);
  }
  out.push(
    '',
    'Ping across the tunnel from a device, e.g.:',
    `  ip netns exec ${mesh.devices[0]?.device.ns ?? '<ns>'} ping <a peer's 100.x address>`,
  );
  return out.join('\n');
}

async function check(demo: DemoLab): Promise<string> {
  const servers = demo.regions.map((r) => r.stun);
  const rows = await Promise.all(
    demo.lab.devices().map(async (d: Device) => {
      const probe = await stunProbe(demo.lab, d.ns, servers, { timeoutMs: 1_000 });
      const seen = probe.answers.map((a) => (a.ok ? formatHostPort(a.mapped) : a.error.code));
      const mapped = probe.answers.flatMap((a) => (a.ok ? [formatHostPort(a.mapped)] : []));
      const verdict =
        mapped.length < probe.answers.length
          ? 'UDP blocked'
          : new Set(mapped).size === 1
            ? 'same mapping for every server'
            : 'mapping varies by server';
      return `  ${d.name.padEnd(12)} local port ${String(probe.local.port).padEnd(6)} ${seen.join('  ')}   ${verdict}`;
    }),
  );
  return ['STUN check (mapped address per region):', ...rows].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { check: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  process.stdout.write('Building the lab and starting trellisd on every device…\n');
  const mesh = await buildMeshLab({
    sites: NAT_KINDS.map((nat) => ({ name: nat, nat })),
    upAll: true,
  });
  const demo = mesh.demo;
  process.stdout.write(`\n${describe(demo)}\n`);
  process.stdout.write(`\n${await describeMesh(mesh)}\n`);
  if (values.check) process.stdout.write(`\n${await check(demo)}\n`);
  process.stdout.write('\nPress Ctrl-C to tear the lab down.\n');
  // Teardown is netns.ts's exit hook: synchronous, so it completes even on a second Ctrl-C.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.prependOnceListener(signal, () => {
      process.stdout.write(`\n${signal}: tearing down lab ${demo.lab.prefix}\n`);
      process.exit(0);
    });
  }
  // Keeps the process alive until a signal (the lab's own processes may all exit).
  setInterval(() => undefined, 1 << 30);
}

main().catch((e: unknown) => {
  process.stderr.write(`lab: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
