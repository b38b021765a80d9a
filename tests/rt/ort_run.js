// ort_run.js — runs an ONNX model of the LaMa-ONNX contract in onnxruntime-node (CPU), for
// tests/check_onnx.c. Usage:
//   node tests/rt/ort_run.js MODEL IMAGE.f32 MASK.f32 B S OUT.f32
// IMAGE.f32 / MASK.f32: raw little-endian float32 of shapes [B,3,S,S] / [B,1,S,S];
// OUT.f32 receives `output` [B,3,S,S] the same way. Prints "ort: session ... ms, run ... ms".
// onnxruntime-node is looked up in .rt/ (scripts/setup-deps.sh installs it there), then in
// the usual node paths. Exit status 3 means the runtime is not installed. Threads:
// $LAMAC_RT_THREADS (default 1).
'use strict';
const fs = require('fs');
const path = require('path');

let ort;
for (const p of [path.join(__dirname, '..', '..', '.rt', 'node_modules', 'onnxruntime-node'), 'onnxruntime-node']) {
  try { ort = require(p); break; } catch (e) { /* next */ }
}
if (!ort) { console.error('ort_run: onnxruntime-node not found (scripts/setup-deps.sh installs it into .rt/)'); process.exit(3); }

function readF32(file, n) {
  const b = fs.readFileSync(file);
  if (b.length !== 4 * n) throw new Error(`${file}: ${b.length} bytes, expected ${4 * n}`);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = b.readFloatLE(4 * i);
  return a;
}

async function main() {
  const [model, img, msk, bs, ss, out] = process.argv.slice(2);
  if (!out) { console.error('usage: ort_run.js MODEL IMAGE.f32 MASK.f32 B S OUT.f32'); process.exit(2); }
  const B = parseInt(bs, 10), S = parseInt(ss, 10);
  const opts = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', logSeverityLevel: 3 };
  const t0 = process.hrtime.bigint();
  const sess = await ort.InferenceSession.create(model, opts);
  const t1 = process.hrtime.bigint();
  const feeds = {
    image: new ort.Tensor('float32', readF32(img, B * 3 * S * S), [B, 3, S, S]),
    mask: new ort.Tensor('float32', readF32(msk, B * S * S), [B, 1, S, S]),
  };
  const r = await sess.run(feeds);
  const t2 = process.hrtime.bigint();
  const o = r.output;
  if (!o || o.dims.join(',') !== [B, 3, S, S].join(',')) throw new Error(`output dims ${o ? o.dims : 'missing'}`);
  const buf = Buffer.alloc(4 * o.data.length);
  for (let i = 0; i < o.data.length; i++) buf.writeFloatLE(o.data[i], 4 * i);
  fs.writeFileSync(out, buf);
  console.log(`ort: session ${(Number(t1 - t0) / 1e6).toFixed(1)} ms, run ${(Number(t2 - t1) / 1e6).toFixed(1)} ms (onnxruntime-node ${ort.env.versions ? ort.env.versions.common : '?'})`);
}
main().catch((e) => { console.error('ort_run: ' + (e && e.message ? e.message : e)); process.exit(1); });
