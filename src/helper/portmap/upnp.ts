/**
 * UPnP IGD codecs (pure): the SSDP M-SEARCH and its answer, the gateway's root device
 * description, and the SOAP envelopes of the WANIPConnection actions. Everything here parses
 * bytes from the gateway, which we do not trust: every limit is explicit and bad input is a
 * typed error, never an exception.
 */
import { isIPv4 } from 'node:net';
import { XMLParser } from 'fast-xml-parser';
import { err, ok, type Result } from '../../shared/result.js';

/** The SSDP multicast group and port (UPnP Device Architecture 1.1 §1.1.2). */
export const SSDP_MULTICAST_ADDRESS = '239.255.255.250';
export const SSDP_PORT = 1900;
/** What we search for: any IGD answers for version 1, IGDv2 devices included. */
export const IGD_SEARCH_TARGET = 'urn:schemas-upnp-org:device:InternetGatewayDevice:1';
/** An SSDP answer is a few hundred bytes; a bigger datagram is not one. */
export const MAX_SSDP_RESPONSE_BYTES = 2048;
/** Real root descriptions are 2–15 KB; 128 KiB is plenty and bounds what we buffer and parse. */
export const MAX_DESCRIPTION_BYTES = 128 * 1024;
/** SOAP answers to our actions are well under 2 KB (a fault included). */
export const MAX_SOAP_RESPONSE_BYTES = 16 * 1024;
/** Nested devices (IGD → WANDevice → WANConnectionDevice) are 3 deep; more is not an IGD. */
export const MAX_DEVICE_DEPTH = 8;
/** A URL in a description (URLBase, controlURL) longer than this is garbage. */
export const MAX_URL_LENGTH = 1024;

/** The services that can map ports, best first (as Tailscale's portmapper prefers them). */
export const WAN_SERVICE_TYPES = [
  'urn:schemas-upnp-org:service:WANIPConnection:2',
  'urn:schemas-upnp-org:service:WANIPConnection:1',
  'urn:schemas-upnp-org:service:WANPPPConnection:1',
] as const;
export type WanServiceType = (typeof WAN_SERVICE_TYPES)[number];

/** UPnP error codes we act on (IGD WANIPConnection:2 §2.4.16). */
export const UPNP_CONFLICT_IN_MAPPING_ENTRY = 718;
export const UPNP_ONLY_PERMANENT_LEASES_SUPPORTED = 725;

export type UpnpErrorCode =
  | 'bad-ssdp'
  | 'bad-url'
  | 'bad-xml'
  | 'no-wan-service'
  | 'soap-fault'
  | 'bad-soap'
  | 'http'
  | 'too-large'
  | 'timeout'
  | 'no-answer';

export interface UpnpError {
  readonly code: UpnpErrorCode;
  readonly message: string;
  /** soap-fault: the UPnP errorCode from the fault's detail, when it had one. */
  readonly upnpErrorCode?: number;
}

export const upnpError = (
  code: UpnpErrorCode,
  message: string,
  upnpErrorCode?: number,
): UpnpError =>
  upnpErrorCode === undefined ? { code, message } : { code, message, upnpErrorCode };

/** The M-SEARCH datagram; MX 1: answer within a second (we wait less; a LAN gateway is quick). */
export function encodeMSearch(host = `${SSDP_MULTICAST_ADDRESS}:${SSDP_PORT}`): Uint8Array {
  return Buffer.from(
    [
      'M-SEARCH * HTTP/1.1',
      `HOST: ${host}`,
      'MAN: "ssdp:discover"',
      'MX: 1',
      `ST: ${IGD_SEARCH_TARGET}`,
      '',
      '',
    ].join('\r\n'),
  );
}

export interface SsdpResponse {
  /** The root description's URL (LOCATION), http only. */
  readonly location: URL;
  readonly searchTarget: string | null;
  readonly server: string | null;
}

/** Parses an SSDP search answer (an HTTP/1.1 200 header block over UDP). */
export function parseSsdpResponse(packet: Uint8Array): Result<SsdpResponse, UpnpError> {
  if (packet.length > MAX_SSDP_RESPONSE_BYTES) {
    return err(upnpError('bad-ssdp', `SSDP answer of ${packet.length} bytes is too large`));
  }
  const text = Buffer.from(packet).toString('latin1');
  const lines = text.split(/\r?\n/);
  if (!/^HTTP\/1\.[01] 200(?: |$)/.test(lines[0] ?? '')) {
    return err(upnpError('bad-ssdp', 'not an SSDP search answer'));
  }
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    if (line === '') break;
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const location = headers.get('location');
  if (location === undefined) return err(upnpError('bad-ssdp', 'SSDP answer without LOCATION'));
  const url = parseHttpUrl(location);
  if (!url.ok) return url;
  return ok({
    location: url.value,
    searchTarget: headers.get('st') ?? null,
    server: headers.get('server') ?? null,
  });
}

function parseHttpUrl(text: string, base?: URL): Result<URL, UpnpError> {
  if (text.length === 0 || text.length > MAX_URL_LENGTH) {
    return err(upnpError('bad-url', `URL of ${text.length} characters`));
  }
  let url: URL;
  try {
    url = new URL(text, base);
  } catch {
    return err(upnpError('bad-url', `not a URL: ${JSON.stringify(text.slice(0, 80))}`));
  }
  if (url.protocol !== 'http:') return err(upnpError('bad-url', `not http: ${url.protocol}`));
  return ok(url);
}

/** A service that maps ports, with its absolute control URL. */
export interface WanService {
  readonly serviceType: WanServiceType;
  readonly controlUrl: URL;
}

const parser = new XMLParser({
  removeNSPrefix: true,
  ignoreAttributes: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  // Values stay text: we parse the few numbers ourselves.
  parseTagValue: false,
  trimValues: true,
  // Only XML's predefined entities and character references; no DOCTYPE-declared ones.
  processEntities: true,
  htmlEntities: false,
  isArray: (name) => name === 'device' || name === 'service',
});

/** Parses XML we got from the gateway (validating it); a typed error for anything malformed. */
function parseXml(text: string): Result<Record<string, unknown>, UpnpError> {
  if (/<!DOCTYPE/i.test(text)) return err(upnpError('bad-xml', 'DOCTYPE is not allowed'));
  try {
    const doc: unknown = parser.parse(text, true);
    if (!isRecord(doc)) return err(upnpError('bad-xml', 'not an XML document'));
    return ok(doc);
  } catch (e) {
    return err(upnpError('bad-xml', `malformed XML: ${(e as Error).message.slice(0, 200)}`));
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function text(x: unknown): string | null {
  return typeof x === 'string' ? x : null;
}

function records(x: unknown): Record<string, unknown>[] {
  return Array.isArray(x) ? x.filter(isRecord) : [];
}

/**
 * Finds the best port-mapping service in a root device description, searching nested devices;
 * its controlURL is resolved against URLBase (UPnP 1.0) or else the description's own URL.
 */
export function parseRootDescription(xml: string, location: URL): Result<WanService, UpnpError> {
  const doc = parseXml(xml);
  if (!doc.ok) return doc;
  const root = doc.value['root'];
  if (!isRecord(root)) return err(upnpError('bad-xml', 'no <root> element'));
  let base = location;
  const urlBase = text(root['URLBase']);
  if (urlBase !== null && urlBase !== '') {
    const b = parseHttpUrl(urlBase);
    if (!b.ok) return b;
    base = b.value;
  }
  const found: { serviceType: WanServiceType; controlUrl: string }[] = [];
  const visit = (devices: Record<string, unknown>[], depth: number): void => {
    if (depth > MAX_DEVICE_DEPTH) return;
    for (const device of devices) {
      const serviceList = device['serviceList'];
      if (isRecord(serviceList)) {
        for (const s of records(serviceList['service'])) {
          const type = text(s['serviceType']);
          const control = text(s['controlURL']);
          const known = WAN_SERVICE_TYPES.find((t) => t === type);
          if (known !== undefined && control !== null && control !== '') {
            found.push({ serviceType: known, controlUrl: control });
          }
        }
      }
      const deviceList = device['deviceList'];
      if (isRecord(deviceList)) visit(records(deviceList['device']), depth + 1);
    }
  };
  visit(records(root['device']), 1);
  for (const type of WAN_SERVICE_TYPES) {
    const s = found.find((f) => f.serviceType === type);
    if (s === undefined) continue;
    const url = parseHttpUrl(s.controlUrl, base);
    if (!url.ok) return url;
    return ok({ serviceType: type, controlUrl: url.value });
  }
  return err(upnpError('no-wan-service', 'no WANIPConnection or WANPPPConnection service'));
}

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A SOAP 1.1 request for `action` of `serviceType`, arguments in the order the spec lists. */
export function encodeSoapRequest(
  serviceType: string,
  action: string,
  args: readonly (readonly [string, string | number])[],
): string {
  const body = args.map(([k, v]) => `<${k}>${escapeXml(String(v))}</${k}>`).join('');
  return (
    '<?xml version="1.0"?>\r\n' +
    '<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" ' +
    's:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">' +
    `<s:Body><u:${action} xmlns:u="${escapeXml(serviceType)}">${body}</u:${action}></s:Body>` +
    '</s:Envelope>\r\n'
  );
}

/**
 * Parses a SOAP answer to `action`: its out arguments as text, or a typed error — soap-fault
 * (with the UPnP errorCode when the fault carries one) or bad-soap/bad-xml.
 */
export function parseSoapResponse(
  xml: string,
  action: string,
): Result<Record<string, string>, UpnpError> {
  const doc = parseXml(xml);
  if (!doc.ok) return doc;
  const envelope = doc.value['Envelope'];
  const body = isRecord(envelope) ? envelope['Body'] : undefined;
  if (!isRecord(body)) return err(upnpError('bad-soap', 'no SOAP Envelope/Body'));
  const fault = body['Fault'];
  if (fault !== undefined) {
    const f = isRecord(fault) ? fault : {};
    const detail = isRecord(f['detail']) ? f['detail'] : {};
    const upnp = isRecord(detail['UPnPError']) ? detail['UPnPError'] : {};
    const codeText = text(upnp['errorCode']);
    const code = codeText !== null && /^\d{1,4}$/.test(codeText) ? Number(codeText) : undefined;
    const description =
      text(upnp['errorDescription']) ?? text(f['faultstring']) ?? 'no description';
    return err(
      upnpError(
        'soap-fault',
        `SOAP fault${code === undefined ? '' : ` ${code}`}: ${description.slice(0, 200)}`,
        code,
      ),
    );
  }
  const response = body[`${action}Response`];
  // An action without out arguments answers with an empty element (parsed as '').
  if (response === '') return ok({});
  if (!isRecord(response)) return err(upnpError('bad-soap', `no ${action}Response`));
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(response)) {
    const t = text(v);
    if (t !== null) out[k] = t;
  }
  return ok(out);
}

/** The external address from a GetExternalIPAddress answer; IPv4 only (what we map). */
export function externalAddressOf(args: Record<string, string>): Result<string, UpnpError> {
  const a = args['NewExternalIPAddress'] ?? '';
  if (!isIPv4(a) || a === '0.0.0.0') {
    return err(
      upnpError('bad-soap', `no usable external address: ${JSON.stringify(a.slice(0, 40))}`),
    );
  }
  return ok(a);
}
