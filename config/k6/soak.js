// Soak: a steady rate for a long time to show drift (p95 creep, memory, leaks).
// RATE (20), DURATION (5m by default; hours in real use).
import { call, num } from './lib.js';

export const options = {
  scenarios: {
    soak: {
      executor: 'constant-arrival-rate',
      rate: num('RATE', 20),
      timeUnit: '1s',
      duration: __ENV.DURATION || '5m',
      preAllocatedVUs: 30,
      maxVUs: num('MAX_VUS', 300),
    },
  },
};

export default function () {
  call();
}
