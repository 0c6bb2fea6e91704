import { RE2JS } from 're2js';

/**
 * Fault injection for fleet API paths (off by default): added latency, injected 500s, dropped connections,
 * limited to paths matching a regular expression and to some methods. A seed makes the dice repeatable.
 *
 * The path pattern comes from a client and runs on every request, so it is matched by RE2 (re2js), whose
 * time is linear in the path: `^/fleet/v1/units/(a+)+$` cannot hang the emulator as it would JavaScript's
 * backtracking RegExp. RE2 has no backreferences or lookaround; such patterns are refused.
 */
export interface FaultConfig {
  latencyMs?: number;
  errorRate?: number;
  dropRate?: number;
  path?: string;
  methods?: string[];
  seed?: number;
}

export type FaultDecision = { delayMs: number; action: 'pass' | 'error' | 'drop' };

const MAX_PATTERN_LENGTH = 1024;

export class FaultInjector {
  private config: FaultConfig = {};
  private pathPattern: RE2JS | null = null;
  private random: () => number = Math.random;

  /** Validates and installs a configuration; returns an error message for bad input. */
  set(input: unknown): string | null {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) return 'faults must be a JSON object';
    const raw = input as Record<string, unknown>;
    const known = ['latencyMs', 'errorRate', 'dropRate', 'path', 'methods', 'seed'];
    for (const key of Object.keys(raw)) if (!known.includes(key)) return `unknown field "${key}" (known: ${known.join(', ')})`;
    const config: FaultConfig = {};
    for (const key of ['latencyMs', 'errorRate', 'dropRate', 'seed'] as const) {
      const value = raw[key];
      if (value === undefined) continue;
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) return `${key} must be a non-negative number`;
      if ((key === 'errorRate' || key === 'dropRate') && value > 1) return `${key} must be between 0 and 1`;
      config[key] = value;
    }
    let pathPattern: RE2JS | null = null;
    if (raw.path !== undefined) {
      if (typeof raw.path !== 'string') return 'path must be a string (a regular expression)';
      if (raw.path.length > MAX_PATTERN_LENGTH) return `path is longer than ${MAX_PATTERN_LENGTH} characters`;
      try {
        pathPattern = RE2JS.compile(raw.path);
      } catch (err) {
        return `path is not a valid regular expression (RE2 syntax: no backreferences or lookaround): ${JSON.stringify(raw.path)}: ${(err as Error).message}`;
      }
      config.path = raw.path;
    }
    if (raw.methods !== undefined) {
      if (!Array.isArray(raw.methods) || raw.methods.some((m) => typeof m !== 'string')) return 'methods must be an array of strings';
      config.methods = (raw.methods as string[]).map((m) => m.toUpperCase());
    }
    this.config = config;
    this.pathPattern = pathPattern;
    this.random = config.seed !== undefined ? mulberry32(config.seed) : Math.random;
    return null;
  }

  clear(): void {
    this.config = {};
    this.pathPattern = null;
    this.random = Math.random;
  }

  current(): FaultConfig {
    return { ...this.config };
  }

  decide(method: string, path: string): FaultDecision {
    const c = this.config;
    if (this.pathPattern && !this.pathPattern.test(path)) return { delayMs: 0, action: 'pass' };
    if (c.methods && !c.methods.includes(method)) return { delayMs: 0, action: 'pass' };
    const delayMs = c.latencyMs ?? 0;
    if (c.dropRate && this.random() < c.dropRate) return { delayMs, action: 'drop' };
    if (c.errorRate && this.random() < c.errorRate) return { delayMs, action: 'error' };
    return { delayMs, action: 'pass' };
  }
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
