// Baseline: a fixed, moderate open-loop rate (about 40% of capacity by default).
// RATE req/s (16), DURATION (2m), PRE_VUS (20), MAX_VUS (200).
import { call, num, pause } from './lib.js';

export const options = {
  scenarios: {
    baseline: {
      executor: 'constant-arrival-rate',
      rate: num('RATE', 16),
      timeUnit: '1s',
      duration: __ENV.DURATION || '2m',
      preAllocatedVUs: num('PRE_VUS', 20),
      maxVUs: num('MAX_VUS', 200),
    },
  },
};

export default function () {
  call();
  pause();
}
