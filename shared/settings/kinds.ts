// Value kinds of the settings table: how a raw value (a flag's string or a config file's JS value)
// is parsed, validated and printed. Used by the appd master (config) and by appctl (display).

import { parseBindAddress, type BindAddress } from '../bind-address.js';
import { jsonAccessLogFields } from '../access-log-json.js';
import { InvalidTrustedProxy, normaliseTrustedProxies } from '../trusted-proxies.js';
import { parseSlotTemplate } from '../slot-address.js';

/** Thrown by a kind's parser; the resolver adds the setting's name and the value's source. */
export class InvalidValue extends Error {}

export interface ValueKind<T> {
  /** Placeholder shown in --help and the man page: INT, SECONDS, ADDRESS ... */
  readonly meta: string;
  /** Whether a flag of this kind takes no argument (booleans). */
  readonly isFlag?: boolean;
  /** Whether the flag may repeat; each occurrence adds one item. */
  readonly repeatable?: boolean;
  parse(raw: unknown): T;
  format(value: T): string;
}

function describeRaw(raw: unknown): string {
  if (typeof raw === 'string') return JSON.stringify(raw);
  if (typeof raw === 'function') return 'a function';
  if (Array.isArray(raw)) return 'a list';
  if (raw === null) return 'null';
  return typeof raw === 'object' ? 'an object' : String(raw);
}

function integerIn(minimum: number, maximum: number, meta = 'INT'): ValueKind<number> {
  return {
    meta,
    parse(raw) {
      const value = typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof value !== 'number' || !Number.isInteger(value)) {
        throw new InvalidValue(`expected an integer from ${minimum} to ${maximum}, got ${describeRaw(raw)}`);
      }
      if (value < minimum || value > maximum) {
        throw new InvalidValue(`expected an integer from ${minimum} to ${maximum}, got ${value}`);
      }
      return value;
    },
    format: (value) => String(value),
  };
}

export const kinds = {
  integer: integerIn,

  /** Worker count: a positive integer, or "auto" for one per CPU. */
  workerCount: {
    meta: 'INT|auto',
    parse(raw: unknown): number | 'auto' {
      if (raw === 'auto') return 'auto';
      const value = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 4096) return value;
      throw new InvalidValue(`expected a number of workers (0 to 4096) or "auto", got ${describeRaw(raw)}`);
    },
    format: (value: number | 'auto') => String(value),
  } satisfies ValueKind<number | 'auto'>,

  /** A duration in seconds: 30, 2.5, "500ms", "2m". Zero means "off" where the doc says so. */
  seconds: {
    meta: 'SECONDS',
    parse(raw: unknown): number {
      if (typeof raw === 'number' && Number.isFinite(raw) && raw >= 0) return raw;
      if (typeof raw === 'string') {
        const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(raw);
        if (match) {
          const unitSeconds = { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2] ?? 's'] ?? 1;
          return Number(match[1]) * unitSeconds;
        }
      }
      throw new InvalidValue(`expected seconds (e.g. 30, 2.5, "500ms", "2m"), got ${describeRaw(raw)}`);
    },
    format: (value: number) => String(value),
  } satisfies ValueKind<number>,

  /** A size in bytes: 536870912, "512M", "1G", "64K". Zero means "off". */
  bytes: {
    meta: 'BYTES',
    parse(raw: unknown): number {
      if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0) return raw;
      if (typeof raw === 'string') {
        const match = /^\s*(\d+(?:\.\d+)?)\s*([KMG]i?B?|B)?\s*$/i.exec(raw);
        if (match) {
          const unit = (match[2] ?? 'B').toUpperCase()[0] ?? 'B';
          const multiplier = { B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[unit] ?? 1;
          return Math.round(Number(match[1]) * multiplier);
        }
      }
      throw new InvalidValue(`expected a size (e.g. 536870912, "512M", "1G"), got ${describeRaw(raw)}`);
    },
    format(value: number): string {
      if (value > 0 && value % 1024 ** 3 === 0) return `${value / 1024 ** 3}G`;
      if (value > 0 && value % 1024 ** 2 === 0) return `${value / 1024 ** 2}M`;
      return String(value);
    },
  } satisfies ValueKind<number>,

  boolean: {
    meta: 'BOOL',
    isFlag: true,
    parse(raw: unknown): boolean {
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === '1' || raw === 'yes') return true;
      if (raw === 'false' || raw === '0' || raw === 'no') return false;
      throw new InvalidValue(`expected true or false, got ${describeRaw(raw)}`);
    },
    format: (value: boolean) => String(value),
  } satisfies ValueKind<boolean>,

  string: {
    meta: 'STRING',
    parse(raw: unknown): string {
      if (typeof raw === 'string') return raw;
      throw new InvalidValue(`expected a string, got ${describeRaw(raw)}`);
    },
    format: (value: string) => value,
  } satisfies ValueKind<string>,

  optionalString: {
    meta: 'STRING',
    parse(raw: unknown): string | null {
      if (raw === null || raw === undefined || raw === '') return null;
      if (typeof raw === 'string') return raw;
      throw new InvalidValue(`expected a string, got ${describeRaw(raw)}`);
    },
    format: (value: string | null) => value ?? '(none)',
  } satisfies ValueKind<string | null>,

  path: {
    meta: 'PATH',
    parse(raw: unknown): string | null {
      if (raw === null || raw === undefined || raw === '') return null;
      if (typeof raw === 'string') return raw;
      throw new InvalidValue(`expected a file path, got ${describeRaw(raw)}`);
    },
    format: (value: string | null) => value ?? '(none)',
  } satisfies ValueKind<string | null>,

  /** A name used in titles, socket paths and logs: letters, digits, dot, dash, underscore. */
  name: {
    meta: 'NAME',
    parse(raw: unknown): string {
      if (typeof raw === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(raw)) return raw;
      throw new InvalidValue(`expected 1-64 letters, digits, ".", "-" or "_" (starting with a letter or digit), got ${describeRaw(raw)}`);
    },
    format: (value: string) => value,
  } satisfies ValueKind<string>,

  /** An octal file mode: 0o660, "660", "0660". */
  octalMode: {
    meta: 'MODE',
    parse(raw: unknown): number {
      if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0 && raw <= 0o7777) return raw;
      if (typeof raw === 'string' && /^(0o?)?[0-7]{1,4}$/.test(raw)) return parseInt(raw.replace(/^0o/, ''), 8);
      throw new InvalidValue(`expected an octal mode such as 0660, got ${describeRaw(raw)}`);
    },
    format: (value: number) => `0${value.toString(8)}`,
  } satisfies ValueKind<number>,

  enumOf<const Choice extends string>(choices: readonly Choice[]): ValueKind<Choice> {
    return {
      meta: choices.join('|'),
      parse(raw) {
        if (typeof raw === 'string' && (choices as readonly string[]).includes(raw)) return raw as Choice;
        throw new InvalidValue(`expected one of ${choices.join(', ')}, got ${describeRaw(raw)}`);
      },
      format: (value) => value,
    };
  },

  /** Which listen() calls of a script are adopted: "any", "env" (port $PORT) or one port number. */
  adoptListen: {
    meta: 'any|env|PORT',
    parse(raw: unknown): AdoptListen {
      if (raw === 'any' || raw === 'env') return raw;
      const port = typeof raw === 'string' && /^\d+$/.test(raw.trim()) ? Number(raw) : raw;
      if (typeof port === 'number' && Number.isInteger(port) && port >= 1 && port <= 65535) return port;
      throw new InvalidValue(`expected "any", "env" or a port number from 1 to 65535, got ${describeRaw(raw)}`);
    },
    format: (value: AdoptListen) => String(value),
  } satisfies ValueKind<AdoptListen>,

  /** Trusted proxies: addresses and CIDR ranges, comma separated (or a list in a config file); "*" for all. */
  trustedProxies: {
    meta: 'ADDRESSES',
    parse(raw: unknown): string {
      const items = Array.isArray(raw) ? raw : [raw];
      if (!items.every((item) => typeof item === 'string'))
        throw new InvalidValue(`expected addresses and CIDR ranges, comma separated, got ${describeRaw(raw)}`);
      try {
        return normaliseTrustedProxies(items.join(','));
      } catch (error) {
        if (error instanceof InvalidTrustedProxy) throw new InvalidValue(error.message);
        throw error;
      }
    },
    format: (value: string) => (value === '' ? '(none)' : value),
  } satisfies ValueKind<string>,

  /** PROXY protocol: "off", a version for every bind ("v1", "v2", "auto"), and/or the binds that require it. */
  proxyProtocol: {
    meta: 'off|v1|v2|auto|ADDRESS',
    repeatable: true,
    parse(raw: unknown): ProxyProtocolSetting {
      if (raw === true) return { versions: 'auto', binds: [] };
      if (raw === false || raw === null || raw === undefined) return { versions: 'off', binds: [] };
      const items = Array.isArray(raw) ? raw : [raw];
      const versions: string[] = [];
      const binds: string[] = [];
      for (const item of items) {
        if (typeof item !== 'string') throw new InvalidValue(`expected off, v1, v2, auto or a bind address, got ${describeRaw(item)}`);
        if (['off', 'v1', 'v2', 'auto'].includes(item.trim())) {
          versions.push(item.trim());
          continue;
        }
        try {
          binds.push(parseBindAddress(item).text);
        } catch (error) {
          throw new InvalidValue(
            `${JSON.stringify(item)} is neither off, v1, v2, auto nor a bind address (${error instanceof Error ? error.message : String(error)})`,
          );
        }
      }
      if (new Set(versions).size > 1) throw new InvalidValue(`give one of off, v1, v2, auto (got ${versions.join(' and ')})`);
      const version = versions[0] ?? 'auto';
      if (version === 'off' && binds.length > 0)
        throw new InvalidValue(`off and bind addresses (${binds.join(', ')}) contradict each other`);
      return { versions: version as ProxyProtocolSetting['versions'], binds };
    },
    format: (value: ProxyProtocolSetting) => (value.binds.length === 0 ? value.versions : `${value.versions} on ${value.binds.join(', ')}`),
  } satisfies ValueKind<ProxyProtocolSetting>,

  /** Listen addresses; a flag adds one, a config file gives a list (or one string). */
  bindList: {
    meta: 'ADDRESS',
    repeatable: true,
    parse(raw: unknown): BindAddress[] {
      const items = Array.isArray(raw) ? raw : [raw];
      return items.map((item) => {
        if (typeof item !== 'string') throw new InvalidValue(`expected an address string, got ${describeRaw(item)}`);
        try {
          return parseBindAddress(item);
        } catch (error) {
          throw new InvalidValue(error instanceof Error ? error.message : String(error));
        }
      });
    },
    format: (value: BindAddress[]) => value.map((address) => address.text).join(', '),
  } satisfies ValueKind<BindAddress[]>,

  /** One TCP or unix address, or none: the admin listener (--metrics-bind). */
  optionalListenAddress: {
    meta: 'ADDRESS',
    parse(raw: unknown): BindAddress | null {
      if (raw === null || raw === undefined || raw === '') return null;
      if (typeof raw !== 'string') throw new InvalidValue(`expected an address string, got ${describeRaw(raw)}`);
      let address: BindAddress;
      try {
        address = parseBindAddress(raw);
      } catch (error) {
        throw new InvalidValue(error instanceof Error ? error.message : String(error));
      }
      if (address.kind !== 'tcp' && address.kind !== 'unix')
        throw new InvalidValue(
          `expected HOST:PORT or unix:PATH, got ${JSON.stringify(raw)} (inherited descriptors are for the app's sockets)`,
        );
      return address;
    },
    format: (value: BindAddress | null) => value?.text ?? '(none)',
  } satisfies ValueKind<BindAddress | null>,

  /** access-log-format: Gunicorn's atoms, "json", or a JSON object of atom templates (checked here, not in each worker). */
  accessLogFormat: {
    meta: 'FORMAT',
    parse(raw: unknown): string {
      if (typeof raw !== 'string') throw new InvalidValue(`expected a format string, got ${describeRaw(raw)}`);
      try {
        jsonAccessLogFields(raw);
      } catch (error) {
        throw new InvalidValue(error instanceof Error ? error.message : String(error));
      }
      return raw;
    },
    format: (value: string) => value,
  } satisfies ValueKind<string>,

  /** slot-bind templates: unix:PATH with {slot}, or IP:PORT (slot N on PORT + N). */
  slotBindList: {
    meta: 'ADDRESS',
    repeatable: true,
    parse(raw: unknown): BindAddress[] {
      if (raw === null || raw === undefined) return [];
      const items = Array.isArray(raw) ? raw : [raw];
      return items.map((item) => {
        if (typeof item !== 'string') throw new InvalidValue(`expected an address string, got ${describeRaw(item)}`);
        try {
          return parseSlotTemplate(item);
        } catch (error) {
          throw new InvalidValue(error instanceof Error ? error.message : String(error));
        }
      });
    },
    format: (value: BindAddress[]) => (value.length === 0 ? '(none)' : value.map((address) => address.text).join(', ')),
  } satisfies ValueKind<BindAddress[]>,

  /** A list of strings (node arguments, watched paths). */
  stringList: {
    meta: 'STRING',
    repeatable: true,
    parse(raw: unknown): string[] {
      const items = Array.isArray(raw) ? raw : [raw];
      for (const item of items) {
        if (typeof item !== 'string') throw new InvalidValue(`expected a list of strings, got ${describeRaw(item)}`);
      }
      return items as string[];
    },
    format: (value: string[]) => (value.length === 0 ? '(none)' : value.join(' ')),
  } satisfies ValueKind<string[]>,

  /** Environment variables: "KEY=VALUE" per flag, or an object in a config file. */
  environment: {
    meta: 'KEY=VALUE',
    repeatable: true,
    parse(raw: unknown): Record<string, string> {
      const result: Record<string, string> = {};
      const add = (key: string, value: unknown): void => {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new InvalidValue(`invalid variable name ${JSON.stringify(key)}`);
        if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
          throw new InvalidValue(`value of ${key} must be a string, got ${describeRaw(value)}`);
        }
        result[key] = String(value);
      };
      const items = Array.isArray(raw) ? raw : [raw];
      for (const item of items) {
        if (typeof item === 'string') {
          const equals = item.indexOf('=');
          if (equals <= 0) throw new InvalidValue(`expected KEY=VALUE, got ${JSON.stringify(item)}`);
          add(item.slice(0, equals), item.slice(equals + 1));
        } else if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
          for (const [key, value] of Object.entries(item)) add(key, value);
        } else {
          throw new InvalidValue(`expected KEY=VALUE strings or an object, got ${describeRaw(item)}`);
        }
      }
      return result;
    },
    format: (value: Record<string, string>) =>
      Object.keys(value).length === 0
        ? '(none)'
        : Object.entries(value)
            .map(([key, item]) => `${key}=${item}`)
            .join(' '),
  } satisfies ValueKind<Record<string, string>>,

  /** A hook function, only from a JS config file. */
  hook: {
    meta: 'FUNCTION',
    parse(raw: unknown): HookFunction | null {
      if (raw === null || raw === undefined) return null;
      if (typeof raw === 'function') return raw as HookFunction;
      throw new InvalidValue(`expected a function, got ${describeRaw(raw)}`);
    },
    format: (value: HookFunction | null) => (value ? `[function ${value.name || 'anonymous'}]` : '(none)'),
  } satisfies ValueKind<HookFunction | null>,
} as const;

/**
 * Which binds require a PROXY protocol header, and of which version: versions "off" requires none;
 * otherwise every bind of the pool when `binds` is empty, else only the binds listed (by their text).
 */
export interface ProxyProtocolSetting {
  readonly versions: 'off' | 'v1' | 'v2' | 'auto';
  readonly binds: readonly string[];
}

/** Which listen() calls of a script the worker adopts (see the adopt-listen setting). */
export type AdoptListen = 'any' | 'env' | number;

/** Hooks receive plain data describing the event; their return value (or promise) is awaited. */
export type HookFunction = (...args: unknown[]) => unknown;
