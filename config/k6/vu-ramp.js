// Closed-loop VU ramp: virtual users keep rising while throughput decouples from them (each
// VU waits for its answer, so past capacity more VUs only add waiting). MAX_VUS (120),
// RAMP (150s), THINK seconds between requests (0.5).
import { sleep } from 'k6';
import { call, num } from './lib.js';

export const options = {
  scenarios: {
    vus: {
      executor: 'ramping-vus',
      startVUs: 1,
      stages: [
        { target: num('MAX_VUS', 120), duration: __ENV.RAMP || '150s' },
        { target: 0, duration: '10s' },
      ],
      gracefulRampDown: '5s',
    },
  },
};

export default function () {
  call();
  sleep(num('THINK', 0.5));
}
