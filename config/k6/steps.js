// Stepped load: the offered rate climbs in steps and holds each one, so the report can show a
// per-step table (latency percentiles, queue delay, errors at each level). STEPS is a comma-
// separated list of rates (default 10,20,30,40,50), HOLD how long each is held (20s), STEP_RISE
// how long each climb takes (2s), MAX_VUS (400).
import { call, num, pause } from './lib.js';

const levels = (__ENV.STEPS || '10,20,30,40,50')
  .split(',')
  .map((s) => Number(s.trim()))
  .filter((n) => n > 0);
const hold = __ENV.HOLD || '20s';
const rise = __ENV.STEP_RISE || '2s';
const stages = [];
for (const level of levels) {
  stages.push({ target: level, duration: rise });
  stages.push({ target: level, duration: hold });
}

export const options = {
  scenarios: {
    steps: {
      executor: 'ramping-arrival-rate',
      startRate: levels[0],
      timeUnit: '1s',
      preAllocatedVUs: 50,
      maxVUs: num('MAX_VUS', 400),
      stages: stages,
    },
  },
};

export default function () {
  call();
  pause();
}
