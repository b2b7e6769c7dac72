/**
 * Country lookup for geolocation posture checks. The operator supplies the database as a CSV
 * file (config points at it); Trellis ships no GeoIP data itself.
 *
 * File format ("trellis geo CSV"), UTF-8, one network per line:
 *
 *     # comment lines and blank lines are ignored
 *     cidr,country                  <- optional header line
 *     81.2.69.0/24,GB
 *     2001:db8::/32,DE
 *
 * `cidr` is an IPv4 or IPv6 prefix with host bits zero; `country` is an ISO 3166-1 alpha-2 code
 * (upper case). Prefixes may nest: the most specific one wins. Converting MaxMind's GeoLite2
 * "Country-Blocks" CSVs takes one join on geoname_id (network, country_iso_code).
 */
import { readFile, stat } from 'node:fs/promises';
import { err, ok, type Result } from '../../shared/result.js';
import { parseAddr, parsePrefixText } from './prefix.js';

export interface GeoLookup {
  /** ISO 3166-1 alpha-2 country of an address, or null when unknown. */
  country(ip: string): string | null;
}

export interface GeoCsvError {
  readonly line: number;
  readonly message: string;
}

/**
 * Rows accepted. A country database in CIDR form has ~450,000 IPv4 and IPv6 rows today; this
 * leaves room for growth and finer (e.g. city-derived) splits while bounding memory (~100 B/row).
 */
export const MAX_GEO_ROWS = 4_000_000;
/** Longest row: an IPv6 CIDR (49 chars), a comma and a code, with slack for CRLF and spaces. */
const MAX_GEO_LINE = 128;
/** File size bound matching MAX_GEO_ROWS rows of typical length. */
export const MAX_GEO_FILE_BYTES = 256 * 1024 * 1024;

const COUNTRY_RE = /^[A-Z]{2}$/;

class PrefixTable implements GeoLookup {
  /** Per family, per prefix length (longest first), network → country. */
  private readonly v4 = new Map<number, Map<bigint, string>>();
  private readonly v6 = new Map<number, Map<bigint, string>>();
  private lengths4: number[] = [];
  private lengths6: number[] = [];

  add(v6: boolean, net: bigint, bits: number, country: string): void {
    const table = v6 ? this.v6 : this.v4;
    let m = table.get(bits);
    if (!m) table.set(bits, (m = new Map()));
    m.set(net, country);
  }

  seal(): void {
    this.lengths4 = [...this.v4.keys()].sort((a, b) => b - a);
    this.lengths6 = [...this.v6.keys()].sort((a, b) => b - a);
  }

  country(ip: string): string | null {
    const a = parseAddr(ip);
    if (!a.ok) return null;
    const width = a.value.v6 ? 128 : 32;
    const table = a.value.v6 ? this.v6 : this.v4;
    for (const bits of a.value.v6 ? this.lengths6 : this.lengths4) {
      const shift = BigInt(width - bits);
      const hit = table.get(bits)?.get((a.value.value >> shift) << shift);
      if (hit !== undefined) return hit;
    }
    return null;
  }
}

export function parseGeoCsv(text: string): Result<GeoLookup, GeoCsvError> {
  const table = new PrefixTable();
  let rows = 0;
  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    lineNo++;
    const raw = text.slice(start, end);
    start = end + 1;
    if (raw.length > MAX_GEO_LINE) return err({ line: lineNo, message: 'line too long' });
    const line = raw.replace(/\r$/, '').trim();
    if (line === '' || line.startsWith('#')) continue;
    if (rows === 0 && /^cidr\s*,\s*country$/i.test(line)) continue;
    const comma = line.indexOf(',');
    if (comma < 0) return err({ line: lineNo, message: 'expected "cidr,country"' });
    const cidr = line.slice(0, comma).trim();
    const country = line.slice(comma + 1).trim();
    const p = parsePrefixText(cidr);
    if (!p.ok) return err({ line: lineNo, message: p.error.message });
    if (!COUNTRY_RE.test(country)) {
      return err({
        line: lineNo,
        message: `${JSON.stringify(country.slice(0, 16))} is not a two-letter country code`,
      });
    }
    if (++rows > MAX_GEO_ROWS)
      return err({ line: lineNo, message: `more than ${MAX_GEO_ROWS} rows` });
    table.add(p.value.v6, p.value.net, p.value.bits, country);
  }
  table.seal();
  return ok(table);
}

export async function loadGeoCsvFile(path: string): Promise<Result<GeoLookup, GeoCsvError>> {
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    return err({ line: 0, message: `cannot read ${path}: ${(e as Error).message}` });
  }
  if (size > MAX_GEO_FILE_BYTES) {
    return err({ line: 0, message: `${path} is larger than ${MAX_GEO_FILE_BYTES} bytes` });
  }
  try {
    return parseGeoCsv(await readFile(path, 'utf8'));
  } catch (e) {
    return err({ line: 0, message: `cannot read ${path}: ${(e as Error).message}` });
  }
}
