/** Errors in a policy document, each pinned to where it is in the text. */
import type { JsonPath, SourcePosition } from './locate.js';

export type PolicyErrorCode =
  /** The text is larger than MAX_POLICY_BYTES. */
  | 'too_large'
  /** Not valid HuJSON (json5's message). */
  | 'syntax'
  /** A key appears twice in one object. */
  | 'duplicate_key'
  /** Wrong structure, type, or bound (zod's message). */
  | 'schema'
  | 'invalid_selector'
  | 'invalid_ports'
  | 'invalid_address'
  | 'unknown_group'
  | 'group_cycle'
  | 'unknown_tag'
  | 'unknown_host'
  | 'unknown_posture'
  /** A limit across the document (total posture checks, process paths). */
  | 'too_many'
  /** One of the document's own tests failed. */
  | 'test_failed';

export interface PolicyError extends SourcePosition {
  readonly code: PolicyErrorCode;
  readonly message: string;
  /** Where in the document (["acls", 2, "dst", 0]); empty for the whole text. */
  readonly path: JsonPath;
}

/** "line 3, column 7: ..." for logs and the CLI. */
export const formatPolicyError = (e: PolicyError): string =>
  `line ${e.line}, column ${e.column}: ${e.message}`;
