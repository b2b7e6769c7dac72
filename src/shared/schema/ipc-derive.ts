/**
 * Generic machinery for a Mullvad-style IPC schema: channels are declared once, grouped by area,
 * as `invoke` (renderer asks, main answers), `send` (renderer tells main, no answer) or
 * `notifyRenderer` (main tells renderer). From that one declaration this module derives channel
 * names, the main-process handler registry, the renderer client and the notifier, all validating
 * what crosses the boundary. It knows nothing about Electron: transports are small interfaces, so
 * the Electron adapter, the web bridge and in-memory test doubles plug in alike.
 */
import * as z from 'zod';
import { err, ok, type Result } from '../result.js';
import { Message } from './common.js';
import { parseWith } from './parse.js';

export interface InvokeDescriptor<
  Req extends z.ZodType = z.ZodType,
  Res extends z.ZodType = z.ZodType,
> {
  readonly kind: 'invoke';
  readonly request: Req;
  readonly response: Res;
}
export interface SendDescriptor<P extends z.ZodType = z.ZodType> {
  readonly kind: 'send';
  readonly payload: P;
}
export interface NotifyDescriptor<P extends z.ZodType = z.ZodType> {
  readonly kind: 'notify';
  readonly payload: P;
}
export type IpcDescriptor = InvokeDescriptor | SendDescriptor | NotifyDescriptor;
export type IpcKind = IpcDescriptor['kind'];
export type IpcSchemaShape = {
  readonly [area: string]: { readonly [name: string]: IpcDescriptor };
};

export const invoke = <Req extends z.ZodType, Res extends z.ZodType>(
  request: Req,
  response: Res,
): InvokeDescriptor<Req, Res> => ({ kind: 'invoke', request, response });
export const send = <P extends z.ZodType>(payload: P): SendDescriptor<P> => ({
  kind: 'send',
  payload,
});
export const notifyRenderer = <P extends z.ZodType>(payload: P): NotifyDescriptor<P> => ({
  kind: 'notify',
  payload,
});

/** Payload of channels that carry nothing. Accepts null too, since JSON bridges cannot send undefined. */
export const None = z
  .null()
  .optional()
  .transform(() => undefined);

// Channel names -------------------------------------------------------------------------------

export type ChannelName<
  A extends PropertyKey,
  N extends PropertyKey,
> = `${A & string}:${N & string}`;
export const channelName = <A extends string, N extends string>(
  area: A,
  name: N,
): ChannelName<A, N> => `${area}:${name}`;

export interface ChannelInfo {
  readonly channel: string;
  readonly area: string;
  readonly name: string;
  readonly descriptor: IpcDescriptor;
}

export function listChannels(schema: IpcSchemaShape): ChannelInfo[] {
  return Object.entries(schema).flatMap(([area, group]) =>
    Object.entries(group).map(([name, descriptor]) => ({
      channel: channelName(area, name),
      area,
      name,
      descriptor,
    })),
  );
}

// Errors --------------------------------------------------------------------------------------

export const IpcErrorCode = z.enum([
  'bad_request', // the request did not match the channel's schema
  'invalid_response', // main answered with something the schema rejects
  'transport', // the message did not get through (window closing, bridge disconnected)
  'helper_unavailable', // trellisd is not running or not reachable
  'helper_error', // trellisd refused or failed the request
  'not_logged_in',
  'cancelled', // the user closed the login window, for example
  'internal',
]);
export type IpcErrorCode = z.infer<typeof IpcErrorCode>;
export const IpcError = z.object({ code: IpcErrorCode, message: Message });
export type IpcError = z.infer<typeof IpcError>;

export const ipcError = (code: IpcErrorCode, message: string): IpcError => ({
  code,
  message: message.slice(0, 2048),
});

/** What an invoke carries back over the wire: never a thrown error, whose shape transports lose. */
export const IpcEnvelope = z.discriminatedUnion('ok', [
  z.object({ ok: z.literal(true), value: z.unknown() }),
  z.object({ ok: z.literal(false), error: IpcError }),
]);
export type IpcEnvelope = z.infer<typeof IpcEnvelope>;

// Types derived from a schema -----------------------------------------------------------------

type Req<D> = D extends InvokeDescriptor<infer Q, z.ZodType> ? Q : never;
type Res<D> = D extends InvokeDescriptor<z.ZodType, infer R> ? R : never;
type Pay<D> = D extends SendDescriptor<infer P> | NotifyDescriptor<infer P> ? P : never;

/** Arguments of a call: none when the schema's input admits undefined. */
type Args<T> = undefined extends T ? [payload?: T] : [payload: T];

/** What main implements: every invoke and send channel; notify channels are main's to emit. */
export type IpcHandlers<S extends IpcSchemaShape> = {
  [A in keyof S]: {
    [
      N in keyof S[A] as S[A][N] extends NotifyDescriptor ? never : N
    ]: S[A][N] extends InvokeDescriptor
      ? (request: z.output<Req<S[A][N]>>) => Promise<Result<z.input<Res<S[A][N]>>, IpcError>>
      : (payload: z.output<Pay<S[A][N]>>) => void;
  };
};

/** What the renderer calls: invoke → Promise<Result>, send → void, notify → subscribe. */
export type IpcClient<S extends IpcSchemaShape> = {
  [A in keyof S]: {
    [N in keyof S[A]]: S[A][N] extends InvokeDescriptor
      ? (...args: Args<z.input<Req<S[A][N]>>>) => Promise<Result<z.output<Res<S[A][N]>>, IpcError>>
      : S[A][N] extends SendDescriptor
        ? (...args: Args<z.input<Pay<S[A][N]>>>) => void
        : (listener: (payload: z.output<Pay<S[A][N]>>) => void) => () => void;
  };
};

/** What main uses to emit notifications. */
export type IpcNotifier<S extends IpcSchemaShape> = {
  [A in keyof S]: {
    [N in keyof S[A] as S[A][N] extends NotifyDescriptor ? N : never]: (
      payload: z.input<Pay<S[A][N]>>,
    ) => void;
  };
};

// Transports ----------------------------------------------------------------------------------

/** The renderer's side: Electron's preload bridge, a web-bridge socket, or an in-memory double. */
export interface IpcRendererTransport {
  invoke(channel: string, payload: unknown): Promise<unknown>;
  send(channel: string, payload: unknown): void;
  /** Subscribes to a notify channel; returns the unsubscribe function. */
  on(channel: string, listener: (payload: unknown) => void): () => void;
}

/** Main's side: ipcMain, the web bridge server, or an in-memory double. */
export interface IpcMainTransport {
  handle(channel: string, handler: (payload: unknown) => Promise<unknown>): void;
  listen(channel: string, listener: (payload: unknown) => void): void;
}

/** Called with what was dropped because it failed validation, for logging. */
export type OnInvalid = (channel: string, message: string) => void;
const ignore: OnInvalid = () => undefined;

// Derivations ---------------------------------------------------------------------------------

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * Wires main's handlers to a transport. Requests are parsed before a handler sees them, thrown
 * errors become `internal`, and responses are checked against the schema before they leave.
 */
export function registerIpcHandlers<S extends IpcSchemaShape>(
  schema: S,
  handlers: IpcHandlers<S>,
  transport: IpcMainTransport,
  onInvalid: OnInvalid = ignore,
): void {
  const table = handlers as unknown as Record<string, Record<string, (p: unknown) => unknown>>;
  for (const { channel, area, name, descriptor } of listChannels(schema)) {
    if (descriptor.kind === 'notify') continue;
    const handler = table[area]?.[name];
    if (!handler) throw new Error(`no IPC handler for ${channel}`);
    if (descriptor.kind === 'send') {
      transport.listen(channel, (payload) => {
        const p = parseWith(descriptor.payload, payload);
        if (p.ok) handler(p.value);
        else onInvalid(channel, p.error.message);
      });
      continue;
    }
    transport.handle(channel, async (payload): Promise<IpcEnvelope> => {
      const req = parseWith(descriptor.request, payload);
      if (!req.ok) return { ok: false, error: ipcError('bad_request', req.error.message) };
      let result: Result<unknown, IpcError>;
      try {
        result = (await handler(req.value)) as Result<unknown, IpcError>;
      } catch (e) {
        return { ok: false, error: ipcError('internal', `${channel} failed: ${describe(e)}`) };
      }
      if (!result.ok) return result;
      const res = parseWith(descriptor.response, result.value);
      if (!res.ok) {
        onInvalid(channel, res.error.message);
        return {
          ok: false,
          error: ipcError('internal', `${channel} produced an invalid response`),
        };
      }
      return { ok: true, value: res.value };
    });
  }
}

/** The renderer's typed API over a transport; every answer is validated before it is returned. */
export function deriveIpcClient<S extends IpcSchemaShape>(
  schema: S,
  transport: IpcRendererTransport,
  onInvalid: OnInvalid = ignore,
): IpcClient<S> {
  const client: Record<string, Record<string, unknown>> = {};
  for (const { channel, area, name, descriptor } of listChannels(schema)) {
    const group = (client[area] ??= {});
    switch (descriptor.kind) {
      case 'invoke':
        group[name] = async (payload?: unknown): Promise<Result<unknown, IpcError>> => {
          const req = parseWith(descriptor.request, payload);
          if (!req.ok) return err(ipcError('bad_request', req.error.message));
          let raw: unknown;
          try {
            raw = await transport.invoke(channel, payload);
          } catch (e) {
            return err(ipcError('transport', `${channel}: ${describe(e)}`));
          }
          const envelope = parseWith(IpcEnvelope, raw);
          if (!envelope.ok) return err(ipcError('invalid_response', envelope.error.message));
          if (!envelope.value.ok) return err(envelope.value.error);
          const res = parseWith(descriptor.response, envelope.value.value);
          return res.ok ? ok(res.value) : err(ipcError('invalid_response', res.error.message));
        };
        break;
      case 'send':
        group[name] = (payload?: unknown): void => {
          const p = parseWith(descriptor.payload, payload);
          if (p.ok) transport.send(channel, payload);
          else onInvalid(channel, p.error.message);
        };
        break;
      case 'notify':
        group[name] = (listener: (payload: unknown) => void): (() => void) =>
          transport.on(channel, (payload) => {
            const p = parseWith(descriptor.payload, payload);
            if (p.ok) listener(p.value);
            else onInvalid(channel, p.error.message);
          });
        break;
    }
  }
  return client as IpcClient<S>;
}

/** Main's typed notifier: payloads are validated, then handed to `emit` (e.g. webContents.send). */
export function deriveIpcNotifier<S extends IpcSchemaShape>(
  schema: S,
  emit: (channel: string, payload: unknown) => void,
  onInvalid: OnInvalid = ignore,
): IpcNotifier<S> {
  const notifier: Record<string, Record<string, (payload: unknown) => void>> = {};
  for (const { channel, area, name, descriptor } of listChannels(schema)) {
    if (descriptor.kind !== 'notify') continue;
    (notifier[area] ??= {})[name] = (payload) => {
      const p = parseWith(descriptor.payload, payload);
      if (p.ok) emit(channel, p.value);
      else onInvalid(channel, p.error.message);
    };
  }
  return notifier as IpcNotifier<S>;
}

/**
 * Main and renderer in one process, for tests and UI test doubles. Messages pass through
 * structuredClone, as they do through Electron's IPC, so nothing shares references.
 */
export function createInMemoryIpc<S extends IpcSchemaShape>(
  schema: S,
  handlers: IpcHandlers<S>,
): { transport: IpcRendererTransport; notifier: IpcNotifier<S> } {
  const invokeHandlers = new Map<string, (payload: unknown) => Promise<unknown>>();
  const sendListeners = new Map<string, (payload: unknown) => void>();
  const subscribers = new Map<string, Set<(payload: unknown) => void>>();
  registerIpcHandlers(schema, handlers, {
    handle: (channel, h) => invokeHandlers.set(channel, h),
    listen: (channel, l) => sendListeners.set(channel, l),
  });
  const transport: IpcRendererTransport = {
    invoke: async (channel, payload) => {
      const h = invokeHandlers.get(channel);
      if (!h) throw new Error(`no handler for ${channel}`);
      return structuredClone(await h(structuredClone(payload)));
    },
    send: (channel, payload) => sendListeners.get(channel)?.(structuredClone(payload)),
    on: (channel, listener) => {
      const set = subscribers.get(channel) ?? new Set();
      subscribers.set(channel, set);
      set.add(listener);
      return () => set.delete(listener);
    },
  };
  const notifier = deriveIpcNotifier(schema, (channel, payload) => {
    for (const l of subscribers.get(channel) ?? []) l(structuredClone(payload));
  });
  return { transport, notifier };
}
