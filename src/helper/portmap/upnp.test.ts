/** UPnP IGD codecs: SSDP answers, root descriptions (real-world shapes), SOAP envelopes and faults. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  encodeMSearch,
  encodeSoapRequest,
  externalAddressOf,
  MAX_SSDP_RESPONSE_BYTES,
  parseRootDescription,
  parseSoapResponse,
  parseSsdpResponse,
} from './upnp.js';

const ssdp = (lines: string[]) => Buffer.from([...lines, '', ''].join('\r\n'));

/** The shape miniupnpd (and most home routers) serve: IGD → WANDevice → WANConnectionDevice. */
function igd(service: string, controlURL: string, urlBase = ''): string {
  return `<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0" configId="1337">
  <specVersion><major>1</major><minor>1</minor></specVersion>
  ${urlBase}
  <device>
    <deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
    <friendlyName>Router</friendlyName>
    <serviceList>
      <service>
        <serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType>
        <serviceId>urn:upnp-org:serviceId:L3Forwarding1</serviceId>
        <controlURL>/ctl/L3F</controlURL>
      </service>
    </serviceList>
    <deviceList>
      <device>
        <deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
        <serviceList>
          <service>
            <serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType>
            <controlURL>/ctl/CmnIfCfg</controlURL>
          </service>
        </serviceList>
        <deviceList>
          <device>
            <deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
            <serviceList>
              <service>
                <serviceType>${service}</serviceType>
                <serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId>
                <controlURL>${controlURL}</controlURL>
                <eventSubURL>/evt/IPConn</eventSubURL>
                <SCPDURL>/WANIPCn.xml</SCPDURL>
              </service>
            </serviceList>
          </device>
        </deviceList>
      </device>
    </deviceList>
  </device>
</root>`;
}

const location = new URL('http://10.1.0.1:5000/rootDesc.xml');
const WANIP1 = 'urn:schemas-upnp-org:service:WANIPConnection:1';
const WANIP2 = 'urn:schemas-upnp-org:service:WANIPConnection:2';
const WANPPP1 = 'urn:schemas-upnp-org:service:WANPPPConnection:1';

describe('SSDP', () => {
  it('writes an IGD M-SEARCH', () => {
    const text = Buffer.from(encodeMSearch()).toString();
    expect(text).toBe(
      'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\nMX: 1\r\n' +
        'ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n\r\n',
    );
  });

  it('parses a search answer, headers in any case', () => {
    const r = parseSsdpResponse(
      ssdp([
        'HTTP/1.1 200 OK',
        'CACHE-CONTROL: max-age=120',
        'st: urn:schemas-upnp-org:device:InternetGatewayDevice:1',
        'USN: uuid:1234::urn:schemas-upnp-org:device:InternetGatewayDevice:1',
        'EXT:',
        'SERVER: Debian/12 UPnP/1.1 MiniUPnPd/2.3.1',
        'Location: http://10.1.0.1:5000/rootDesc.xml',
      ]),
    );
    expect(r.ok && r.value.location.href).toBe('http://10.1.0.1:5000/rootDesc.xml');
    expect(r.ok && r.value.server).toBe('Debian/12 UPnP/1.1 MiniUPnPd/2.3.1');
  });

  it('rejects what is not a usable answer', () => {
    const code = (b: Uint8Array) => {
      const r = parseSsdpResponse(b);
      return r.ok ? 'ok' : r.error.code;
    };
    expect(code(ssdp(['NOTIFY * HTTP/1.1', 'LOCATION: http://10.1.0.1/']))).toBe('bad-ssdp');
    expect(code(ssdp(['HTTP/1.1 200 OK', 'ST: x']))).toBe('bad-ssdp');
    expect(code(ssdp(['HTTP/1.1 200 OK', 'LOCATION: https://10.1.0.1/d.xml']))).toBe('bad-url');
    expect(code(ssdp(['HTTP/1.1 200 OK', 'LOCATION: not a url']))).toBe('bad-url');
    expect(code(Buffer.alloc(MAX_SSDP_RESPONSE_BYTES + 1, 0x41))).toBe('bad-ssdp');
  });

  it('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (bytes) => {
        expect(typeof parseSsdpResponse(bytes).ok).toBe('boolean');
      }),
    );
  });
});

describe('root description', () => {
  it('finds the WANIPConnection in nested devices, relative to the description', () => {
    const r = parseRootDescription(igd(WANIP1, '/ctl/IPConn'), location);
    expect(r.ok && [r.value.serviceType, r.value.controlUrl.href]).toEqual([
      WANIP1,
      'http://10.1.0.1:5000/ctl/IPConn',
    ]);
  });

  it('resolves against URLBase when there is one, and takes WANPPPConnection too', () => {
    const r = parseRootDescription(
      igd(WANPPP1, 'upnp/control/WANPPPConn1', '<URLBase>http://10.1.0.1:49152/</URLBase>'),
      location,
    );
    expect(r.ok && [r.value.serviceType, r.value.controlUrl.href]).toEqual([
      WANPPP1,
      'http://10.1.0.1:49152/upnp/control/WANPPPConn1',
    ]);
  });

  it('prefers WANIPConnection:2 over :1 over WANPPPConnection:1', () => {
    const xml = igd(WANPPP1, '/ppp').replace(
      '</serviceList>',
      `<service><serviceType>${WANIP1}</serviceType><controlURL>/ip1</controlURL></service>` +
        `<service><serviceType>${WANIP2}</serviceType><controlURL>/ip2</controlURL></service>` +
        '</serviceList>',
    );
    expect(xml).toContain('/ip2');
    const r = parseRootDescription(xml, location);
    expect(r.ok && r.value.controlUrl.pathname).toBe('/ip2');
  });

  it('gives typed errors for malformed XML, DOCTYPEs, missing services and bad URLs', () => {
    const code = (xml: string) => {
      const r = parseRootDescription(xml, location);
      return r.ok ? 'ok' : r.error.code;
    };
    expect(code('<root><device></root>')).toBe('bad-xml');
    expect(code('')).toBe('bad-xml');
    expect(code('<?xml version="1.0"?><notroot/>')).toBe('bad-xml');
    expect(code('<!DOCTYPE r [<!ENTITY a "aaaa">]><root><device><x>&a;</x></device></root>')).toBe(
      'bad-xml',
    );
    expect(code(igd('urn:schemas-upnp-org:service:Layer3Forwarding:1', '/x'))).toBe(
      'no-wan-service',
    );
    expect(code(igd(WANIP1, 'https://10.1.0.1/ctl'))).toBe('bad-url');
    expect(code(igd(WANIP1, '/ctl', '<URLBase>ftp://10.1.0.1/</URLBase>'))).toBe('bad-url');
  });

  it('never throws on arbitrary text or mangled descriptions', () => {
    const base = igd(WANIP1, '/ctl/IPConn');
    fc.assert(
      fc.property(
        fc.string({ maxLength: 500 }),
        fc.nat(base.length),
        fc.nat(base.length),
        (junk, at, cut) => {
          const mangled = base.slice(0, at) + junk + base.slice(Math.min(base.length, at + cut));
          expect(typeof parseRootDescription(mangled, location).ok).toBe('boolean');
          expect(typeof parseRootDescription(junk, location).ok).toBe('boolean');
        },
      ),
    );
  });
});

describe('SOAP', () => {
  it('writes an envelope with escaped arguments in order', () => {
    const xml = encodeSoapRequest(WANIP1, 'AddPortMapping', [
      ['NewRemoteHost', ''],
      ['NewExternalPort', 41641],
      ['NewPortMappingDescription', 'a<b&c'],
    ]);
    expect(xml).toContain(
      `<s:Body><u:AddPortMapping xmlns:u="${WANIP1}"><NewRemoteHost></NewRemoteHost>` +
        '<NewExternalPort>41641</NewExternalPort>' +
        '<NewPortMappingDescription>a&#60;b&#38;c</NewPortMappingDescription>' +
        '</u:AddPortMapping></s:Body>',
    );
  });

  const envelope = (body: string) =>
    '<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" ' +
    `s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>${body}</s:Body></s:Envelope>`;

  it('reads out arguments, and empty answers', () => {
    const r = parseSoapResponse(
      envelope(
        `<u:GetExternalIPAddressResponse xmlns:u="${WANIP1}">` +
          '<NewExternalIPAddress>192.0.3.10</NewExternalIPAddress></u:GetExternalIPAddressResponse>',
      ),
      'GetExternalIPAddress',
    );
    expect(r).toEqual({ ok: true, value: { NewExternalIPAddress: '192.0.3.10' } });
    expect(r.ok && externalAddressOf(r.value)).toEqual({ ok: true, value: '192.0.3.10' });
    expect(
      parseSoapResponse(
        envelope(`<u:AddPortMappingResponse xmlns:u="${WANIP1}"/>`),
        'AddPortMapping',
      ),
    ).toEqual({ ok: true, value: {} });
  });

  it('turns faults into typed errors with the UPnP error code', () => {
    const fault = envelope(
      '<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>' +
        '<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>718</errorCode>' +
        '<errorDescription>ConflictInMappingEntry</errorDescription></UPnPError></detail></s:Fault>',
    );
    expect(parseSoapResponse(fault, 'AddPortMapping')).toEqual({
      ok: false,
      error: {
        code: 'soap-fault',
        message: 'SOAP fault 718: ConflictInMappingEntry',
        upnpErrorCode: 718,
      },
    });
    const bare = parseSoapResponse(
      envelope('<s:Fault><faultstring>no</faultstring></s:Fault>'),
      'X',
    );
    expect(bare).toMatchObject({
      ok: false,
      error: { code: 'soap-fault', message: 'SOAP fault: no' },
    });
    expect(bare.ok || bare.error.upnpErrorCode).toBeUndefined();
  });

  it('rejects answers to other actions, non-SOAP and unusable addresses', () => {
    const code = (xml: string, action = 'GetExternalIPAddress') => {
      const r = parseSoapResponse(xml, action);
      return r.ok ? 'ok' : r.error.code;
    };
    expect(code(envelope('<u:OtherResponse xmlns:u="x"><A>1</A></u:OtherResponse>'))).toBe(
      'bad-soap',
    );
    expect(code('<html><body>hi</body></html>')).toBe('bad-soap');
    expect(code('<s:Envelope><s:Body>')).toBe('bad-xml');
    for (const a of ['', '0.0.0.0', 'fe80::1', '1.2.3', '<x>']) {
      expect(externalAddressOf({ NewExternalIPAddress: a })).toMatchObject({
        ok: false,
        error: { code: 'bad-soap' },
      });
    }
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 1000 }), (s) => {
        expect(typeof parseSoapResponse(s, 'AddPortMapping').ok).toBe('boolean');
        expect(typeof parseSoapResponse(envelope(s), 'AddPortMapping').ok).toBe('boolean');
      }),
    );
  });
});
