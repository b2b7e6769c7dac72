// Desktop IPC schema (placeholder: replaced by the full typed schema).
export const ipcChannels: readonly string[] = [];
