// Worker-count sweep: one fixed-rate step per worker count, for the scaling curve. Run it once
// per worker count (restart the pipeline with --consumers N between runs) with the same RATE,
// tagging each run: k6 run -e WORKERS=4 worker-sweep.js. RATE (60), STEP (60s).
import { call, num } from './lib.js';

export const options = {
  tags: { workers: __ENV.WORKERS || 'unknown' },
  scenarios: {
    sweep: {
      executor: 'constant-arrival-rate',
      rate: num('RATE', 60),
      timeUnit: '1s',
      duration: __ENV.STEP || '60s',
      preAllocatedVUs: 50,
      maxVUs: num('MAX_VUS', 600),
    },
  },
};

export default function () {
  call();
}
