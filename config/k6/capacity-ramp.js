// Capacity ramp: open-loop arrival rate rising steadily past capacity; when k6 ends, keep
// watching to see the backlog drain. START_RATE (5), MAX_RATE (80), RAMP (150s), MAX_VUS (400).
import { call, num, pause } from './lib.js';

export const options = {
  scenarios: {
    ramp: {
      executor: 'ramping-arrival-rate',
      startRate: num('START_RATE', 5),
      timeUnit: '1s',
      preAllocatedVUs: 50,
      maxVUs: num('MAX_VUS', 400),
      stages: [{ target: num('MAX_RATE', 80), duration: __ENV.RAMP || '150s' }],
    },
  },
};

export default function () {
  call();
  pause();
}
