import type { Clock } from '../../src/services/clock.js';

/** A clock tests move by hand. */
export class ManualClock implements Clock {
  constructor(private at = Date.UTC(2026, 0, 15, 12, 0, 0)) {}
  now(): number {
    return this.at;
  }
  advance(ms: number): void {
    this.at += ms;
  }
}

export const DAY = 86_400_000;
