/**
 * An in-memory WireGuard backend for unit tests of the daemon's logic (never used in production).
 *
 * It is faithful where it matters: every apply goes through the same validation, diff and UAPI
 * encoder as wireguard-go, and the encoded request is applied by the UAPI model, so a diff that
 * would leave a real device in the wrong state leaves the fake in the wrong state too. Tests can
 * inspect the applied configs, diffs and raw requests, simulate traffic and handshakes, and
 * inject failures.
 */
import { isValidInterfaceName } from '../os/ifname.js';
import { createConfigApplier, type ConfigApplier } from './applier.js';
import type { WgConfigDiff } from './diff.js';
import {
  WgError,
  type WgDeviceStats,
  type WgInterfaceConfig,
  type WireGuardBackend,
  type WireGuardDevice,
} from './types.js';
import { encodeSetRequest, statsFromState, type UapiDeviceState } from './uapi.js';
import { applySetRequest, emptyDeviceState } from './uapi-model.js';

/** The port a fake device "binds" when its config says 0, like wireguard-go picking one. */
export const FAKE_DEFAULT_LISTEN_PORT = 51820;

export class FakeWireGuardDevice implements WireGuardDevice {
  /** Canonical form of every config applied successfully, in order (unchanged ones too). */
  readonly applied: WgInterfaceConfig[] = [];
  /** The non-empty diffs sent to the device, in order. */
  readonly diffs: WgConfigDiff[] = [];
  /** The UAPI `set=1` requests those diffs were encoded as. */
  readonly requests: string[] = [];
  private state: UapiDeviceState;
  private readonly applier: ConfigApplier;
  private failure: WgError | null = null;
  private closedFlag = false;

  constructor(
    readonly name: string,
    readonly mtu: number,
    initialState: UapiDeviceState = emptyDeviceState(FAKE_DEFAULT_LISTEN_PORT),
  ) {
    this.state = initialState;
    this.applier = createConfigApplier(async (diff) => {
      if (this.closedFlag) throw new WgError('closed', `${this.name} is closed`);
      if (this.failure) {
        const f = this.failure;
        this.failure = null;
        throw f;
      }
      const request = encodeSetRequest(diff);
      if (!request.ok) throw new WgError('bad_config', request.error.message);
      const next = applySetRequest(this.state, request.value);
      if (!next.ok) throw new WgError('uapi_error', next.error.message);
      // Like wireguard-go, port 0 means "pick one".
      this.state =
        next.value.listenPort === 0
          ? { ...next.value, listenPort: FAKE_DEFAULT_LISTEN_PORT }
          : next.value;
      this.diffs.push(diff);
      this.requests.push(request.value);
    });
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** The device-side state (what `get=1` would report). */
  get deviceState(): UapiDeviceState {
    return this.state;
  }

  async apply(config: WgInterfaceConfig): Promise<void> {
    if (this.closedFlag) throw new WgError('closed', `${this.name} is closed`);
    await this.applier.apply(config);
    if (this.applier.last) this.applied.push(this.applier.last);
  }

  async stats(): Promise<WgDeviceStats> {
    if (this.closedFlag) throw new WgError('closed', `${this.name} is closed`);
    return statsFromState(this.state);
  }

  async close(): Promise<void> {
    this.closedFlag = true;
  }

  /** Makes the next apply that has something to send fail with `error`. */
  failNextApply(error: WgError): void {
    this.failure = error;
  }

  /** Simulates traffic with a peer: adds to its counters and optionally records a handshake. */
  simulateTraffic(
    publicKey: string,
    traffic: { rxBytes?: number; txBytes?: number; handshakeAt?: Date },
  ): void {
    const peers = this.state.peers.map((p) =>
      p.publicKey !== publicKey
        ? p
        : {
            ...p,
            rxBytes: p.rxBytes + (traffic.rxBytes ?? 0),
            txBytes: p.txBytes + (traffic.txBytes ?? 0),
            lastHandshake: traffic.handshakeAt ?? p.lastHandshake,
          },
    );
    if (!peers.some((p) => p.publicKey === publicKey)) {
      throw new Error(`fake device ${this.name} has no peer ${publicKey}`);
    }
    this.state = { ...this.state, peers };
  }
}

export class FakeWireGuardBackend implements WireGuardBackend {
  readonly kind = 'fake' as const;
  /** Every device ever created, by name (the latest one for a reused name). */
  readonly devices = new Map<string, FakeWireGuardDevice>();

  async create(name: string, options: { readonly mtu: number }): Promise<FakeWireGuardDevice> {
    if (!isValidInterfaceName(name)) {
      throw new WgError('create_failed', `invalid interface name ${JSON.stringify(name)}`);
    }
    const existing = this.devices.get(name);
    // Like a real backend adopting a device a crashed helper left behind: the device keeps its
    // state, the new handle knows nothing, so its first apply replaces everything.
    const device = new FakeWireGuardDevice(
      name,
      options.mtu,
      existing && !existing.closed ? existing.deviceState : undefined,
    );
    this.devices.set(name, device);
    return device;
  }
}
