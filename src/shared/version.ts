/** The Trellis release version, shared by control, helper, CLI and app (kept equal to package.json). */
export const TRELLIS_VERSION = '0.1.0';
