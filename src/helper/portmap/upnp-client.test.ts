/**
 * UpnpClient against a scripted fake gateway on loopback (real UDP for SSDP, real HTTP for the
 * description and SOAP): discovery only from the gateway, mapping with conflict retry, delete,
 * and hostile gateways (huge body, slow body, malformed XML, faults) giving typed errors in
 * bounded time. The fall-back from PCP/NAT-PMP to UPnP goes through UdpPortMapClient. Multicast
 * is off here (tests send nothing beyond loopback); miniupnpd is exercised in e2e.
 */
import dgram from 'node:dgram';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UdpPortMapClient } from './client.js';
import { MAX_DESCRIPTION_BYTES } from './upnp.js';
import { UpnpClient } from './upnp-client.js';

const WANIP1 = 'urn:schemas-upnp-org:service:WANIPConnection:1';

const closers: (() => void)[] = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

interface SoapCall {
  readonly action: string;
  readonly body: string;
}

interface FakeOptions {
  /** SSDP answers from this loopback address (not the gateway's: must be ignored). */
  readonly ssdpFrom?: string;
  readonly location?: (httpPort: number) => string;
  readonly description?: (res: http.ServerResponse) => void;
  readonly soap?: (call: SoapCall, res: http.ServerResponse) => void;
}

const descriptionXml = `<?xml version="1.0"?><root xmlns="urn:schemas-upnp-org:device-1-0">
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
<serviceList><service><serviceType>${WANIP1}</serviceType>
<controlURL>/ctl/IPConn</controlURL></service></serviceList>
</device></deviceList></device></deviceList></device></root>`;

const envelope = (body: string) =>
  '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/">' +
  `<s:Body>${body}</s:Body></s:Envelope>`;
const fault = (code: number) =>
  envelope(
    '<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>' +
      `<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>${code}</errorCode>` +
      '<errorDescription>x</errorDescription></UPnPError></detail></s:Fault>',
  );

function answerSoap(call: SoapCall, res: http.ServerResponse): void {
  res.setHeader('content-type', 'text/xml');
  if (call.action === 'GetExternalIPAddress') {
    res.end(
      envelope(
        `<u:GetExternalIPAddressResponse xmlns:u="${WANIP1}"><NewExternalIPAddress>` +
          '192.0.3.10</NewExternalIPAddress></u:GetExternalIPAddressResponse>',
      ),
    );
  } else {
    res.end(envelope(`<u:${call.action}Response xmlns:u="${WANIP1}"></u:${call.action}Response>`));
  }
}

async function fakeGateway(options: FakeOptions = {}) {
  const calls: SoapCall[] = [];
  const searches: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/rootDesc.xml') {
        if (options.description) options.description(res);
        else res.end(descriptionXml);
        return;
      }
      const soapAction = String(req.headers['soapaction'] ?? '');
      const call = {
        action: soapAction.replace(/^"[^#]*#|"$/g, ''),
        body: Buffer.concat(chunks).toString(),
      };
      calls.push(call);
      (options.soap ?? answerSoap)(call, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => server.closeAllConnections());
  closers.push(() => server.close());
  const httpPort = (server.address() as AddressInfo).port;
  const ssdp = dgram.createSocket('udp4');
  const replier = dgram.createSocket('udp4');
  closers.push(() => ssdp.close());
  closers.push(() => replier.close());
  await new Promise<void>((r) => ssdp.bind(0, '127.0.0.1', r));
  await new Promise<void>((r) => replier.bind(0, options.ssdpFrom ?? '127.0.0.1', r));
  const location = options.location?.(httpPort) ?? `http://127.0.0.1:${httpPort}/rootDesc.xml`;
  ssdp.on('message', (msg, rinfo) => {
    searches.push(msg.toString());
    const answer = `HTTP/1.1 200 OK\r\nST: x\r\nLOCATION: ${location}\r\n\r\n`;
    const from = options.ssdpFrom === undefined ? ssdp : replier;
    from.send(answer, rinfo.port, rinfo.address);
  });
  const client = (extra: { httpTimeoutMs?: number; random?: () => number } = {}) =>
    new UpnpClient({
      ssdpPort: ssdp.address().port,
      multicastGroup: null,
      ssdpTimeoutMs: 400,
      ...extra,
    });
  return { calls, searches, client, ssdpPort: ssdp.address().port };
}

const arg = (body: string, name: string) =>
  new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1];

describe('UpnpClient', () => {
  it('discovers, maps with the internal port first, renews and deletes', async () => {
    const gw = await fakeGateway();
    const client = gw.client();
    expect(await client.probe('127.0.0.1')).toBe(true);
    expect(gw.searches[0]).toMatch(
      /^M-SEARCH \* HTTP\/1\.1\r\n.*ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1/s,
    );
    const r = await client.map('127.0.0.1', 41641, null, 7200);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toMatchObject({
      externalAddress: '192.0.3.10',
      externalPort: 41641,
      lifetimeSec: 7200,
    });
    expect(r.value.service.controlUrl.pathname).toBe('/ctl/IPConn');
    const add = gw.calls.find((c) => c.action === 'AddPortMapping')!;
    expect([
      arg(add.body, 'NewExternalPort'),
      arg(add.body, 'NewProtocol'),
      arg(add.body, 'NewInternalPort'),
      arg(add.body, 'NewInternalClient'),
      arg(add.body, 'NewPortMappingDescription'),
      arg(add.body, 'NewLeaseDuration'),
    ]).toEqual(['41641', 'UDP', '41641', '127.0.0.1', 'trellis', '7200']);
    // A renewal reuses the service and port, without searching again.
    const searches = gw.searches.length;
    expect(await client.map('127.0.0.1', 41641, r.value, 7200)).toMatchObject({ ok: true });
    expect(gw.searches).toHaveLength(searches);
    await client.unmap(r.value);
    const del = gw.calls.at(-1)!;
    expect(del.action).toBe('DeletePortMapping');
    expect([arg(del.body, 'NewExternalPort'), arg(del.body, 'NewProtocol')]).toEqual([
      '41641',
      'UDP',
    ]);
  });

  it('takes a random port when the first conflicts (718)', async () => {
    let adds = 0;
    const gw = await fakeGateway({
      soap: (call, res) => {
        if (call.action === 'AddPortMapping' && adds++ === 0) {
          res.statusCode = 500;
          res.end(fault(718));
        } else answerSoap(call, res);
      },
    });
    const r = await gw.client({ random: () => 0.5 }).map('127.0.0.1', 41641, null, 7200);
    expect(r).toMatchObject({ ok: true, value: { externalPort: 1024 + Math.floor(0.5 * 64512) } });
    const ports = gw.calls
      .filter((c) => c.action === 'AddPortMapping')
      .map((c) => arg(c.body, 'NewExternalPort'));
    expect(ports).toEqual(['41641', String(1024 + Math.floor(0.5 * 64512))]);
  });

  it('believes only the gateway: other answerers and foreign URLs are ignored', async () => {
    const other = await fakeGateway({ ssdpFrom: '127.0.0.2' });
    expect(await other.client().probe('127.0.0.1')).toBe(false);
    expect(other.searches.length).toBeGreaterThan(0);
    const foreign = await fakeGateway({ location: (p) => `http://127.0.0.3:${p}/rootDesc.xml` });
    expect(await foreign.client().map('127.0.0.1', 41641, null, 7200)).toMatchObject({
      ok: false,
      error: { code: 'bad-url' },
    });
  });

  it('gives typed errors for hostile gateways, in bounded time', async () => {
    const cases: [FakeOptions, string][] = [
      [{ description: (res) => res.end('<root><device>') }, 'bad-xml'],
      [
        {
          description: (res) => {
            // No content-length: chunked, past the limit.
            const chunk = 'x'.repeat(16 * 1024);
            for (let i = 0; i <= MAX_DESCRIPTION_BYTES / chunk.length; i++) res.write(chunk);
            res.end();
          },
        },
        'too-large',
      ],
      [
        {
          description: (res) => {
            res.setHeader('content-length', String(10 * 1024 * 1024));
            res.write('<root>');
          },
        },
        'too-large',
      ],
      // Headers, then a body that never ends.
      [{ description: (res) => res.write('<root><device>') }, 'timeout'],
      [{ description: (res) => res.writeHead(404).end() }, 'http'],
      [
        {
          soap: (call, res) => {
            res.statusCode = 500;
            res.end(fault(606));
          },
        },
        'soap-fault',
      ],
      [{ soap: (call, res) => res.end('<s:Envelope><s:Body>') }, 'bad-xml'],
      [
        {
          soap: (call, res) =>
            res.end(
              envelope(
                '<u:GetExternalIPAddressResponse><NewExternalIPAddress>0.0.0.0</NewExternalIPAddress></u:GetExternalIPAddressResponse>',
              ),
            ),
        },
        'bad-soap',
      ],
    ];
    for (const [options, code] of cases) {
      const gw = await fakeGateway(options);
      const started = Date.now();
      const r = await gw.client({ httpTimeoutMs: 500 }).map('127.0.0.1', 41641, null, 7200);
      expect(r, code).toMatchObject({ ok: false, error: { code } });
      // Well inside the SSDP wait plus one HTTP timeout per step (generous for a loaded machine).
      expect(Date.now() - started).toBeLessThan(10_000);
    }
    // No gateway at all.
    const silent = new UpnpClient({ ssdpPort: 9, multicastGroup: null, ssdpTimeoutMs: 300 });
    expect(await silent.map('127.0.0.1', 41641, null, 7200)).toMatchObject({
      ok: false,
      error: { code: 'no-answer' },
    });
  });

  it('is UdpPortMapClient’s last resort when neither PCP nor NAT-PMP answers', async () => {
    const gw = await fakeGateway();
    const silentPcp = dgram.createSocket('udp4');
    closers.push(() => silentPcp.close());
    await new Promise<void>((r) => silentPcp.bind(0, '127.0.0.1', r));
    const client = new UdpPortMapClient({
      serverPort: silentPcp.address().port,
      timeoutMs: 300,
      upnp: gw.client(),
    });
    expect(await client.probe('127.0.0.1')).toEqual({
      support: { upnp: true, natPmp: false, pcp: false },
      epoch: null,
    });
    const r = await client.map('127.0.0.1', 41641, null);
    expect(r).toMatchObject({
      ok: true,
      value: { protocol: 'upnp', externalAddress: '192.0.3.10', externalPort: 41641, epoch: null },
    });
    if (!r.ok) return;
    expect(await client.map('127.0.0.1', 41641, r.value)).toMatchObject({
      ok: true,
      value: { protocol: 'upnp', externalPort: 41641 },
    });
    await client.unmap(r.value);
    expect(gw.calls.at(-1)?.action).toBe('DeletePortMapping');
  });
});
