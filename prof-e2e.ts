import { Host } from './src/index.js';
import { IntxPassthroughVmm } from './examples/intx-passthrough.js';
const host = Host.create();
const vmm = new IntxPassthroughVmm(host, 'resample');
for (let r = 0; r < 8; r++) {
  vmm.load(IntxPassthroughVmm.driver(200_000));
  const t0 = performance.now();
  vmm.runUntilIdle();
  const ms = performance.now() - t0;
  console.log(((200_000 / ms) * 1000 / 1e6).toFixed(3), 'M cycles/s');
}
