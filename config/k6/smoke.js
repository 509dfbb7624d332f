// Smoke: a handful of requests to prove the path works. DURATION (10s), VUS (1).
import { check, sleep } from 'k6';
import { call, num } from './lib.js';

export const options = {
  vus: num('VUS', 1),
  duration: __ENV.DURATION || '10s',
  thresholds: { http_req_failed: ['rate<0.01'] },
};

export default function () {
  check(call(), { 'status 200/202': (r) => r.status === 200 || r.status === 202 });
  sleep(0.5);
}
