// Burst: a steady base, a short spike past capacity, then back to base while the backlog
// drains. BASE (10), PEAK (100), SPIKE (15s), SETTLE (60s).
import { call, num, pause } from './lib.js';

export const options = {
  scenarios: {
    burst: {
      executor: 'ramping-arrival-rate',
      startRate: num('BASE', 10),
      timeUnit: '1s',
      preAllocatedVUs: 50,
      maxVUs: num('MAX_VUS', 600),
      stages: [
        { target: num('BASE', 10), duration: '20s' },
        { target: num('PEAK', 100), duration: '1s' },
        { target: num('PEAK', 100), duration: __ENV.SPIKE || '15s' },
        { target: num('BASE', 10), duration: '1s' },
        { target: num('BASE', 10), duration: __ENV.SETTLE || '60s' },
      ],
    },
  },
};

export default function () {
  call();
  pause();
}
