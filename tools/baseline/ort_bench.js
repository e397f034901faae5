#!/usr/bin/env node
// ONNX Runtime (CPU) latency benchmark for a DistilBERT classifier exported by
// export_onnx.py; the baseline distilbert-go is measured against. See README.md.
//
//   node ort_bench.js --onnx model.onnx [--model DIR] --seq 16,64,128 --batch 1,8
//                     --threads 1,2 [--warmup 3] [--iters N | --min-time 2s [--min-iters 5]]
//                     [--no-spin] [--json] [--quantization int8]
//   node ort_bench.js --onnx model.onnx --check [--golden FILE.jsonl] [--n 2] [--tol 1e-4]
//
// Input (the engine's `distilbert bench` must use exactly the same): a
// batch × seq int64 input_ids tensor, row r (0-based), position i (0-based):
//   i == 0        -> 101 ([CLS])
//   i == seq - 1  -> 102 ([SEP])
//   otherwise     -> 1000 + ((i*7919 + r*31) % 20000)
// and attention_mask all 1 (no padding).
//
// --quantization only labels the rows (field "quantization", default "none"):
// an int8 model is a different --onnx file (quantize_onnx.py writes it).
//
// FLOPs per sequence = 2 * MACs, counting the linear layers, Q·Kᵀ and P·V,
// and the head (embeddings, LayerNorm, softmax, GELU left out), exactly as
// cmd/distilbert bench does (modelMACs):
//   MACs = n_layers * (seq * (4*dim^2 + 2*dim*hidden) + 2 * seq^2 * dim)
//          + dim^2 + dim * labels
// gflops = batch * 2 * MACs / p50 seconds / 1e9. p50/p90 are
// sorted[floor(p * (n-1))] of the n per-run wall times, as in the engine.
'use strict';

const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function parseArgs(argv) {
  const a = {
    onnx: '', model: '', seq: '16,64,128', batch: '1,8', threads: '1', warmup: 3, iters: 0,
    minTime: 2, minIters: 5, spin: true, json: false, check: false, n: 2, tol: 0, quantization: 'none',
    golden: path.join(__dirname, '..', '..', 'testdata', 'golden', 'sst2-mini-dev.jsonl'),
  };
  for (let i = 0; i < argv.length; i++) {
    let [k, v] = argv[i].split(/=(.*)/s);
    const val = () => (v !== undefined ? v : argv[++i]);
    switch (k) {
      case '--onnx': a.onnx = val(); break;
      case '--model': a.model = val(); break;
      case '--seq': a.seq = val(); break;
      case '--batch': a.batch = val(); break;
      case '--threads': a.threads = val(); break;
      case '--warmup': a.warmup = +val(); break;
      case '--iters': a.iters = +val(); break;
      case '--min-time': a.minTime = parseDuration(val()); break;
      case '--min-iters': a.minIters = +val(); break;
      case '--json': a.json = true; break;
      case '--quantization': a.quantization = val(); break;
      case '--no-spin': a.spin = false; break;
      case '--check': a.check = true; break;
      case '--golden': a.golden = val(); break;
      case '--n': a.n = +val(); break;
      case '--tol': a.tol = +val(); break;
      case '-h': case '--help':
        console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(1).filter((l, i, all) => all.slice(0, i + 1).every((x) => x.startsWith('//'))).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
        process.exit(0);
      default: fail(`unknown argument ${argv[i]}`);
    }
  }
  if (!a.onnx) fail('--onnx is required');
  if (!a.model) a.model = path.dirname(a.onnx);
  return a;
}

function parseDuration(s) {
  const m = /^([0-9.]+)(ms|s)?$/.exec(s);
  if (!m) fail(`bad duration ${s}`);
  return m[2] === 'ms' ? +m[1] / 1000 : +m[1];
}

function fail(msg) {
  console.error(`ort_bench: ${msg}`);
  process.exit(2);
}

const ints = (s) => String(s).split(',').filter(Boolean).map((x) => {
  const n = Number(x);
  if (!Number.isInteger(n) || n <= 0) fail(`bad number ${x}`);
  return n;
});

// benchIDs is the shared deterministic input pattern (see the header comment).
function benchIDs(batch, seq) {
  const ids = new BigInt64Array(batch * seq);
  for (let r = 0; r < batch; r++) {
    for (let i = 0; i < seq; i++) {
      let id = 1000 + ((i * 7919 + r * 31) % 20000);
      if (i === 0) id = 101;
      else if (i === seq - 1) id = 102;
      ids[r * seq + i] = BigInt(id);
    }
  }
  return ids;
}

function feeds(ids, mask, batch, seq) {
  return {
    input_ids: new ort.Tensor('int64', ids, [batch, seq]),
    attention_mask: new ort.Tensor('int64', mask, [batch, seq]),
  };
}

// session uses ORT's defaults except for the thread counts, full graph
// optimization and sequential execution. --no-spin stops the intra-op
// workers from busy-waiting between ops (ORT spins by default).
async function session(onnx, threads, spin = true) {
  const opts = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  };
  if (!spin) opts.extra = { session: { intra_op: { allow_spinning: '0' } } };
  return ort.InferenceSession.create(onnx, opts);
}

function flopsPerSeq(cfg, seq) {
  const d = cfg.dim, h = cfg.hidden_dim, L = cfg.n_layers;
  const labels = Object.keys(cfg.id2label || { 0: 0, 1: 1 }).length;
  return 2 * (L * (seq * (4 * d * d + 2 * d * h) + 2 * seq * seq * d) + d * d + d * labels);
}

const pct = (sorted, p) => sorted[Math.floor(p * (sorted.length - 1))];

async function bench(a) {
  const cfg = JSON.parse(fs.readFileSync(path.join(a.model, 'config.json'), 'utf8'));
  const rows = [];
  for (const threads of ints(a.threads)) {
    const sess = await session(a.onnx, threads, a.spin);
    for (const batch of ints(a.batch)) {
      for (const seq of ints(a.seq)) {
        if (seq < 2 || seq > cfg.max_position_embeddings) fail(`seq ${seq} out of range 2..${cfg.max_position_embeddings}`);
        const f = feeds(benchIDs(batch, seq), new BigInt64Array(batch * seq).fill(1n), batch, seq);
        for (let i = 0; i < a.warmup; i++) await sess.run(f);
        const times = [];
        const start = process.hrtime.bigint();
        for (;;) {
          const t0 = process.hrtime.bigint();
          await sess.run(f);
          const t1 = process.hrtime.bigint();
          times.push(Number(t1 - t0) / 1e6);
          if (a.iters > 0 ? times.length >= a.iters
            : times.length >= a.minIters && Number(t1 - start) / 1e9 >= a.minTime) break;
        }
        times.sort((x, y) => x - y);
        const p50 = pct(times, 0.5), p90 = pct(times, 0.9);
        const row = {
          batch, seq, threads, kernels: 'onnxruntime', quantization: a.quantization,
          p50_ms: +p50.toFixed(3), p90_ms: +p90.toFixed(3),
          seqs_per_s: +(batch / (p50 / 1e3)).toFixed(2),
          gflops: +(batch * flopsPerSeq(cfg, seq) / (p50 / 1e3) / 1e9).toFixed(2),
          iters: times.length,
        };
        rows.push(row);
        if (a.json) console.log(JSON.stringify(row));
        else console.log(`batch ${batch}\tseq ${seq}\tthreads ${threads}\tp50 ${row.p50_ms} ms\tp90 ${row.p90_ms} ms\t${row.seqs_per_s} seq/s\t${row.gflops} GFLOP/s\t(${row.iters} runs)`);
      }
    }
    if (sess.release) await sess.release();
  }
  return rows;
}

// check prints the logits for the first n golden lines' input_ids, each run
// alone and all together as one right-padded batch, with the differences to
// the golden logits (meaningful only for the model the goldens come from).
async function check(a) {
  const lines = fs.readFileSync(a.golden, 'utf8').split('\n').filter(Boolean).slice(0, a.n).map((l) => JSON.parse(l));
  const sess = await session(a.onnx, 1);
  const run = async (seqs) => {
    const seq = Math.max(...seqs.map((s) => s.length));
    const ids = new BigInt64Array(seqs.length * seq), mask = new BigInt64Array(seqs.length * seq);
    seqs.forEach((s, r) => s.forEach((id, i) => { ids[r * seq + i] = BigInt(id); mask[r * seq + i] = 1n; }));
    const out = (await sess.run(feeds(ids, mask, seqs.length, seq))).logits;
    const nl = out.dims[1];
    return seqs.map((_, r) => Array.from(out.data.slice(r * nl, (r + 1) * nl)));
  };
  const maxDiff = (x, y) => Math.max(...x.map((v, i) => Math.abs(v - y[i])));
  const batched = await run(lines.map((g) => g.input_ids));
  let worst = 0, worstBatch = 0;
  for (const [r, g] of lines.entries()) {
    const [logits] = await run([g.input_ids]);
    const d = maxDiff(logits, g.logits);
    worst = Math.max(worst, d);
    worstBatch = Math.max(worstBatch, maxDiff(batched[r], logits));
    console.log(JSON.stringify({ idx: g.idx, text: g.text, input_ids: g.input_ids, logits, golden_logits: g.logits, max_abs_diff: d }));
  }
  console.error(`ort vs golden: ${lines.length} sequences, max abs logit diff ${worst.toPrecision(3)}; padded batch vs single ${worstBatch.toPrecision(3)}`);
  if (a.tol > 0 && (worst > a.tol || worstBatch > a.tol)) process.exit(1);
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (a.check) await check(a);
  else await bench(a);
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
