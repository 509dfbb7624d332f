// Stress: well past the knee and held there. RATE (3x capacity: 120), DURATION (2m).
import { call, num } from './lib.js';

export const options = {
  scenarios: {
    stress: {
      executor: 'ramping-arrival-rate',
      startRate: num('RATE', 120) / 4,
      timeUnit: '1s',
      preAllocatedVUs: 100,
      maxVUs: num('MAX_VUS', 800),
      stages: [
        { target: num('RATE', 120), duration: '20s' },
        { target: num('RATE', 120), duration: __ENV.DURATION || '2m' },
      ],
    },
  },
};

export default function () {
  call();
}
