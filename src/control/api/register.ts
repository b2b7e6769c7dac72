/**
 * `POST /v1/register`: a device joins (or re-joins) the network with a user session or a pre-auth
 * key, and gets its id, addresses, name and node credential. Re-registering the same node key
 * re-issues the credential; registering with `oldNodeKey` rotates the key in place so the device
 * keeps its identity.
 */
import type { FastifyInstance } from 'fastify';
import { RegisterRequest, type RegisterResponse } from '../../shared/schema/control/auth.js';
import type { ControlContext } from '../context.js';
import { ApiError, parseInput, unauthorized } from '../http/errors.js';
import { advertise, refreshDevice } from '../mesh.js';
import type { Device } from '../store/devices.js';
import type { Actor } from '../store/audit.js';
import { hashToken } from '../store/tokens.js';
import type { StoreTx } from '../store/index.js';

interface Owner {
  readonly networkId: string;
  readonly userId: string | null;
  readonly tags: string[];
  readonly ephemeral: boolean;
  readonly preapproved: boolean;
  readonly preauthKeyId: string | null;
  readonly actor: Actor;
}

export function registerDeviceRoutes(app: FastifyInstance, ctx: ControlContext): void {
  app.post('/v1/register', async (req): Promise<RegisterResponse> => {
    const body = parseInput(RegisterRequest, req.body);
    if (!ctx.registerLimiter.allow(req.ip))
      throw new ApiError('rate_limited', 'too many registrations');

    const result = await ctx.store.transaction(async (tx) => {
      const owner = await resolveOwner(tx, body.auth);
      const h = body.hostInfo;
      const facts = {
        hostname: h.hostname,
        os: h.os,
        osVersion: h.osVersion,
        clientVersion: h.clientVersion,
        hostInfo: JSON.parse(JSON.stringify(h)) as Record<string, never>,
      };

      // Same key again (re-login on a device that lost its credential, or a retry).
      const existing = await tx.devices.findByNodeKey(body.nodeKey);
      if (existing) {
        assertSameOwner(existing, owner);
        const credential = await tx.devices.rotateCredential(existing.id);
        if (!credential) throw new ApiError('conflict', 'device changed during registration');
        await tx.devices.updateHostInfo(existing.id, facts);
        // Signing in again renews the key's lifetime, as a key rotation would.
        const network = await tx.networks.get(existing.networkId);
        const renewed = network
          ? await tx.devices.setKeyExpiry(
              existing.id,
              new Date(ctx.now() + network.settings.keyExpiryDays * 86_400_000),
            )
          : null;
        return {
          device: renewed ?? existing,
          credential,
          action: 'device.reauthenticated',
          owner,
        };
      }

      // Key rotation: the device keeps its id, name and addresses. Only for the same owner:
      // after a logout another user may sign in on the machine, which makes a new device (the
      // old one stays, its key expired, as Tailscale does); an old key is no proof of anything.
      if (body.oldNodeKey) {
        const old = await tx.devices.findByNodeKey(body.oldNodeKey);
        if (old && sameOwner(old, owner)) {
          const rotated = await tx.devices.rotateNodeKey(old.id, body.nodeKey);
          if (!rotated.ok) throw new ApiError('conflict', 'node key already registered');
          const credential = await tx.devices.rotateCredential(old.id);
          if (!credential) throw new ApiError('conflict', 'device changed during registration');
          await tx.devices.updateHostInfo(old.id, facts);
          return { device: rotated.value, credential, action: 'device.key_rotated', owner };
        }
      }

      const created = await tx.devices.create({
        networkId: owner.networkId,
        userId: owner.userId,
        tags: owner.tags,
        hostname: h.hostname,
        nodeKey: body.nodeKey,
        os: h.os,
        osVersion: h.osVersion,
        clientVersion: h.clientVersion,
        hostInfo: facts.hostInfo,
        ephemeral: owner.ephemeral || body.wantEphemeral === true,
        ...(owner.preapproved ? { approved: true } : {}),
        preauthKeyId: owner.preauthKeyId,
      });
      if (!created.ok) {
        switch (created.error) {
          case 'node_key_in_use':
            throw new ApiError('conflict', 'node key already registered');
          case 'address_space_exhausted':
            throw new ApiError('conflict', 'the network has no free addresses');
          case 'invalid_owner':
          case 'network_not_found':
            throw unauthorized();
        }
      }
      await tx.devices.setAdvertisedRoutes(created.value.device.id, h.advertisedRoutes);
      return {
        device: created.value.device,
        credential: created.value.credential,
        action: 'device.added',
        owner,
      };
    });

    const { device, credential, action, owner } = result;
    await ctx.audit({
      networkId: device.networkId,
      actor: owner.actor,
      action,
      target: { type: 'device', id: device.id },
      diff: { name: device.name, nodeKey: device.nodeKey, ipv4: device.ipv4 },
    });
    await advertise(ctx.store, device.id, body.hostInfo, ctx.policyOf);
    await refreshDevice(ctx.store, ctx.hub, device.id);
    const network = await ctx.store.networks.get(device.networkId);
    if (!network) throw new ApiError('not_found', 'network not found');
    return {
      deviceId: device.id,
      nodeCredential: credential,
      addresses: { ipv4: device.ipv4, ipv6: device.ipv6 },
      name: device.name,
      fqdn: `${device.name}.${network.domain}`,
      keyExpiry:
        device.keyExpiryDisabled || !device.keyExpiry ? null : device.keyExpiry.toISOString(),
      approved: device.approved,
      network: { id: network.id, name: network.name, domain: network.domain },
    };
  });

  /** The device logs itself out: its key expires now and its credential stops working. */
  app.post('/v1/device/logout', async (req, reply) => {
    const m = /^Bearer (\S{16,512})$/.exec(req.headers.authorization ?? '');
    const device = m?.[1] ? await ctx.store.devices.findByCredentialHash(hashToken(m[1])) : null;
    if (!device) throw unauthorized();
    if (device.ephemeral) await ctx.store.devices.delete(device.id);
    else {
      await ctx.store.devices.setKeyExpiryDisabled(device.id, false);
      // Audited as device.logged_out below, not again by the expiry sweep.
      await ctx.store.devices.setKeyExpiry(device.id, new Date(ctx.now()), { noted: true });
      await ctx.store.devices.rotateCredential(device.id);
    }
    await ctx.audit({
      networkId: device.networkId,
      actor: { type: 'device', id: device.id },
      action: 'device.logged_out',
      target: { type: 'device', id: device.id },
    });
    ctx.hub.removeDevice(device.id, 'logged-out');
    if (!device.ephemeral) await refreshDevice(ctx.store, ctx.hub, device.id);
    return reply.status(204).send();
  });
}

async function resolveOwner(tx: StoreTx, auth: RegisterRequest['auth']): Promise<Owner> {
  if (auth.type === 'session') {
    const found = await tx.userSessions.findActive(hashToken(auth.token));
    if (!found) throw unauthorized();
    return {
      networkId: found.user.networkId,
      userId: found.user.id,
      tags: [],
      ephemeral: false,
      preapproved: false,
      preauthKeyId: null,
      actor: { type: 'user', id: found.user.id },
    };
  }
  const consumed = await tx.preauthKeys.consume(hashToken(auth.key));
  if (!consumed.ok) throw unauthorized();
  const k = consumed.value;
  const userId = k.tags.length ? null : k.createdBy;
  if (!userId && !k.tags.length) throw unauthorized();
  return {
    networkId: k.networkId,
    userId,
    tags: k.tags,
    ephemeral: k.ephemeral,
    preapproved: k.preapproved,
    preauthKeyId: k.id,
    actor: { type: 'user', id: k.createdBy },
  };
}

function sameOwner(d: Device, o: Owner): boolean {
  return (
    d.networkId === o.networkId && (o.userId !== null ? d.userId === o.userId : d.userId === null)
  );
}

function assertSameOwner(d: Device, o: Owner): void {
  if (!sameOwner(d, o)) throw new ApiError('conflict', 'node key already registered');
}
