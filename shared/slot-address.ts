// slot-bind addresses: a template per pool that gives each worker slot its own socket. A unix path
// has {slot} replaced by the slot number; a TCP port is slot 0's and slot N listens on port + N.
// Used by the appd master (binding, matching sockets a previous master handed over) and by appctl.

import { parseBindAddress, type BindAddress } from './bind-address.js';
import { isIP } from 'node:net';

export const SLOT_PLACEHOLDER = '{slot}';

/** Validates a slot-bind template; throws with the reason (the settings table names the setting). */
export function parseSlotTemplate(text: string): BindAddress {
  const bind = parseBindAddress(text);
  if (bind.kind === 'unix') {
    if (!bind.path.includes(SLOT_PLACEHOLDER))
      throw new Error(
        `${text}: a unix slot-bind path needs ${SLOT_PLACEHOLDER} (one socket per slot), e.g. unix:/run/shop/web.{slot}.sock`,
      );
    return bind;
  }
  if (bind.kind !== 'tcp')
    throw new Error(`${text}: slot-bind takes HOST:PORT or unix:PATH with ${SLOT_PLACEHOLDER}, not an inherited descriptor`);
  if (bind.port === 0) throw new Error(`${text}: a TCP slot-bind needs slot 0's port (slot N listens on port + N), not 0`);
  // Slots are bound while the master runs (scale up), where a name lookup cannot be waited for.
  if (bind.host !== null && isIP(bind.host) === 0)
    throw new Error(`${text}: slot-bind takes an IP address, not a host name (e.g. 127.0.0.1:${bind.port})`);
  return bind;
}

/** The address slot `slot` listens on; null when port + slot would pass 65535. */
export function slotAddress(template: BindAddress, slot: number): BindAddress | null {
  if (template.kind === 'unix') {
    const path = template.path.split(SLOT_PLACEHOLDER).join(String(slot));
    return { kind: 'unix', text: `unix:${path}`, path };
  }
  if (template.kind !== 'tcp') return null;
  const port = template.port + slot;
  if (port > 65535) return null;
  const host = template.host;
  const text = host === null ? `:${port}` : host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return { kind: 'tcp', text, host, port };
}

/** Which slot of `template` an address text (as slotAddress writes it) belongs to, or null. */
export function slotOfAddress(template: BindAddress, text: string): number | null {
  if (template.kind === 'unix') {
    const [before = '', after = ''] = template.path.split(SLOT_PLACEHOLDER);
    const match =
      text.startsWith(`unix:${before}`) && text.endsWith(after) ? text.slice(`unix:${before}`.length, text.length - after.length) : null;
    if (match === null || !/^(?:0|[1-9]\d{0,5})$/.test(match)) return null;
    return slotAddress(template, Number(match))?.text === text ? Number(match) : null;
  }
  if (template.kind !== 'tcp') return null;
  const port = Number(/:(\d+)$/.exec(text)?.[1] ?? Number.NaN);
  const slot = port - template.port;
  return Number.isInteger(slot) && slot >= 0 && slotAddress(template, slot)?.text === text ? slot : null;
}
